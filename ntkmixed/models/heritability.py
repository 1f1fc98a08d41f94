"""Heritability of a kernel LMM fit: which share of phenotypic variance the kernels
explain, its delta-method SE, Wald and profile-likelihood intervals, and the kernel
diagnostics that say how to read it.

Definitions (``fit(h2_definition=...)``), with θ = (σ²_1, …, σ²_c, σ²_e):

* ``"sample-variance"`` (default): h²_k = σ²_k D_k / (Σ_j σ²_j D_j + σ²_e), where
  D_k = (tr K_k − 1ᵀK_k1/n)/(n − 1) makes σ²_k D_k the expected sample variance of g_k
  over the training people (Legarra 2016; de los Campos et al. 2015; the residual's factor
  is 1). The part of K_k that is constant over people — which the intercept absorbs — is
  not counted as genetic variance. For a GRM of centred genotypes D = n/(n − 1).
* ``"kernel"``: D_k = 1, h²_k = σ²_k / (Σ_j σ²_j + σ²_e) (the NTK paper's and GCTA's
  formula on the kernel as given).

The total is Σ_k of the numerators over the same denominator. SEs by the delta method on
Var(θ̂). Intervals: Wald (h² ± z·SE, cut to [0, 1]) for any fit; for one kernel the
profile-likelihood interval (:mod:`ntkmixed.estimation.profile`) of the kernel share
h = σ²_g/(σ²_g + σ²_e), mapped to h² by h ↦ hD/(hD + 1 − h) — increasing in h, and a
likelihood-ratio interval is unchanged by a monotone reparametrisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from ..estimation.profile import ProfiledREML
from ..exceptions import NtkmixedError
from ..kernels.diagnostics import KernelDiagnostics

DEFINITIONS = ("sample-variance", "kernel")
CI_METHODS = ("profile", "wald")

#: a kernel whose constant share or nugget share exceeds these gets a line in the summary
CONSTANT_SHARE_WARNING = 0.1
NUGGET_SHARE_WARNING = 0.1

_FORMULAS = {
    "sample-variance": "h²_k = σ²_k D_k / (Σ_j σ²_j D_j + σ²_e), D_k = (tr K_k − 1ᵀK_k1/n)/(n − 1) "
                       "(expected sample variance of g_k per unit σ²_k; Legarra 2016)",
    "kernel": "h²_k = σ²_k / (Σ_j σ²_j + σ²_e) (the kernel as given; its constant part counts as genetic)",
}


def definition_text(definition: str) -> str:
    return f"{definition}: {_FORMULAS[definition]}"


@dataclass(frozen=True)
class HeritabilityBasis:
    """What h² needs beyond θ̂ and its covariance, recorded when the model is fitted
    (results keep no kernel operator): the definition, the factors D_k, the kernels'
    diagnostics, and — for one kernel — the profiled REML likelihood (or why not)."""

    definition: str
    sample_variance_factors: np.ndarray | None  # None: not recorded (older model files)
    diagnostics: tuple[KernelDiagnostics, ...] | None
    profile: ProfiledREML | None
    profile_unavailable: str | None = None  # why there is no profile

    @classmethod
    def from_fit(cls, definition: str, diagnostics: list[KernelDiagnostics], problem, engine: str) -> "HeritabilityBasis":
        factors = np.array([d.sample_variance_factor for d in diagnostics])
        profile, reason = None, None
        if len(diagnostics) > 1:
            reason = f"the model has {len(diagnostics)} kernels; the likelihood is profiled over one kernel's share"
        elif not (getattr(problem, "supports_profile", False) and hasattr(problem, "profile_likelihood")):
            reason = f"the {engine!r} engine offers no profiled likelihood"
        else:
            profile = problem.profile_likelihood()
        return cls(definition, factors, tuple(diagnostics), profile, reason)

    @classmethod
    def unrecorded(cls) -> "HeritabilityBasis":
        """Models saved before heritability was defined by sample variance: the kernel
        definition, which is what they reported."""
        reason = "model files written before ntkmixed recorded the profiled likelihood do not hold it"
        return cls("kernel", None, None, None, reason)

    def weights(self, n_kernels: int) -> np.ndarray:
        """a with h²_k = a_k θ_k / Σ_j a_j θ_j (the residual's a is 1)."""
        if self.definition == "kernel":
            return np.ones(n_kernels + 1)
        return np.append(self.sample_variance_factors, 1.0)

    # --- persistence ------------------------------------------------------------------
    def to_archive(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"definition": self.definition, "profile_unavailable": self.profile_unavailable}
        arrays: dict[str, np.ndarray] = {}
        if self.sample_variance_factors is not None:
            arrays["h2_sample_variance_factors"] = self.sample_variance_factors
        if self.diagnostics is not None:
            numeric = [f for f in KernelDiagnostics.__dataclass_fields__ if f not in ("n", "nugget_method")]
            meta["diagnostics"] = {"n": [d.n for d in self.diagnostics],
                                   "nugget_method": [d.nugget_method for d in self.diagnostics],
                                   "fields": numeric}
            arrays["h2_diagnostics"] = np.array([[getattr(d, f) for f in numeric] for d in self.diagnostics])
        if self.profile is not None:
            arrays.update({f"h2_{name}": value for name, value in self.profile.to_arrays().items()})
        return meta, arrays

    @classmethod
    def from_archive(cls, meta: dict | None, arrays: dict[str, np.ndarray]) -> "HeritabilityBasis":
        if meta is None:
            return cls.unrecorded()
        diagnostics = None
        if "diagnostics" in meta:
            spec, values = meta["diagnostics"], arrays["h2_diagnostics"]
            diagnostics = tuple(
                KernelDiagnostics(n=n, nugget_method=method, **dict(zip(spec["fields"], map(float, row))))
                for n, method, row in zip(spec["n"], spec["nugget_method"], values))
        profile_arrays = {name[3:]: value for name, value in arrays.items() if name.startswith("h2_profile_")}
        return cls(meta["definition"], arrays.get("h2_sample_variance_factors"), diagnostics,
                   ProfiledREML.from_arrays(profile_arrays), meta.get("profile_unavailable"))


# --- point estimates and SEs ------------------------------------------------------------
def _delta_se(gradient: np.ndarray, cov: np.ndarray) -> float:
    return float(np.sqrt(max(gradient @ cov @ gradient, 0.0)))


def component_shares(theta: np.ndarray, cov: np.ndarray, weights: np.ndarray) -> list[tuple[float, float]]:
    """(h²_k, SE) for each kernel: h²_k = a_k θ_k / Σ_j a_j θ_j."""
    scaled = weights * theta
    total = scaled.sum()
    rows = []
    for k in range(theta.size - 1):
        gradient = -scaled[k] * weights / total**2
        gradient[k] += weights[k] / total
        rows.append((float(scaled[k] / total), _delta_se(gradient, cov)))
    return rows


def total_share(theta: np.ndarray, cov: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(Σ_k a_k θ_k / Σ_j a_j θ_j, SE)."""
    scaled = weights * theta
    total, genetic = scaled.sum(), scaled[:-1].sum()
    gradient = -genetic * weights / total**2
    gradient[:-1] += weights[:-1] / total
    return float(genetic / total), _delta_se(gradient, cov)


def kernel_share_to_h2(h: float, factor: float) -> float:
    """h² of one kernel with factor a at kernel share h = σ²_g/(σ²_g + σ²_e)."""
    if h >= 1.0:
        return 1.0
    return float(h * factor / (h * factor + 1.0 - h))


# --- intervals --------------------------------------------------------------------------
def conf_int(results, level: float, method: str | None) -> pd.DataFrame:
    """Intervals for h² (see :meth:`LMMResults.conf_int_h2`)."""
    where = "conf_int_h2"
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise NtkmixedError(f"The 'level' parameter of {where} must be a number in (0, 1). Got {level!r} instead.")
    basis: HeritabilityBasis = results.heritability_basis
    if method is None:
        method = "profile" if basis.profile is not None else "wald"
    if method not in CI_METHODS:
        choices = ", ".join(repr(m) for m in CI_METHODS)
        raise NtkmixedError(f"The 'method' parameter of {where} must be one of {{{choices}, None}}. Got {method!r} instead.")
    theta, cov = results.variance_fit.theta, results.variance_fit.cov
    weights = basis.weights(theta.size - 1)
    if method == "profile":
        if basis.profile is None:
            raise NtkmixedError(f"A profile-likelihood interval is not available: {basis.profile_unavailable}. "
                                "Use method='wald'.")
        interval = basis.profile.interval(float(level))
        estimate = total_share(theta, cov, weights)[0]
        rows = {"h2": (estimate, kernel_share_to_h2(interval.lower, weights[0]),
                       kernel_share_to_h2(interval.upper, weights[0]))}
    else:
        z = float(stats.norm.ppf(0.5 + level / 2.0))
        shares = component_shares(theta, cov, weights)
        total = total_share(theta, cov, weights)
        labelled = [("h2", total)] if len(shares) == 1 else [*zip(results.component_names, shares), ("total", total)]
        rows = {name: (h2, max(h2 - z * se, 0.0), min(h2 + z * se, 1.0)) for name, (h2, se) in labelled}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "lower", "upper"])
    frame.index.name = "component"
    frame["method"] = method
    frame["level"] = float(level)
    return frame


# --- the views on results ----------------------------------------------------------------
class HeritabilityViews:
    """The heritability part of :class:`~ntkmixed.LMMResults`: labelled views computed from
    ``variance_fit`` (θ̂ and its covariance), ``component_names`` and
    ``heritability_basis``."""

    heritability_basis: HeritabilityBasis
    component_names: list[str]

    @property
    def h2_definition(self) -> str:
        """``"sample-variance"`` or ``"kernel"`` (:mod:`ntkmixed.models.heritability`)."""
        return self.heritability_basis.definition

    @property
    def _h2_weights(self) -> np.ndarray:
        return self.heritability_basis.weights(len(self.component_names))

    @cached_property
    def sample_variance_factors(self) -> pd.Series:
        """D_k = (tr K_k − 1ᵀK_k1/n)/(n − 1) per kernel (NaN for model files that predate it)."""
        factors = self.heritability_basis.sample_variance_factors
        values = np.full(len(self.component_names), np.nan) if factors is None else factors
        return pd.Series(values, index=pd.Index(self.component_names, name="component"), name="D")

    @cached_property
    def kernel_diagnostics(self) -> pd.DataFrame:
        """Per kernel: mean diagonal, mean off-diagonal, constant share, D, effective rank
        and nugget share (:mod:`ntkmixed.kernels.diagnostics`)."""
        diagnostics = self.heritability_basis.diagnostics
        if diagnostics is None:
            raise NtkmixedError("This model was saved before ntkmixed recorded kernel diagnostics; refit it.")
        return diagnostics_table(self.component_names, diagnostics)

    @cached_property
    def heritability(self) -> pd.DataFrame:
        """Per-component h² (by :attr:`h2_definition`) with delta-method SEs."""
        rows = component_shares(self.variance_fit.theta, self.variance_fit.cov, self._h2_weights)
        return pd.DataFrame(rows, index=pd.Index(self.component_names, name="component"), columns=["estimate", "se"])

    @cached_property
    def h2(self) -> float:
        """Total genetic heritability (by :attr:`h2_definition`; sample-variance:
        Σ_k σ²_k D_k / (Σ_k σ²_k D_k + σ²_e))."""
        return total_share(self.variance_fit.theta, self.variance_fit.cov, self._h2_weights)[0]

    @cached_property
    def h2_se(self) -> float:
        """Delta-method standard error of :attr:`h2`."""
        return total_share(self.variance_fit.theta, self.variance_fit.cov, self._h2_weights)[1]

    def conf_int_h2(self, level: float = 0.95, method: str | None = None) -> pd.DataFrame:
        """Confidence interval for h², in [0, 1].

        Parameters
        ----------
        level : float
            Confidence level in (0, 1).
        method : {"profile", "wald"}, optional
            ``"profile"`` (the default where available: one kernel, an engine that
            profiles the likelihood): the REML likelihood-ratio interval, lme4's
            ``confint(profile(m))``; it may start at 0 (or end at 1) when the likelihood
            has not fallen to the cut-off by then. It comes from the REML likelihood
            whatever method fitted the model. ``"wald"``: h² ± z·SE cut to [0, 1], per
            component and in total.

        Returns
        -------
        pandas.DataFrame
            Columns estimate, lower, upper, method, level; one row ``"h2"`` (one kernel)
            or one per kernel and ``"total"``.
        """
        return conf_int(self, level, method)


# --- diagnostics ------------------------------------------------------------------------
def diagnostics_table(names: list[str], diagnostics: tuple[KernelDiagnostics, ...]) -> pd.DataFrame:
    frame = pd.DataFrame([d.to_series(name) for name, d in zip(names, diagnostics)])
    frame.index.name = "component"
    return frame.drop(columns="n")


def diagnostics_warnings(names: list[str], diagnostics: tuple[KernelDiagnostics, ...], definition: str) -> list[str]:
    """One line per large constant share or nugget share, with the number."""
    lines = []
    for name, d in zip(names, diagnostics):
        if d.constant_share > CONSTANT_SHARE_WARNING:
            treated = (f"the sample-variance h² leaves it out (D = {d.sample_variance_factor:.3f})"
                       if definition == "sample-variance" else
                       "the kernel-definition h² counts it as genetic variance (h2_definition='sample-variance' does not)")
            lines.append(f"Warning: kernel {name!r} has constant share {d.constant_share:.3f} (mean "
                         f"off-diagonal entry {d.mean_off_diagonal:.3f}): variance common to everyone, absorbed by the intercept; {treated}.")
        if d.nugget_share > NUGGET_SHARE_WARNING:
            lines.append(f"Warning: kernel {name!r} has nugget share {d.nugget_share:.3f}: that share of its centred "
                         "trace acts like an identity, which REML cannot tell apart from the residual; h² may be inflated.")
    return lines
