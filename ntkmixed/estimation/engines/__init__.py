"""Engines: how (y, X, kernel operators) become a problem the estimators can use.

Engines are looked up by name in :data:`ENGINES`; :func:`build_problem` chooses one
(``engine="auto"``) and says why. A new engine (low-rank, matrix-free, HODLR) is a class
with ``name``, ``unsuitable(operators, n)`` (why it cannot run these kernels, or None),
``auto_reason(operators, n)`` (why ``"auto"`` should pick it, or None) and
``build(y, X, operators)``, added with :func:`register_engine`; nothing above this
package changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...exceptions import NtkmixedError
from ..operators import KernelOperator, as_operator
from .dense import DenseProblem, DenseState
from .diagonal_low_rank import DiagonalLowRankEngine, DiagonalLowRankProblem
from .hodlr import HODLREngine, HODLRProblem
from .lowrank import LowRankEngine, LowRankProblem
from .matrix_free import MatrixFreeEngine, MatrixFreeProblem
from .spectral import SpectralProblem, SpectralState


@dataclass(frozen=True)
class EngineChoice:
    """The engine that fitted a model and why it was used."""

    name: str
    reason: str


class DenseEngine:
    """Kernels held as n×n matrices: one kernel by its eigendecomposition (spectral),
    several by a Cholesky factorisation of V per evaluation."""

    name = "dense"

    def unsuitable(self, operators: list[KernelOperator], n: int) -> str | None:
        lacking = [i for i, op in enumerate(operators) if not op.has_dense]
        if lacking:
            return f"kernel(s) {lacking} are not held as n×n matrices"
        return None

    def auto_reason(self, operators: list[KernelOperator], n: int) -> str | None:
        if self.unsuitable(operators, n) is not None:
            return None
        if len(operators) == 1:
            return f"one kernel held as an n×n matrix (n = {n}): one eigendecomposition serves the whole fit"
        return f"{len(operators)} kernels held as n×n matrices (n = {n}): one Cholesky factorisation per evaluation"

    def build(self, y: np.ndarray, X: np.ndarray, operators: list[KernelOperator]):
        if len(operators) == 1:
            return SpectralProblem(y, X, operators[0])
        return DenseProblem(y, X, operators)


#: engines by name, in the order ``engine="auto"`` considers them
ENGINES: dict[str, object] = {"dense": DenseEngine()}


def register_engine(engine, before: str | None = None) -> None:
    """Add (or replace) an engine; ``"auto"`` considers it just before the engine named
    ``before``, or last.

    Parameters
    ----------
    engine : object
        Has ``name``, ``unsuitable(operators, n)``, ``auto_reason(operators, n)`` and
        ``build(y, X, operators)`` (see the module docstring).
    before : str, optional
        Name of the engine that ``"auto"`` should consider after this one.
    """
    items = [(name, e) for name, e in ENGINES.items() if name != engine.name]
    position = next((i for i, (name, _) in enumerate(items) if name == before), len(items))
    items.insert(position, (engine.name, engine))
    ENGINES.clear()
    ENGINES.update(items)


register_engine(DiagonalLowRankEngine(), before="dense")
register_engine(LowRankEngine(), before="dense")
register_engine(HODLREngine())
#: the public name of the HODLR engine with options: ``fit(..., engine=HODLR(tol=1e-10))``
HODLR = HODLREngine
register_engine(MatrixFreeEngine(), before="dense")


def engine_names() -> tuple[str, ...]:
    return ("auto", *ENGINES)


def choose_engine(operators: list[KernelOperator], n: int, requested="auto", where: str = "fit") -> EngineChoice:
    """The engine for these kernels: the one requested (an error if it cannot run them),
    or for ``"auto"`` the first whose ``auto_reason`` applies.

    Parameters
    ----------
    operators : list of KernelOperator
        The kernels.
    n : int
        Number of rows.
    requested : str or engine object, default "auto"
        A registered engine name, ``"auto"``, or an engine object with its own options
        such as ``HODLREngine(tol=1e-10)``.
    where : str, default "fit"
        The calling function, for messages.

    Returns
    -------
    EngineChoice
        The engine's name and why it was chosen.
    """
    if not isinstance(requested, str):
        if not (hasattr(requested, "build") and hasattr(requested, "unsuitable") and hasattr(requested, "name")):
            choices = ", ".join(repr(name) for name in engine_names())
            raise NtkmixedError(f"The 'engine' parameter of {where} must be one of {{{choices}}} or an engine "
                                f"object. Got {requested!r} instead.")
        why_not = requested.unsuitable(operators, n)
        if why_not is not None:
            raise NtkmixedError(f"The {requested.name!r} engine of {where} cannot fit these kernels: {why_not}.")
        return EngineChoice(requested.name, "requested")
    if requested != "auto":
        if requested not in ENGINES:
            choices = ", ".join(repr(name) for name in engine_names())
            raise NtkmixedError(f"The 'engine' parameter of {where} must be one of {{{choices}}}. Got {requested!r} instead.")
        why_not = ENGINES[requested].unsuitable(operators, n)
        if why_not is not None:
            raise NtkmixedError(f"The {requested!r} engine of {where} cannot fit these kernels: {why_not}.")
        return EngineChoice(requested, "requested")
    for name, engine in ENGINES.items():
        reason = engine.auto_reason(operators, n)
        if reason is not None:
            return EngineChoice(name, reason)
    raise NtkmixedError(f"No engine of {where} can fit these kernels ({len(operators)} kernel(s), n = {n}).")


def build_problem(y: np.ndarray, X: np.ndarray, kernels: list, engine="auto", where: str = "fit",
                  options: dict | None = None):
    """``(problem, EngineChoice)`` for y, X and kernels (operators or plain n×n arrays).

    Parameters
    ----------
    y : numpy.ndarray
        The response, n values.
    X : numpy.ndarray
        Fixed-effect design, n × k.
    kernels : list of KernelOperator or numpy.ndarray
        One per genetic component.
    engine : str or engine object, default "auto"
        A registered engine name, ``"auto"`` or an engine object.
    where : str, default "fit"
        The calling function, for messages.
    options : dict, optional
        Go to engines that declare them (``engine.options``, e.g. the matrix-free
        engine's ``probes`` and ``seed``); exact engines have none.

    Returns
    -------
    problem : Problem
        What the estimators take.
    choice : EngineChoice
        The engine used and why.
    """
    operators = [as_operator(k) for k in kernels]
    choice = choose_engine(operators, y.size, engine, where)
    chosen = engine if not isinstance(engine, str) else ENGINES[choice.name]
    accepted = {key: value for key, value in (options or {}).items() if key in getattr(chosen, "options", ())}
    return chosen.build(y, X, operators, **accepted), choice


__all__ = [
    "ENGINES", "EngineChoice", "DenseEngine", "DenseProblem", "DiagonalLowRankEngine", "DiagonalLowRankProblem",
    "HODLR", "HODLREngine", "HODLRProblem", "DenseState", "LowRankEngine", "LowRankProblem", "MatrixFreeEngine",
    "MatrixFreeProblem", "SpectralProblem",
    "SpectralState",
    "build_problem", "choose_engine", "engine_names", "register_engine",
]
