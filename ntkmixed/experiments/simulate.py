"""Simulated phenotypes (and, when no real genotypes are at hand, simulated genotypes).

The five genetic architectures of Ge & Lu (arXiv 2510.01426, section 4) — linear,
hyperbolic, power, cosh and Ricker — written out here because the paper's text lost its
equations. Every phenotype is built in the same three steps:

1. **Additive value.** Z is the standardised genotype matrix of the m causal SNPs
   (in-sample means and SDs, missing calls set to the mean), β_j ~ N(0, 1/m) independently,
   and ``g = Z β`` rescaled so that its in-sample variance is exactly ``genetic_variance``
   (σ²_g, default 1). σ²_g sets how far into its non-linear range each ``f`` below is driven.
2. **Genetic value.** ``f(g)`` by the scenario (``softplus(x) = log(1 + eˣ)``):

   =============  =====================================  =================================
   scenario       f(g)                                   parameter (default)
   =============  =====================================  =================================
   ``linear``     g                                      —
   ``hyperbolic`` s / (1 + s),  s = softplus(c·g)        ``curvature`` c > 0 (2)
   ``power``      sign(g)·|g|^γ                          ``gamma`` γ > 1 (3)
   ``cosh``       cosh(g)                                —
   ``ricker``     s·exp(−s / b),  s = softplus(g)        ``optimum`` b > 0 (1)
   =============  =====================================  =================================

   *hyperbolic* is a saturating (Michaelis–Menten-like) dose response whose bend sharpens
   with c; *power* is monotone with γ > 1 amplifying extreme genetic values; *cosh* is even
   in g, so its additive (linear) part is almost nil; *Ricker* rises and then falls, with
   the largest genetic value at intermediate s = b (stabilising-selection shape).
3. **Phenotype.** ``f`` is centred and rescaled to in-sample variance h², independent noise
   e ~ N(0, 1 − h²) is added: ``y = f̃ + e``. The realised heritability, by the same
   sample-variance definition that fits report (:mod:`ntkmixed.models.heritability`), is
   ``var(f̃) / (var(f̃) + var(e))`` (in-sample): it equals h² up to sampling error of order
   1/√n, because only the noise is random at this step.

:func:`from_kernel` draws traits from the model itself, g ~ N(0, σ²_g K).

Everything random comes from one ``numpy.random.Generator`` seeded by ``seed``: the same
genotypes, scenario, parameters and seed give the same phenotype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_option, check_positive_float, check_positive_int, check_seed
from ..exceptions import NtkmixedError
from ..data.genotypes import coerce_genotypes, standardize
from .kernel_traits import KernelTraits, from_kernel  # noqa: F401 (public: simulate.from_kernel)

Scenario = Literal["linear", "hyperbolic", "power", "cosh", "ricker"]
SCENARIOS: tuple[str, ...] = ("linear", "hyperbolic", "power", "cosh", "ricker")

# scenario -> {parameter: default}
SCENARIO_PARAMS: dict[str, dict[str, float]] = {
    "linear": {},
    "hyperbolic": {"curvature": 2.0},
    "power": {"gamma": 3.0},
    "cosh": {},
    "ricker": {"optimum": 1.0},
}


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def transform(scenario: Scenario, g: np.ndarray, **params: float) -> np.ndarray:
    """The genetic value ``f(g)`` of a scenario (before rescaling); see the module table.

    Parameters
    ----------
    scenario : {"linear", "hyperbolic", "power", "cosh", "ricker"}
        The genetic architecture.
    g : numpy.ndarray
        Additive genetic values.
    **params : float
        The scenario's own parameters (``curvature``, ``gamma``, ``optimum``); defaults
        in the module table.

    Returns
    -------
    numpy.ndarray
        ``f(g)``, elementwise.

    Examples
    --------
    >>> transform("power", np.array([-2.0, 0.5]), gamma=2.0)
    array([-4.  ,  0.25])
    """
    scenario = check_option(scenario, "scenario", SCENARIOS, "transform")
    values = _scenario_params(scenario, params, "transform")
    g = np.asarray(g, dtype=np.float64)
    if scenario == "linear":
        return g.copy()
    if scenario == "hyperbolic":
        s = _softplus(values["curvature"] * g)
        return s / (1.0 + s)
    if scenario == "power":
        return np.sign(g) * np.abs(g) ** values["gamma"]
    if scenario == "cosh":
        return np.cosh(g)
    s = _softplus(g)
    return s * np.exp(-s / values["optimum"])


def _scenario_params(scenario: str, params: dict[str, Any], where: str) -> dict[str, float]:
    allowed = SCENARIO_PARAMS[scenario]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        expected = ", ".join(repr(a) for a in allowed) or "none"
        raise NtkmixedError(
            f"The {scenario!r} scenario of {where} takes the parameter(s) {expected}. "
            f"Got {', '.join(map(repr, unknown))} instead."
        )
    values = {**allowed, **params}
    for name, value in values.items():
        values[name] = check_positive_float(value, name, where)
    if scenario == "power" and values["gamma"] <= 1.0:
        raise NtkmixedError(
            f"The 'gamma' parameter of {where} must be > 1 (a power > 1 makes the "
            f"'power' scenario non-linear). Got {params['gamma']!r} instead."
        )
    return values


@dataclass(frozen=True)
class SimulatedPhenotype:
    """A simulated phenotype and everything needed to reproduce or inspect it.

    ``y = genetic_value + noise``; ``genetic_value`` is f(``additive_value``) centred and
    rescaled to variance ``h2``; ``beta`` is indexed by SNP name (0 for non-causal SNPs)
    and refers to standardised genotypes.
    """

    y: pd.Series
    genetic_value: pd.Series
    additive_value: pd.Series
    noise: pd.Series
    beta: pd.Series
    scenario: str
    h2: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def causal(self) -> list[str]:
        """Names of the causal SNPs."""
        return [str(s) for s in self.beta.index[self.beta.to_numpy() != 0]]

    @property
    def realized_h2(self) -> float:
        """The in-sample share ``var(genetic_value) / (var(genetic_value) + var(noise))``:
        the sample-variance h² that fits estimate (the chance covariance of genetic value
        and noise in the sample belongs to neither)."""
        genetic, noise = float(np.var(self.genetic_value.to_numpy())), float(np.var(self.noise.to_numpy()))
        return genetic / (genetic + noise) if genetic + noise > 0 else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """``y``, ``genetic_value``, ``additive_value`` and ``noise`` by sample ID.

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame(
            {
                "y": self.y,
                "genetic_value": self.genetic_value,
                "additive_value": self.additive_value,
                "noise": self.noise,
            }
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"SimulatedPhenotype(scenario={self.scenario!r}, n={len(self.y)}, "
            f"h2={self.h2:g}, realized_h2={self.realized_h2:.3f}, {shown})"
        )


def phenotype(
    genotypes: Any,
    scenario: Scenario = "linear",
    h2: float = 0.5,
    *,
    n_causal: int | None = None,
    snps: Sequence[str] | Sequence[int] | None = None,
    genetic_variance: float = 1.0,
    seed: int | Sequence[int] | None = None,
    **params: float,
) -> SimulatedPhenotype:
    """Simulate a phenotype from genotypes under one of the five scenarios.

    Parameters
    ----------
    genotypes
        n×p dosages: array, DataFrame indexed by sample ID, or a PLINK prefix.
    scenario
        ``"linear"``, ``"hyperbolic"``, ``"power"``, ``"cosh"`` or ``"ricker"`` (formulas in
        the module docstring).
    h2
        Target heritability in [0, 1]: the genetic value has variance h², the noise 1 − h².
    n_causal
        Number of causal SNPs, drawn at random (with ``seed``) from ``snps`` or from all
        SNPs; default: all of them.
    snps
        The candidate SNPs (names, or column positions for arrays); default: all.
    genetic_variance
        In-sample variance σ²_g of the additive value g before ``f`` is applied.
    seed
        Seed of the ``numpy.random.Generator`` that draws the causal set, β and the noise:
        an integer, or a list of them naming one stream (e.g. ``[seed, replicate]``).
    **params
        Scenario parameters: ``curvature`` (hyperbolic), ``gamma`` (power), ``optimum``
        (ricker).

    Returns
    -------
    SimulatedPhenotype
        ``y`` is a Series named ``"y"`` indexed by sample ID (``"id1"``, ``"id2"``, … for
        arrays).
    """
    where = "simulate.phenotype"
    scenario = check_option(scenario, "scenario", SCENARIOS, where)
    values = _scenario_params(scenario, params, where)
    h2 = check_positive_float(h2, "h2", where, allow_zero=True)
    if h2 > 1.0:
        raise NtkmixedError(f"The 'h2' parameter of {where} must lie in [0, 1]. Got {h2!r} instead.")
    genetic_variance = check_positive_float(genetic_variance, "genetic_variance", where)
    seed = check_seed(seed, "seed", where, allow_none=True, allow_sequence=True)
    matrix, ids, snp_names = coerce_genotypes(genotypes, "genotypes", where)
    if ids is None:
        ids = pd.Index([f"id{i + 1}" for i in range(matrix.shape[0])])
    rng = np.random.default_rng(seed)

    candidates = _candidate_columns(snps, snp_names, where)
    if n_causal is None:
        causal = candidates
    else:
        n_causal = check_positive_int(n_causal, "n_causal", where)
        if n_causal > candidates.size:
            raise NtkmixedError(
                f"The 'n_causal' parameter of {where} must be at most the number of "
                f"candidate SNPs ({candidates.size}). Got {n_causal} instead."
            )
        causal = np.sort(rng.choice(candidates, size=n_causal, replace=False))
    Z, standardization = standardize(matrix[:, causal], quiet=True)
    causal = causal[standardization.kept]  # monomorphic SNPs cannot carry an effect
    if causal.size == 0:
        raise NtkmixedError(f"No polymorphic causal SNP is left for {where}.")

    beta_causal = rng.normal(0.0, 1.0 / math.sqrt(causal.size), size=causal.size)
    g = Z @ beta_causal
    g = g * math.sqrt(genetic_variance / np.var(g))
    f = transform(scenario, g, **values)
    f = f - f.mean()
    f_var = float(np.var(f))
    f = f * math.sqrt(h2 / f_var) if f_var > 0 else np.zeros_like(f)
    noise = rng.normal(0.0, math.sqrt(1.0 - h2), size=f.size)

    beta = np.zeros(len(snp_names))
    beta[causal] = beta_causal
    return SimulatedPhenotype(
        y=pd.Series(f + noise, index=ids, name="y"),
        genetic_value=pd.Series(f, index=ids, name="genetic_value"),
        additive_value=pd.Series(g, index=ids, name="additive_value"),
        noise=pd.Series(noise, index=ids, name="noise"),
        beta=pd.Series(beta, index=pd.Index(snp_names, name="snp"), name="beta"),
        scenario=scenario,
        h2=h2,
        params={
            **values,
            "genetic_variance": genetic_variance,
            "n_causal": int(causal.size),
            "seed": seed,
        },
    )


def _candidate_columns(snps: Any, snp_names: list[str], where: str) -> np.ndarray:
    if snps is None:
        return np.arange(len(snp_names))
    position = {name: j for j, name in enumerate(snp_names)}
    columns = []
    for snp in snps:
        if isinstance(snp, (int, np.integer)) and not isinstance(snp, bool):
            if not 0 <= snp < len(snp_names):
                raise NtkmixedError(
                    f"The 'snps' parameter of {where} holds column {snp}, outside 0..{len(snp_names) - 1}."
                )
            columns.append(int(snp))
        elif str(snp) in position:
            columns.append(position[str(snp)])
        else:
            raise NtkmixedError(f"The 'snps' parameter of {where} names an unknown SNP: {snp!r}.")
    if not columns:
        raise NtkmixedError(f"The 'snps' parameter of {where} must name at least one SNP.")
    return np.unique(np.asarray(columns))


def genotypes(
    n: int,
    p: int,
    *,
    seed: int | Sequence[int] | None = None,
    method: Literal["msprime", "binomial"] = "msprime",
    min_maf: float = 0.05,
) -> pd.DataFrame:
    """Simulated diploid dosages (0/1/2), an n×p DataFrame indexed ``"id1"``… with SNP
    columns ``"snp1"``….

    ``method="msprime"`` runs a coalescent with recombination (Nₑ = 10 000, μ = r = 10⁻⁸
    per base, a single population), so neighbouring SNPs are in linkage disequilibrium as in
    real data; the first p biallelic sites with minor-allele frequency ≥ ``min_maf`` are
    kept. ``method="binomial"`` draws independent SNPs (no LD) with allele frequencies
    uniform on [``min_maf``, 0.5] — quick, but unrealistically uncorrelated.

    Parameters
    ----------
    n : int
        Number of people (≥ 2).
    p : int
        Number of SNPs.
    seed : int or list of int, optional
        Seed of the ``numpy.random.Generator`` that draws the simulation (and msprime's
        seeds).
    method : {"msprime", "binomial"}, default "msprime"
        Coalescent with LD, or independent SNPs.
    min_maf : float, default 0.05
        Smallest minor-allele frequency kept (below 0.5).

    Returns
    -------
    pandas.DataFrame
        n × p dosages indexed ``"id1"``…, columns ``"snp1"``….
    """
    where = "simulate.genotypes"
    n = check_positive_int(n, "n", where, minimum=2)
    p = check_positive_int(p, "p", where)
    method = check_option(method, "method", ("msprime", "binomial"), where)
    min_maf = check_positive_float(min_maf, "min_maf", where)
    seed = check_seed(seed, "seed", where, allow_none=True, allow_sequence=True)
    if min_maf >= 0.5:
        raise NtkmixedError(f"The 'min_maf' parameter of {where} must be below 0.5. Got {min_maf!r}.")
    if method == "binomial":
        rng = np.random.default_rng(seed)
        freq = rng.uniform(min_maf, 0.5, size=p)
        dosages = rng.binomial(2, freq, size=(n, p)).astype(np.float64)
        # a column can come out monomorphic for tiny n; redraw those
        for j in np.flatnonzero(dosages.std(axis=0) == 0):
            while dosages[:, j].std() == 0:
                dosages[:, j] = rng.binomial(2, freq[j], size=n)
    else:
        dosages = _msprime_dosages(n, p, seed, min_maf)
    return pd.DataFrame(
        dosages,
        index=pd.Index([f"id{i + 1}" for i in range(n)], name="id"),
        columns=[f"snp{j + 1}" for j in range(p)],
    )


def _msprime_dosages(n: int, p: int, seed: int | None, min_maf: float) -> np.ndarray:
    import msprime

    seeds = np.random.default_rng(seed).integers(1, 2**31 - 1, size=2)
    # about 10 sites per kb segregate for these rates; a third pass the MAF filter
    length = max(1e5, 300.0 * p)
    for _ in range(8):
        tree_sequence = msprime.sim_ancestry(
            samples=n, ploidy=2, population_size=10_000, sequence_length=length,
            recombination_rate=1e-8, random_seed=int(seeds[0]),
        )
        tree_sequence = msprime.sim_mutations(
            tree_sequence, rate=1e-8, random_seed=int(seeds[1]),
            model=msprime.BinaryMutationModel(),
        )
        haplotypes = tree_sequence.genotype_matrix()  # sites × 2n, 0/1
        dosages = (haplotypes[:, 0::2] + haplotypes[:, 1::2]).T.astype(np.float64)
        freq = dosages.mean(axis=0) / 2.0
        keep = np.flatnonzero(np.minimum(freq, 1.0 - freq) >= min_maf)
        if keep.size >= p:
            return dosages[:, keep[:p]]
        length *= 2.0
    raise NtkmixedError(
        f"msprime did not produce {p} SNPs with MAF >= {min_maf} for n={n}; "
        "try method='binomial' or a smaller p."
    )
