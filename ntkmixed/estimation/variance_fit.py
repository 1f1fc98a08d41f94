"""The result of a variance-component estimator."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class VarianceFit:
    """Estimated θ = (σ²_1, …, σ²_c, σ²_e) and how it was obtained.

    ``cov`` is the covariance of θ̂ (MINQUE: sandwich S⁻¹ Var(q) S⁻¹; REML: inverse Fisher
    information 2 S⁻¹). ``boundary[i]`` is True when component i was held at zero.
    """

    theta: np.ndarray
    cov: np.ndarray
    method: str
    converged: bool
    iterations: int
    final_change: float
    boundary: np.ndarray
    constrain: bool
    loglik: float
    history: list = field(default_factory=list, repr=False)
