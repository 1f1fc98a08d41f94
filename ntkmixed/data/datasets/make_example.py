"""Generate the embedded example dataset (run by developers, not at import time).

    python -m ntkmixed.datasets.make_example            # rewrites ntkmixed/datasets/data/
    python -m ntkmixed.datasets.make_example --out DIR  # or somewhere else

Needs msprime (and numpy >= 2, which msprime requires); everything is seeded, so the
same msprime version reproduces the files byte for byte.

What is simulated (all synthetic; no real person or real locus):

* **Genotypes.** msprime coalescent with recombination for a 1 Mb region
  (recombination 1e-8 per bp per generation, so 1 cM), mutation rate 1.25e-8, two
  populations ``popA`` (Ne 10 000, 400 people) and ``popB`` (Ne 6 000, 300 people) that
  split 1 500 generations ago from an ancestral population of Ne 10 000, with symmetric
  migration 2e-5 — F_ST about 0.05, LD decaying over tens of kb. Biallelic sites with
  minor-allele frequency >= 0.05 in the combined sample are kept and 740 of them are drawn
  at random (kept in position order). A1 is the minor allele (PLINK 1 habit); positions
  are placed at chromosome 1, 1 000 001–2 000 000. People are shuffled.
* **Covariates.** sex (female/male), age (years), education (primary/secondary/
  tertiary, more often tertiary in popA) and population.
* **Phenotypes**, each ``y = X β + genetic value + e`` with the same fixed effects:
  - ``y_additive``: genetic value ``g = Z b`` from 60 causal SNPs (``b_j ~ N(0, 1/60)``
    on in-sample standardised genotypes), rescaled to variance h² = 0.5; ``e ~ N(0, 0.5)``.
  - ``y_nonlinear``: Ricker-shaped link of an additive score from another 60 causal SNPs:
    ``g`` scaled to variance 1, ``s = softplus(g)``, ``f = s·exp(−s)`` (rises, peaks at
    s = 1, falls), ``f`` centred and rescaled to variance h² = 0.6; ``e ~ N(0, 0.4)``.
    The link is the ``"ricker"`` scenario of :mod:`ntkmixed.simulate` with optimum 1.
  h² here is var(genetic value) / (var(genetic value) + var(e)) for the simulated
  components — a share of the variance left after the covariates, which is what a
  kernel LMM with those covariates estimates. The realised in-sample values are stored
  too. About 1% of each phenotype is set missing (NA) at random.

Files written: ``example.bed/.bim/.fam`` (PLINK 1 fileset), ``example.tsv`` (header
``FID IID sex age education population y_additive y_nonlinear``; PLINK/GCTA layout, NA
for missing) and ``example_truth.json`` (simulation settings and true values).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20251001
N_POP = {"popA": 400, "popB": 300}
N_SNPS = 740
MIN_MAF = 0.05
LENGTH = 1_000_000
OFFSET = 1_000_000
N_CAUSAL = 60
H2 = {"y_additive": 0.5, "y_nonlinear": 0.6}
FIXED = {"intercept": 10.0, "sex[male]": 0.5, "age (per year)": 0.03,
         "education[secondary]": 0.2, "education[tertiary]": 0.4, "population[popB]": -0.6}
MISSING_SHARE = 0.01


def simulate_haplotypes(seed: int):
    import msprime

    demography = msprime.Demography()
    demography.add_population(name="popA", initial_size=10_000)
    demography.add_population(name="popB", initial_size=6_000)
    demography.add_population(name="ANC", initial_size=10_000)
    demography.add_population_split(time=1_500, derived=["popA", "popB"], ancestral="ANC")
    demography.set_symmetric_migration_rate(["popA", "popB"], 2e-5)
    ts = msprime.sim_ancestry(
        samples=N_POP, demography=demography, sequence_length=LENGTH,
        recombination_rate=1e-8, random_seed=seed,
    )
    return msprime.sim_mutations(ts, rate=1.25e-8, random_seed=seed + 1)


def diploid_genotypes(ts, rng: np.random.Generator):
    """(dosages people × SNPs counting the minor allele, SNP table, population labels)."""
    haplotypes = ts.genotype_matrix()  # sites × sample nodes, allele index per node
    nodes = np.array([ts.individual(i).nodes for i in range(ts.num_individuals)])
    population_names = {p.id: p.metadata["name"] for p in ts.populations()}
    populations = np.array([population_names[ts.node(n[0]).population] for n in nodes])
    sites = list(ts.sites())
    biallelic = np.array([len(s.mutations) == 1 for s in sites])
    dosage = haplotypes[:, nodes[:, 0]] + haplotypes[:, nodes[:, 1]]  # derived-allele count
    freq = dosage.mean(axis=1) / 2.0
    common = biallelic & (np.minimum(freq, 1 - freq) >= MIN_MAF)
    chosen = np.sort(rng.choice(np.flatnonzero(common), size=N_SNPS, replace=False))
    rows, a1, a2, pos = [], [], [], []
    for index in chosen:
        site = sites[index]
        derived = site.mutations[0].derived_state
        minor_is_derived = freq[index] <= 0.5
        a1.append(derived if minor_is_derived else site.ancestral_state)
        a2.append(site.ancestral_state if minor_is_derived else derived)
        rows.append(dosage[index] if minor_is_derived else 2 - dosage[index])
        pos.append(OFFSET + int(site.position) + 1)
    G = np.array(rows, dtype=np.float64).T
    snps = pd.DataFrame({
        "chrom": "1", "snp": [f"1:{p}" for p in pos], "cm": np.round((np.array(pos) - OFFSET) * 1e-6, 6),
        "pos": pos, "a1": a1, "a2": a2,
    })
    return G, snps, populations


def additive_score(G: np.ndarray, causal: np.ndarray, rng: np.random.Generator):
    Z = G[:, causal]
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    beta = rng.normal(0.0, np.sqrt(1.0 / causal.size), causal.size)
    g = Z @ beta
    return (g - g.mean()) / g.std(), beta


def ricker(g: np.ndarray) -> np.ndarray:
    s = np.logaddexp(0.0, g)
    return s * np.exp(-s)


def make(out: Path, seed: int = SEED) -> dict:
    from bed_reader import to_bed

    import msprime

    rng = np.random.default_rng(seed)
    G, snps, populations = diploid_genotypes(simulate_haplotypes(seed), rng)
    order = rng.permutation(G.shape[0])
    G, populations = G[order], populations[order]
    n = G.shape[0]
    iids = [f"ID{k + 1:04d}" for k in range(n)]

    sex = rng.choice(["female", "male"], size=n)
    age = np.clip(np.round(rng.normal(62, 8, n)), 40, 85)
    p_tertiary = np.where(populations == "popA", 0.40, 0.25)
    u = rng.uniform(size=n)
    education = np.where(u < p_tertiary, "tertiary", np.where(u < p_tertiary + 0.40, "secondary", "primary"))
    fixed = (
        FIXED["intercept"] + FIXED["sex[male]"] * (sex == "male") + FIXED["age (per year)"] * (age - 60)
        + FIXED["education[secondary]"] * (education == "secondary")
        + FIXED["education[tertiary]"] * (education == "tertiary")
        + FIXED["population[popB]"] * (populations == "popB")
    )

    causal = rng.choice(G.shape[1], size=2 * N_CAUSAL, replace=False)
    causal_add, causal_nl = np.sort(causal[:N_CAUSAL]), np.sort(causal[N_CAUSAL:])
    truth: dict = {"phenotypes": {}}
    table = pd.DataFrame({
        "FID": iids, "IID": iids, "sex": sex, "age": age.astype(int),
        "education": education, "population": populations,
    })
    for name, causal_set, link in (("y_additive", causal_add, None), ("y_nonlinear", causal_nl, ricker)):
        score, beta = additive_score(G, causal_set, rng)
        value = score if link is None else link(score)
        value = (value - value.mean()) / value.std() * np.sqrt(H2[name])
        noise = rng.normal(0.0, np.sqrt(1 - H2[name]), n)
        y = fixed + value + noise
        missing = rng.uniform(size=n) < MISSING_SHARE
        table[name] = np.where(missing, np.nan, np.round(y, 5))
        truth["phenotypes"][name] = {
            "h2": H2[name],
            "realized_h2": float(value.var() / (value.var() + noise.var())),
            "genetic_variance": H2[name], "residual_variance": 1 - H2[name],
            "link": "identity" if link is None else "ricker: s = softplus(g), f = s*exp(-s), g additive score with variance 1",
            "causal_snps": snps["snp"].iloc[causal_set].tolist(),
            "causal_effects_standardised": np.round(beta, 6).tolist(),
            "n_missing": int(missing.sum()),
        }
    truth.update({
        "fixed_effects": FIXED,
        "n_samples": n, "n_snps": int(G.shape[1]), "populations": N_POP,
        "region": {"chrom": "1", "start": int(snps["pos"].min()), "end": int(snps["pos"].max())},
        "seed": seed, "msprime_version": msprime.__version__,
        "h2_definition": "var(genetic value) / (var(genetic value) + var(residual)), simulated components",
        "generated_by": "python -m ntkmixed.datasets.make_example",
    })

    out.mkdir(parents=True, exist_ok=True)
    fam_sex = np.where(sex == "male", 1, 2)
    to_bed(out / "example.bed", G, properties={
        "fid": iids, "iid": iids, "father": ["0"] * n, "mother": ["0"] * n, "sex": fam_sex,
        "pheno": ["-9"] * n,
        "chromosome": snps["chrom"].tolist(), "sid": snps["snp"].tolist(), "cm_position": snps["cm"].to_numpy(),
        "bp_position": snps["pos"].to_numpy(), "allele_1": snps["a1"].tolist(), "allele_2": snps["a2"].tolist(),
    })
    table.to_csv(out / "example.tsv", sep="\t", index=False, na_rep="NA")
    (out / "example_truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    truth = make(args.out, args.seed)
    print(f"wrote {args.out}: {truth['n_samples']} people × {truth['n_snps']} SNPs")


if __name__ == "__main__":
    main()
