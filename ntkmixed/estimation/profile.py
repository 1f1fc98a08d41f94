"""The single-kernel REML likelihood profiled over the kernel share, kept after a fit, and
its likelihood-ratio interval.

With V = τ (h K + (1−h) I) and K = U diag(s) Uᵀ (U may hold only r < n columns — a
low-rank kernel — when the rest of the space is summarised by its sufficient statistics),
the scale τ is profiled out (τ̂ = yᵀP_h y / (n−k)) and

    ℓ(h) = −½ [ (n−k)(log 2π + 1 + log τ̂) + Σ log d_i + log|XᵀV_h⁻¹X| − log|XᵀX| ],
    d_i = h s_i + 1 − h,

costs O(n k²) a point from the rotated data alone (no n×n array), so results can keep it
and compute intervals at any level later. The interval is lme4's profile interval
(``confint(profile(m))``): the h whose signed root deviance ζ(h) = ±√(2(ℓ̂ − ℓ(h))) lies
within ±z_{1−α/2}, i.e. {h : 2(ℓ̂ − ℓ(h)) ≤ χ²₁(level)}, and — as lme4 does when a
profile reaches a parameter bound before the cut-off — the bound itself (0, or 1) where
the likelihood has not fallen far enough by then. So an interval can start at 0: the
boundary case that Wald intervals get wrong (Schweiger et al. 2016, ALBI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import brentq, minimize_scalar

from .engines._linalg import LOG_2PI, logdet_pd
from .reml import _H_MAX

# Grid on which the profile is scanned before the maximum and the crossings are polished:
# fine enough that a likelihood with two local maxima is not mistaken for one.
_GRID_POINTS = 201


@dataclass(frozen=True)
class Complement:
    """The part of the space outside the r retained eigenvectors, where K is 0 (d = 1 − h):
    its dimension and the sufficient statistics yᵀQy, XᵀQy, XᵀQX with Q = I − U Uᵀ."""

    dimension: int
    yy: float
    Xy: np.ndarray
    XX: np.ndarray


@dataclass(frozen=True)
class ProfileInterval:
    """A likelihood-ratio interval for the kernel share h = σ²_g/(σ²_g + σ²_e)."""

    lower: float
    upper: float
    h_hat: float  # the maximiser of the profile on [0, 1)
    level: float
    lower_at_bound: bool  # the likelihood had not fallen to the cut-off by h = 0
    upper_at_bound: bool  # … by h → 1


class ProfiledREML:
    """ℓ(h) for one kernel from its eigenvalues and the rotated data (module docstring)."""

    def __init__(self, s: np.ndarray, y_rot: np.ndarray, X_rot: np.ndarray, logdet_xtx: float,
                 complement: Complement | None = None):
        self.s = np.asarray(s, dtype=np.float64)
        self.y_rot = np.asarray(y_rot, dtype=np.float64)
        self.X_rot = np.asarray(X_rot, dtype=np.float64)
        self.logdet_xtx = float(logdet_xtx)
        self.complement = complement
        self.k = self.X_rot.shape[1]
        self.n = self.s.size + (complement.dimension if complement is not None else 0)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None  # the scanned profile, once

    def loglik(self, h: float) -> float:
        """The REML log-likelihood at kernel share h with τ profiled out (−inf where V is
        not positive definite)."""
        h = float(h)
        d = h * self.s + (1.0 - h)
        c = self.complement
        if np.any(d <= 0) or (c is not None and c.dimension and h >= 1.0):
            return -np.inf
        W = self.X_rot / d[:, None]
        XtViX = self.X_rot.T @ W
        XtViy = W.T @ self.y_rot
        if c is not None and c.dimension:
            XtViX = XtViX + c.XX / (1.0 - h)
            XtViy = XtViy + c.Xy / (1.0 - h)
        sign, logdet_xvx = logdet_pd(XtViX) if self.k else (1.0, 0.0)
        if sign <= 0:
            return -np.inf
        beta = np.linalg.solve(XtViX, XtViy) if self.k else np.zeros(0)
        residual = self.y_rot - self.X_rot @ beta
        quad = float(residual @ (residual / d))
        logdet_v = float(np.sum(np.log(d)))
        if c is not None and c.dimension:
            quad += (c.yy - 2.0 * float(beta @ c.Xy) + float(beta @ c.XX @ beta)) / (1.0 - h)
            logdet_v += c.dimension * np.log(1.0 - h)
        dof = self.n - self.k
        tau = quad / dof
        if tau <= 0:
            return -np.inf
        return float(-0.5 * (dof * (LOG_2PI + 1.0 + np.log(tau)) + logdet_v + logdet_xvx - self.logdet_xtx))

    def maximum(self) -> tuple[float, float]:
        """(ĥ, ℓ(ĥ)): the maximiser on [0, 1 − 1e-5] (REML's search range), by a grid and a
        bounded Brent search around the best grid point."""
        grid, values = self._scan()
        best = int(np.argmax(values))
        lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
        result = minimize_scalar(lambda h: -self.loglik(h), bounds=(lo, hi), method="bounded",
                                 options={"xatol": 1e-12, "maxiter": 500})
        if -result.fun >= values[best]:
            return float(result.x), float(-result.fun)
        return float(grid[best]), float(values[best])

    def interval(self, level: float = 0.95) -> ProfileInterval:
        """{h ∈ [0, 1] : 2(ℓ̂ − ℓ(h)) ≤ χ²₁(level)}, its end points found by root finding
        between the outermost grid points inside and their neighbours outside; an end
        that is still inside at the bound is the bound (h → 1 is reported as 1)."""
        h_hat, top = self.maximum()
        cut = top - 0.5 * float(stats.chi2.ppf(level, df=1))
        grid, values = self._scan()
        # the maximiser joins the grid, so the set inside the cut-off is never empty even
        # when it is narrower than the grid spacing (very large n)
        at = int(np.searchsorted(grid, h_hat))
        grid, values = np.insert(grid, at, h_hat), np.insert(values, at, top)
        inside = np.flatnonzero(values >= cut)
        first, last = int(inside[0]), int(inside[-1])

        def excess(h: float) -> float:
            return self.loglik(h) - cut

        lower_at_bound, upper_at_bound = first == 0, last == grid.size - 1
        lower = 0.0 if lower_at_bound else brentq(excess, grid[first - 1], grid[first], xtol=1e-14, rtol=1e-13)
        upper = 1.0 if upper_at_bound else brentq(excess, grid[last], grid[last + 1], xtol=1e-14, rtol=1e-13)
        return ProfileInterval(float(lower), float(upper), h_hat, float(level), lower_at_bound, upper_at_bound)

    def _scan(self) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None:
            grid = np.linspace(0.0, _H_MAX, _GRID_POINTS)
            self._grid = (grid, np.array([self.loglik(h) for h in grid]))
        return self._grid

    # --- persistence: plain arrays ------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"profile_s": self.s, "profile_y_rot": self.y_rot, "profile_X_rot": self.X_rot,
                  "profile_logdet_xtx": np.array(self.logdet_xtx)}
        if self.complement is not None:
            c = self.complement
            arrays.update({"profile_c_dimension": np.array(c.dimension), "profile_c_yy": np.array(c.yy),
                           "profile_c_Xy": c.Xy, "profile_c_XX": c.XX})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "ProfiledREML | None":
        if "profile_s" not in arrays:
            return None
        complement = None
        if "profile_c_dimension" in arrays:
            complement = Complement(int(arrays["profile_c_dimension"]), float(arrays["profile_c_yy"]),
                                    arrays["profile_c_Xy"], arrays["profile_c_XX"])
        return cls(arrays["profile_s"], arrays["profile_y_rot"], arrays["profile_X_rot"],
                   float(arrays["profile_logdet_xtx"]), complement)
