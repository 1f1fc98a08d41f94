"""Pure estimators of variance components and kernel ridge regression, on problems built
by an engine (:mod:`.engines`): no I/O, no printing, no globals.

    problem, choice = build_problem(y, X, [K])        # engine chosen and explained
    fit = ESTIMATORS["reml"](problem, constrain=True)  # every estimator takes FitOptions
"""

from .engines import ENGINES, DenseProblem, EngineChoice, SpectralProblem, build_problem, choose_engine, register_engine
from .minque import minque0, minque1, minque1_one_step, solve_nonnegative
from .operators import DenseOperator, FactorOperator, KernelOperator, as_operator
from .problem import FitOptions, Problem, State
from .reml import reml
from .variance_fit import VarianceFit

ESTIMATORS = {"minque0": minque0, "minque1": minque1, "reml": reml, "minque1-one-step": minque1_one_step}


def estimate(method: str, y, X, kernels: list, engine: str = "auto", **options) -> VarianceFit:
    """``ESTIMATORS[method]`` on the problem the engine builds from arrays (or operators).

    Parameters
    ----------
    method : {"minque0", "minque1", "reml", "minque1-one-step"}
        The estimator.
    y : numpy.ndarray
        The response.
    X : numpy.ndarray
        Fixed-effect design, n × k.
    kernels : list of numpy.ndarray or KernelOperator
        One per genetic component.
    engine : str, default "auto"
        An engine name or ``"auto"``.
    **options
        ``constrain``, ``tol``, ``max_iter`` (:class:`FitOptions`).

    Returns
    -------
    VarianceFit
    """
    problem, _ = build_problem(y, X, kernels, engine)
    return ESTIMATORS[method](problem, **options)


__all__ = [
    "ENGINES", "ESTIMATORS", "DenseOperator", "DenseProblem", "EngineChoice", "FactorOperator", "FitOptions",
    "KernelOperator",
    "Problem", "SpectralProblem", "State", "VarianceFit", "as_operator", "build_problem", "choose_engine",
    "estimate", "minque0", "minque1", "minque1_one_step", "register_engine", "reml", "solve_nonnegative",
]
