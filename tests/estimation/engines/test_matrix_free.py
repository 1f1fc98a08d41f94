"""The matrix-free engine: randomised MINQUE0 (RHE) and its block jackknife against
dense brute-force formulas in the exact-probe limit, stochastic REML within its own
Monte-Carlo SE of the exact REML, CG-based BLUPs, seeding, and the routes the genotypes
can take (memory, .bed, dask)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
from ntkmixed.estimation import build_problem, minque0
from ntkmixed.estimation.block_factor import BlockFactorOperator
from ntkmixed.estimation.engines.matrix_free import MatrixFreeProblem
from ntkmixed.estimation.stochastic import rhe_minque0
from ntkmixed.exceptions import NtkmixedError


def _block_operator(F: np.ndarray) -> BlockFactorOperator:
    """A factor read in column blocks from memory (the GRM's operator without genotypes)."""
    def bounds(count, block_bytes=None):
        count = min(F.shape[1], max(count, 1))
        edges = np.linspace(0, F.shape[1], count + 1).round().astype(int)
        return list(zip(edges[:-1], edges[1:]))
    return BlockFactorOperator(F.shape[0], F.shape[1], lambda a, b: F[:, a:b], bounds, np.einsum("ij,ij->i", F, F))


def _data(n=150, widths=(60,), seed=0):
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((n, p)) / np.sqrt(p) for p in widths]
    X = np.column_stack([np.ones(n), rng.standard_normal(n)])
    y = X @ [1.0, 0.5] + sum(0.7 * F @ rng.standard_normal(F.shape[1]) for F in factors) + rng.standard_normal(n)
    return y, X, factors


def _exact_probes(problem: MatrixFreeProblem) -> MatrixFreeProblem:
    """Probes √n e_i: the Hutchinson average over them is the trace itself."""
    problem.probes = np.sqrt(problem.n) * np.eye(problem.n)
    problem.n_probes = problem.n
    return problem


def _dense_minque0(y, X, kernels):
    n = y.size
    M = np.eye(n) - X @ np.linalg.solve(X.T @ X, X.T)
    mats = kernels + [np.eye(n)]
    S = np.array([[np.trace(M @ A @ M @ B) for B in mats] for A in mats])
    q = np.array([y @ M @ A @ M @ y for A in mats])
    return np.linalg.solve(S, q)


@pytest.mark.parametrize("widths", [(60,), (40, 25)])
def test_rhe_with_exact_probes_is_minque0_and_its_jackknife_the_brute_force_one(widths):
    y, X, factors = _data(n=100, widths=widths)
    problem = _exact_probes(MatrixFreeProblem(y, X, [_block_operator(F) for F in factors]))
    fit = rhe_minque0(problem, constrain=False)
    kernels = [F @ F.T for F in factors]
    np.testing.assert_allclose(fit.theta, _dense_minque0(y, X, kernels), rtol=1e-9)
    assert fit.theta == pytest.approx(minque0(build_problem(y, X, kernels, "dense")[0], constrain=False).theta,
                                      rel=1e-9)
    # replicate j: block j of every kernel left out, each kernel rescaled to its trace
    J = min(F.shape[1] for F in factors)
    edges = [np.linspace(0, F.shape[1], J + 1).round().astype(int) for F in factors]
    replicates = []
    for j in range(J):
        left_out = []
        for F, e in zip(factors, edges):
            keep = np.r_[0 : e[j], e[j + 1] : F.shape[1]]
            K = F[:, keep] @ F[:, keep].T
            left_out.append(K * np.trace(F @ F.T) / np.trace(K))
        replicates.append(_dense_minque0(y, X, left_out))
    replicates = np.array(replicates)
    centred = replicates - replicates.mean(axis=0)
    np.testing.assert_allclose(problem.jackknife_cov, (J - 1) / J * centred.T @ centred, rtol=1e-8)
    info = problem.engine_info()
    assert info["jackknife_blocks"] == J
    # the reported covariance adds the Monte-Carlo variance the shared probes hide from the jackknife
    np.testing.assert_allclose(np.diag(fit.cov), np.diag(problem.jackknife_cov) + np.square(info["theta_mc_se"]),
                               rtol=1e-10)


def test_rhe_converges_to_minque0_as_probes_grow_within_its_reported_mc_se():
    y, X, factors = _data(n=300, widths=(80,), seed=2)
    exact = _dense_minque0(y, X, [factors[0] @ factors[0].T])
    mc_se = {}
    for probes in (100, 1600):
        problem = MatrixFreeProblem(y, X, [_block_operator(factors[0])], probes=probes, seed=5)
        fit = rhe_minque0(problem, constrain=False)
        mc_se[probes] = np.array(problem.info["theta_mc_se"])
        assert np.all(np.abs(fit.theta - exact) < 4 * mc_se[probes])
    # the Monte-Carlo error shrinks like 1/√B: 16 times the probes, a quarter of the SE
    assert mc_se[1600][0] / mc_se[100][0] == pytest.approx(0.25, rel=0.3)


def test_minque0_traces_are_exact_on_the_deflated_span_so_a_kernel_of_low_rank_needs_no_probes():
    # K of rank 8 < DEFLATION_RANK: the sketch spans the range of M K M, the probes' part
    # of tr(MKMK) is zero, and 3 probes give the exact MINQUE0
    y, X, factors = _data(n=120, widths=(8,), seed=11)
    problem = MatrixFreeProblem(y, X, [_block_operator(factors[0])], probes=3, seed=4)
    fit = rhe_minque0(problem, constrain=False)
    np.testing.assert_allclose(fit.theta, _dense_minque0(y, X, [factors[0] @ factors[0].T]), rtol=1e-9)
    assert problem.info["deflation_rank"] == 8 and max(problem.info["theta_mc_se"]) < 1e-9


def _two_populations(n=1000, p=300, fst=0.1, seed=12):
    rng = np.random.default_rng(seed)
    population = np.arange(n) % 2
    a = rng.uniform(0.1, 0.5, p)
    freq = rng.beta(a * (1 - fst) / fst, (1 - a) * (1 - fst) / fst, size=(2, p))[population]
    G = rng.binomial(2, freq).astype(float)
    Z = (G - G.mean(0)) / np.where(G.std(0) > 0, G.std(0), 1.0)
    F = Z / np.sqrt(p)
    X = np.ones((n, 1))
    y = F @ rng.standard_normal(p) * np.sqrt(0.5) + rng.standard_normal(n) * np.sqrt(0.5)
    return y, X, F


def test_deflation_removes_the_monte_carlo_error_population_structure_brings(monkeypatch):
    import ntkmixed.estimation.engines.matrix_free as matrix_free

    y, X, F = _two_populations()
    exact = _dense_minque0(y, X, [F @ F.T])
    mc_se = {}
    for rank in (0, matrix_free.DEFLATION_RANK):
        monkeypatch.setattr(matrix_free, "DEFLATION_RANK", rank)
        problem = MatrixFreeProblem(y, X, [_block_operator(F)], probes=30, seed=3)
        fit = rhe_minque0(problem, constrain=False)
        mc_se[rank] = problem.info["theta_mc_se"][0]
        assert abs(fit.theta[0] - exact[0]) < 4 * mc_se[rank]
    # the between-population eigenvalue dominates tr(MKMK) for plain probes
    assert mc_se[matrix_free.DEFLATION_RANK] < 0.1 * mc_se[0]


def _simulated(n, p, h2=0.5, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.05, 0.5, p), size=(n, p)).astype(float)
    Z = (G - G.mean(0)) / G.std(0)
    g = Z @ rng.standard_normal(p)
    ids = pd.Index([f"s{i}" for i in range(n)])
    data = pd.DataFrame({"x": rng.standard_normal(n)}, index=ids)
    data["y"] = 1.0 + 0.3 * data["x"] + g * np.sqrt(h2 / g.var()) + rng.standard_normal(n) * np.sqrt(1 - h2)
    return data, pd.DataFrame(G, index=ids, columns=[f"rs{j}" for j in range(p)])


def test_stochastic_reml_is_within_its_monte_carlo_se_of_the_exact_reml_at_n_3000():
    data, G = _simulated(3000, 500, seed=1)
    exact = nm.fit("y ~ x", data, genotypes=G, method="reml", engine="lowrank")
    res = nm.fit("y ~ x", data, genotypes=G, method="reml", engine="matrix-free", probes=30, seed=3)
    info = res.engine_info
    assert res.engine == "matrix-free" and info["probes"] == 30 and info["cg_iterations"] > 0
    # the MC error is small next to the statistical error, so the comparison has teeth
    assert info["h2_mc_se"] < 0.25 * exact.h2_se
    assert abs(res.h2 - exact.h2) < 3 * info["h2_mc_se"]
    theta_se = np.array(info["theta_mc_se"])
    diff = np.abs(res.variance_components["estimate"].to_numpy() - exact.variance_components["estimate"].to_numpy())
    assert np.all(diff < 3 * theta_se)
    assert res.h2_se == pytest.approx(exact.h2_se, rel=0.05)
    assert np.corrcoef(res.blup, exact.blup)[0, 1] > 0.9999
    assert np.isnan(res.blup_pev.to_numpy()).all()  # not estimated by this engine


def test_iterated_minque_and_reml_share_their_fixed_point():
    data, G = _simulated(800, 200, seed=4)
    kwargs = dict(engine="matrix-free", probes=20, seed=1)
    a = nm.fit("y ~ x", data, genotypes=G, method="minque1", **kwargs)
    b = nm.fit("y ~ x", data, genotypes=G, method="reml", **kwargs)
    assert a.converged and b.converged
    assert abs(a.h2 - b.h2) < 2 * a.engine_info["h2_mc_se"]


def test_gls_and_blups_by_cg_equal_the_dense_state_at_the_same_weights():
    y, X, factors = _data(n=200, widths=(50, 30), seed=6)
    theta = np.array([0.6, 0.3, 0.9])
    # CG to 1e-10: the exact limit (at the default 1e-6 the BLUPs differ by ~1e-5 relative)
    problem = MatrixFreeProblem(y, X, [_block_operator(F) for F in factors], probes=4, cg_tol=1e-10)
    a = problem.state(theta)
    b = build_problem(y, X, [F @ F.T for F in factors], "dense")[0].state(theta)
    for got, expected in [(a.beta(), b.beta()), (a.cov_beta(), b.cov_beta()), (a.Py(), b.Py()),
                          (a.blup(0), b.blup(0)), (a.blup(1), b.blup(1)), (a.q(), b.q())]:
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-9 * np.max(np.abs(expected)))


def test_the_same_seed_gives_bit_identical_results_and_another_seed_does_not():
    data, G = _simulated(250, 60, seed=7)
    fits = [nm.fit("y ~ x", data, genotypes=G, method=m, engine="matrix-free", probes=10, seed=s)
            for m, s in [("reml", 1), ("reml", 1), ("reml", 2)]]
    assert np.array_equal(fits[0].variance_fit.theta, fits[1].variance_fit.theta)
    assert np.array_equal(fits[0].blup.to_numpy(), fits[1].blup.to_numpy())
    assert not np.array_equal(fits[0].variance_fit.theta, fits[2].variance_fit.theta)


def test_a_matrix_free_fit_never_forms_the_genotype_matrix(monkeypatch):
    from ntkmixed.data.genotype_source import StandardizedGenotypes

    def refuse(self):
        raise AssertionError("all standardised genotypes were formed as one float64 matrix")

    monkeypatch.setattr(StandardizedGenotypes, "dense", refuse)
    data, G = _simulated(300, 90, seed=8)
    train, new = data.index[:250], data.index[250:]
    res = nm.fit("y ~ x", data.loc[train], genotypes=G.loc[train], method="minque0", engine="matrix-free", probes=10)
    assert res.design.genotype_source.stored().dtype == np.int8
    assert np.isfinite(res.predict(data.loc[new], G.loc[new])).all()
    assert res.engine_info["se_method"].startswith("block jackknife over SNP blocks") and np.isfinite(res.h2_se)


def test_streaming_a_bed_equals_the_in_memory_array(tmp_path):
    from plink_helpers import write_fileset

    data, G = _simulated(200, 60, seed=9)
    values = G.to_numpy().copy()
    values[3, 5] = np.nan  # a missing call, imputed by the training mean in both
    prefix = write_fileset(tmp_path / "geno", values, iids=G.index)
    frame = pd.DataFrame(values, index=G.index, columns=[f"rs{j}" for j in range(values.shape[1])])
    for method in ("minque0", "reml"):
        a = nm.fit("y ~ x", data, genotypes=str(prefix), method=method, engine="matrix-free", probes=8, seed=2)
        b = nm.fit("y ~ x", data, genotypes=frame, method=method, engine="matrix-free", probes=8, seed=2)
        np.testing.assert_allclose(a.variance_fit.theta, b.variance_fit.theta, rtol=1e-12)
        np.testing.assert_allclose(a.variance_fit.cov, b.variance_fit.cov, rtol=1e-10)


def test_the_engine_refuses_what_it_cannot_do_and_says_so(lmm_data):
    data, G = lmm_data
    with pytest.raises(NtkmixedError, match="'minque1-one-step' is not available with the 'matrix-free' engine"):
        nm.fit("y ~ sex + age", data, genotypes=G, method="minque1-one-step", engine="matrix-free")
    with pytest.warns(UserWarning, match="probes=20 is used only by the matrix-free engine"):
        nm.fit("y ~ sex + age", data, genotypes=G, engine="dense", probes=20)
    with pytest.raises(NtkmixedError, match="'probes'"):
        nm.fit("y ~ sex + age", data, genotypes=G, engine="matrix-free", probes=1)


def test_auto_streams_when_neither_dense_nor_low_rank_arrays_fit_in_memory(monkeypatch):
    import ntkmixed.estimation.engines.lowrank as lowrank
    import ntkmixed.estimation.engines.matrix_free as matrix_free

    data, G = _simulated(200, 100, seed=10)
    for module in (lowrank, matrix_free):
        monkeypatch.setattr(module, "available_memory", lambda: 2**16)  # 64 KiB
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.fit("y ~ x", data, genotypes=G, method="minque0")
    assert res.engine == "matrix-free" and "would need" in res.engine_reason
