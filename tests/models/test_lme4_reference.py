"""REML fits against lme4 (through rpy2): random-intercept and crossed random-effect
models written as Precomputed(Z Zᵀ) kernels."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm

pytestmark = pytest.mark.r

# rpy2 rewrites LD_LIBRARY_PATH when it starts R; later `python` subprocesses of the test
# session (the CLI tests) would then load Debian's libpython. Restore it once R is up.
_library_path = os.environ.get("LD_LIBRARY_PATH")
try:
    robjects = pytest.importorskip("rpy2.robjects", reason="rpy2 is not installed")
    try:
        from rpy2.robjects.packages import importr

        importr("lme4")
    except Exception as exc:  # R or lme4 missing
        pytest.skip(f"lme4 is not available through rpy2: {exc}", allow_module_level=True)
finally:
    if _library_path is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = _library_path


def _lmer(formula: str, data: pd.DataFrame, factors: list[str]):
    """Fit lmer(REML) in R; return variance components, fixed effects, their SEs and the
    conditional modes of each grouping factor."""
    r = robjects.r
    columns = {}
    for name in data.columns:
        if data[name].dtype == object or str(data[name].dtype).startswith("str"):
            if name not in factors:
                continue
        if name in factors:
            columns[name] = r["factor"](robjects.StrVector(data[name].astype(str).tolist()))
        else:
            columns[name] = robjects.FloatVector(data[name].to_numpy(dtype=float))
    robjects.globalenv["d"] = robjects.DataFrame(columns)
    r(f"m <- lme4::lmer({formula}, data = d, REML = TRUE, "
      "control = lme4::lmerControl(optimizer = 'bobyqa', optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10, maxfun = 1e5)))")
    vc = r("as.data.frame(lme4::VarCorr(m))")
    variances = dict(zip(list(vc.rx2("grp")), list(vc.rx2("vcov"))))
    fixef = np.array(r("lme4::fixef(m)"))
    se = np.sqrt(np.diag(np.array(r("as.matrix(vcov(m))"))))
    modes = {}
    for factor in factors:
        values = r(f"lme4::ranef(m)${factor}[, 1]")
        levels = r(f"rownames(lme4::ranef(m)${factor})")
        modes[factor] = dict(zip(list(levels), list(values)))
    return variances, fixef, se, modes


def _indicator_kernel(labels: pd.Series, name: str) -> nm.Precomputed:
    values = labels.to_numpy()
    return nm.Precomputed((values[:, None] == values[None, :]).astype(float), ids=labels.index, name=name)


def _unbalanced(seed=0, n=150):
    rng = np.random.default_rng(seed)
    group = rng.choice([f"g{i}" for i in range(12)], size=n, p=np.linspace(1, 3, 12) / np.linspace(1, 3, 12).sum())
    site = rng.choice([f"s{i}" for i in range(7)], size=n)
    effect_g = dict(zip(np.unique(group), rng.normal(0, 1.0, 12)))
    effect_s = dict(zip(np.unique(site), rng.normal(0, 0.7, 7)))
    x = rng.normal(size=n)
    y = 2 + 0.5 * x + np.array([effect_g[g] for g in group]) + np.array([effect_s[s] for s in site]) + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "x": x, "group": group, "site": site}, index=[f"p{i}" for i in range(n)])


def _check_against_lme4(results, variances, fixef, se, modes, data, factors):
    vc = results.variance_components["estimate"]
    for factor in factors:
        assert vc[factor] == pytest.approx(variances[factor], rel=1e-4)
    assert vc["residual"] == pytest.approx(variances["Residual"], rel=1e-4)
    np.testing.assert_allclose(results.params.to_numpy(), fixef, rtol=1e-4)
    np.testing.assert_allclose(results.bse.to_numpy(), se, rtol=1e-4)
    for factor in factors:
        expected = data[factor].map(modes[factor])
        np.testing.assert_allclose(results.blup_components[factor].to_numpy(), expected.to_numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["reml", "minque1"])
def test_random_intercept_matches_lmer(method):
    data = _unbalanced(seed=1)
    results = nm.fit("y ~ x", data=data, kernel=_indicator_kernel(data["group"], "group"), method=method)
    variances, fixef, se, modes = _lmer("y ~ x + (1 | group)", data, ["group"])
    _check_against_lme4(results, variances, fixef, se, modes, data, ["group"])


@pytest.mark.parametrize("method", ["reml", "minque1"])
def test_crossed_random_effects_match_lmer(method):
    data = _unbalanced(seed=2, n=200)
    kernels = [_indicator_kernel(data["group"], "group"), _indicator_kernel(data["site"], "site")]
    results = nm.fit("y ~ x", data=data, kernel=kernels, method=method)
    variances, fixef, se, modes = _lmer("y ~ x + (1 | group) + (1 | site)", data, ["group", "site"])
    _check_against_lme4(results, variances, fixef, se, modes, data, ["group", "site"])


def test_balanced_random_intercept_matches_lmer_and_the_anova_estimator():
    rng = np.random.default_rng(5)
    groups, per_group = 15, 8
    group = np.repeat([f"g{i}" for i in range(groups)], per_group)
    y = 1.0 + np.repeat(rng.normal(0, 1.2, groups), per_group) + rng.normal(0, 1, groups * per_group)
    data = pd.DataFrame({"y": y, "group": group}, index=[f"b{i}" for i in range(y.size)])
    kernel = _indicator_kernel(data["group"], "group")
    results = nm.fit("y ~ 1", data=data, kernel=kernel, method="reml")
    variances, fixef, se, modes = _lmer("y ~ 1 + (1 | group)", data, ["group"])
    _check_against_lme4(results, variances, fixef, se, modes, data, ["group"])
    # balanced one-way layout: MINQUE0 equals the ANOVA (method-of-moments) estimator
    means = data.groupby("group")["y"].mean()
    msb = per_group * np.sum((means - y.mean()) ** 2) / (groups - 1)
    msw = np.sum((y - data["group"].map(means)) ** 2) / (groups * (per_group - 1))
    minque0 = nm.fit("y ~ 1", data=data, kernel=kernel, method="minque0", constrain=False)
    np.testing.assert_allclose(
        minque0.variance_components["estimate"].to_numpy(), [(msb - msw) / per_group, msw], rtol=1e-8
    )


@pytest.mark.parametrize("seed", [1, 3])
def test_profile_interval_of_h2_matches_lme4s_profiled_deviance(seed):
    """lme4's REML deviance function profiles σ and β out and leaves θ = σ_b/σ; the kernel
    share of a random intercept is h = θ²/(1 + θ²), a monotone map, so the likelihood-ratio
    interval for h is lme4's {θ : dev(θ) − min dev ≤ χ²₁(0.95)} mapped through it."""
    data = _unbalanced(seed=seed, n=90)
    results = nm.fit("y ~ x", data=data, kernel=_indicator_kernel(data["group"], "group"), method="reml",
                     h2_definition="kernel")
    _lmer("y ~ x + (1 | group)", data, ["group"])  # puts the data frame d into R
    lower, upper = robjects.r("""
        local({
          dev <- lme4::lmer(y ~ x + (1 | group), data = d, REML = TRUE, devFunOnly = TRUE)
          best <- optimize(dev, c(0, 50), tol = 1e-12)
          excess <- function(t) dev(t) - best$objective - qchisq(0.95, 1)
          lower <- if (excess(0) <= 0) 0 else uniroot(excess, c(0, best$minimum), tol = 1e-14)$root
          upper <- uniroot(excess, c(best$minimum, 50), tol = 1e-14)$root
          c(lower, upper)
        })""")
    interval = results.conf_int_h2(method="profile")
    share = lambda theta: theta**2 / (1 + theta**2)  # noqa: E731
    assert interval.loc["h2", "lower"] == pytest.approx(share(lower), abs=1e-6)
    assert interval.loc["h2", "upper"] == pytest.approx(share(upper), abs=1e-6)
