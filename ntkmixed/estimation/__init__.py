"""Pure estimators of (y, X, kernel matrices): no I/O, no printing, no globals."""

from .minque import minque0, minque1, minque1_one_step, solve_nonnegative
from .reml import reml
from .states import DenseProblem, SpectralProblem, make_problem
from .variance_fit import VarianceFit

ESTIMATORS = {"minque0": minque0, "minque1": minque1, "reml": reml, "minque1-one-step": minque1_one_step}

__all__ = [
    "ESTIMATORS", "VarianceFit", "minque0", "minque1", "minque1_one_step", "reml",
    "solve_nonnegative", "DenseProblem", "SpectralProblem", "make_problem",
]
