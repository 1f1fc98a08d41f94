"""Out-of-sample comparison of prediction methods on repeated random train/test splits —
the experiment design of Ge & Lu (arXiv 2510.01426, section 4).

Every method sees exactly the same splits (drawn once from ``seed`` by
:func:`make_splits`). Each method is fitted on the training people only — genotype
standardisation, kernel normalisation, variance components or ridge parameter, network
weights — and predicts the test people through ``predict(newdata, genotypes)``: nothing
is transductive. Kernels are rebuilt on every split; the time to build them counts in
``seconds``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import kernels
from .._runtime import show_progress
from .._validation import check_positive_float, check_positive_int, examples
from ..data.design import formula_from_columns
from ..data.genotypes import coerce_genotypes
from ..exceptions import NtkmixedError
from ..models.kernel_setup import KernelData, prepare
from ..models.krr import krr_on
from ..models.lmm import KernelLMM
from .comparison_report import METHOD_LABELS, plot_comparison, summarize  # noqa: F401 (public here)
from .nn import MLPRegressor

DEFAULT_METHODS: tuple[str, ...] = ("gblup", "ntk-lmm", "ntk-krr", "nn")

#: a custom method: (train, G_train, test, G_test, seed) -> predictions indexed by test IDs.
#: ``train``/``test`` are DataFrames indexed by sample ID with column "y" (and covariates).
MethodFunction = Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, int], pd.Series]


def make_splits(
    ids: Sequence[Any] | pd.Index, n_splits: int = 100, test_size: float = 0.2, seed: int = 0
) -> list[tuple[pd.Index, pd.Index]]:
    """``n_splits`` random (train IDs, test IDs) partitions with ``ceil(test_size · n)``
    test people each, from ``numpy.random.default_rng(seed)``."""
    where = "make_splits"
    ids = pd.Index(ids)
    n_splits = check_positive_int(n_splits, "n_splits", where)
    test_size = check_positive_float(test_size, "test_size", where)
    n_test = math.ceil(test_size * len(ids))
    if not (test_size < 1 and 2 <= n_test <= len(ids) - 3):
        raise NtkmixedError(
            f"The 'test_size' parameter of {where} must leave at least 2 test and 3 training "
            f"people out of {len(ids)}. Got {test_size!r} ({n_test} test people)."
        )
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(n_splits):
        order = rng.permutation(len(ids))
        splits.append((ids[np.sort(order[n_test:])], ids[np.sort(order[:n_test])]))
    return splits


def compare(
    genotypes: Any,
    phenotype: Any,
    methods: Sequence[str | tuple[str, MethodFunction]] = DEFAULT_METHODS,
    n_splits: int = 100,
    test_size: float = 0.2,
    seed: int = 0,
    covariates: pd.DataFrame | None = None,
    progress: bool | None = None,
    *,
    depth: int = 2,
    width: int = 2000,
    kernel_seed: int = 0,
    krr_options: Mapping[str, Any] | None = None,
    nn_options: Mapping[str, Any] | None = None,
    scenario_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Compare genetic prediction methods on identical random train/test splits.

    Parameters
    ----------
    genotypes
        n×p dosages: DataFrame indexed by sample ID, array (IDs ``"id1"``…), or a PLINK
        prefix.
    phenotype
        A Series indexed by sample ID (people without a value are left out), an array in
        genotype row order, or a scenario name (``"linear"``, ``"hyperbolic"``,
        ``"power"``, ``"cosh"``, ``"ricker"``) to simulate one with
        :func:`ntkmixed.simulate.phenotype` (``seed`` and ``scenario_options``, e.g.
        ``{"h2": 0.5, "n_causal": 20}``).
    methods
        Any of ``"gblup"`` (``fit`` with ``GRM()``, MINQUE1), ``"ntk-lmm"`` (``fit`` with
        ``NTK(depth, width, kernel_seed)``, MINQUE1), ``"ntk-krr"`` (``krr`` with the same
        NTK, λ by CV), ``"nngp-krr"`` (``krr`` with ``NNGP(depth)``), ``"ntk-inf-krr"``
        (``krr`` with the analytic ``NTK(depth, width=None)``) and ``"nn"``
        (:class:`ntkmixed.nn.MLPRegressor`, seeded with the split number); or
        ``(name, function)`` pairs for your own method (see ``MethodFunction``).
    n_splits, test_size, seed
        Splits from :func:`make_splits`; ``seed`` also seeds a simulated phenotype.
    covariates
        DataFrame indexed by sample ID: fixed effects of every model (``y ~ 1 + ...``) and
        extra inputs of the network (categoricals one-hot coded).
    progress
        tqdm bar over splits: ``None`` = only when stderr is a terminal.
    depth, width, kernel_seed
        The network of the NTK methods: hidden layers, width of the empirical NTK and its
        initialisation seed (``NNGP`` and the analytic NTK use ``depth`` only).
    krr_options, nn_options
        Extra arguments of :func:`ntkmixed.krr` (e.g. ``lambdas``, ``cv``) and of
        :class:`~ntkmixed.nn.MLPRegressor`.
    scenario_options
        Arguments of :func:`ntkmixed.simulate.phenotype` when ``phenotype`` is a scenario
        name.

    Returns
    -------
    DataFrame
        One row per method and split: ``method``, ``split``, ``cor`` (Pearson correlation
        of predicted and observed test phenotypes), ``mse``, ``seconds`` (kernel build,
        fit and prediction), ``n_train``, ``n_test``, ``warnings`` (distinct warning
        messages, ``""`` if none) and, for a simulated phenotype, ``scenario`` and ``h2``.
        ``.attrs["test_ids"]`` lists the test IDs of every split.
    """
    where = "compare"
    G, ids, snp_names = coerce_genotypes(genotypes, "genotypes", where)
    if ids is None:
        ids = pd.Index([f"id{i + 1}" for i in range(G.shape[0])])
    G_frame = pd.DataFrame(G, index=ids, columns=snp_names)
    scenario = None
    if isinstance(phenotype, str):
        from .simulate import phenotype as simulate_phenotype  # noqa: PLC0415 (imports msprime lazily)

        scenario = phenotype
        simulated = simulate_phenotype(G_frame, phenotype, seed=seed, **dict(scenario_options or {}))
        y = simulated.y
    else:
        if scenario_options:
            raise NtkmixedError(f"The 'scenario_options' parameter of {where} needs a scenario name as 'phenotype'.")
        y = _as_phenotype(phenotype, ids)
    data = _training_frame(y, covariates, where)
    G_frame = G_frame.loc[data.index]
    runners = _runners(methods, depth, width, kernel_seed, krr_options, nn_options, covariates is not None)
    splits = make_splits(data.index, n_splits, test_size, seed)

    rows = []
    for split, (train_ids, test_ids) in enumerate(_progress(splits, progress)):
        train, test = data.loc[train_ids], data.loc[test_ids]
        G_train, G_test = G_frame.loc[train_ids], G_frame.loc[test_ids]
        shared = _SplitKernels(train, G_train)
        for name, runner in runners:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                predicted = runner(train, G_train, test, G_test, split, shared)
                seconds = time.perf_counter() - start
            predicted = _check_predictions(predicted, test_ids, name)
            observed = test["y"].to_numpy()
            rows.append(
                {
                    "method": name,
                    "split": split,
                    "cor": _correlation(predicted, observed),
                    "mse": float(np.mean((predicted - observed) ** 2)),
                    "seconds": seconds,
                    "n_train": len(train_ids),
                    "n_test": len(test_ids),
                    "warnings": "; ".join(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)),
                }
            )
    results = pd.DataFrame(rows)
    if scenario is not None:
        results["scenario"] = scenario
        results["h2"] = simulated.h2
    results.attrs["test_ids"] = [list(test_ids) for _, test_ids in splits]
    return results


# --- the built-in methods -------------------------------------------------------------
def _runners(methods, depth, width, kernel_seed, krr_options, nn_options, has_covariates):
    """``(name, runner)`` pairs; a runner takes (train, G_train, test, G_test, split,
    shared kernels of the split)."""
    if isinstance(methods, str):
        methods = [methods]
    krr_options = dict(krr_options or {})
    nn_options = dict(nn_options or {})
    ntk = kernels.NTK(depth=depth, width=width, seed=kernel_seed, progress=False)
    built_in = {
        "gblup": lambda: _lmm_runner(kernels.GRM()),
        "ntk-lmm": lambda: _lmm_runner(ntk),
        "ntk-krr": lambda: _krr_runner(ntk, krr_options),
        "nngp-krr": lambda: _krr_runner(kernels.NNGP(depth=depth), krr_options),
        "ntk-inf-krr": lambda: _krr_runner(kernels.NTK(depth=depth, width=None), krr_options),
        "nn": lambda: _nn_runner(nn_options, has_covariates),
    }
    runners, seen = [], set()
    for method in methods:
        if isinstance(method, tuple) and len(method) == 2 and callable(method[1]):
            name, function = str(method[0]), method[1]
            runner = lambda train, G_train, test, G_test, split, shared, f=function: f(train, G_train, test, G_test, split)  # noqa: E731
        elif isinstance(method, str) and method in built_in:
            name, runner = method, built_in[method]()
        else:
            choices = ", ".join(repr(m) for m in METHOD_LABELS)
            raise NtkmixedError(
                f"The 'methods' parameter of compare takes {{{choices}}} or (name, function) "
                f"pairs. Got {method!r}."
            )
        if name in seen:
            raise NtkmixedError(f"The 'methods' parameter of compare lists {name!r} twice.")
        seen.add(name)
        runners.append((name, runner))
    if not runners:
        raise NtkmixedError("The 'methods' parameter of compare must name at least one method.")
    return runners


class _SplitKernels:
    """The kernels of one split's training people, built once and shared by every method
    that uses the same kernel (NTK-LMM and NTK-KRR: one NTK build and one
    eigendecomposition per split; its cost counts in the first method's seconds)."""

    def __init__(self, train: pd.DataFrame, G_train: pd.DataFrame):
        self.train, self.G_train = train, G_train
        self._prepared: dict = {}

    def prepared(self, kernel) -> KernelData:
        if kernel not in self._prepared:
            self._prepared[kernel] = prepare(_formula(self.train), self.train, self.G_train, kernel, "compare", False)
        return self._prepared[kernel]


def _formula(data: pd.DataFrame) -> str:
    return formula_from_columns("y", [c for c in data.columns if c != "y"])


def _lmm_runner(kernel):
    def run(train, G_train, test, G_test, split, shared):
        res = KernelLMM.from_kernel_data(shared.prepared(kernel)).fit(method="minque1")
        return res.predict(newdata=test, genotypes=G_test)

    return run


def _krr_runner(kernel, options):
    def run(train, G_train, test, G_test, split, shared):
        res = krr_on(shared.prepared(kernel), **{"seed": split, "progress": False, **options})
        return res.predict(newdata=test, genotypes=G_test)

    return run


def _nn_runner(options, has_covariates):
    def run(train, G_train, test, G_test, split, shared):
        model = MLPRegressor(**{"seed": split, **options})
        if not has_covariates:
            return model.fit(G_train, train["y"]).predict(G_test)
        # dummy columns come from the training people only; unseen test levels code as 0
        train_cov = pd.get_dummies(train.drop(columns="y"), drop_first=True, dtype=float)
        test_cov = pd.get_dummies(test.drop(columns="y"), dtype=float).reindex(columns=train_cov.columns, fill_value=0.0)
        model.fit(G_train, train["y"], covariates=train_cov)
        return model.predict(G_test, covariates=test_cov)

    return run


# --- helpers --------------------------------------------------------------------------
def _as_phenotype(phenotype: Any, ids: pd.Index) -> pd.Series:
    """The phenotype as float64 by sample ID: numbers, NaN for missing (those people are
    left out); text and infinite values are errors naming the people."""
    if isinstance(phenotype, pd.DataFrame):
        if phenotype.shape[1] != 1:
            raise NtkmixedError(f"The 'phenotype' argument of compare must be one column. Got {phenotype.shape[1]}.")
        phenotype = phenotype.iloc[:, 0]
    if isinstance(phenotype, pd.Series):
        y = _numeric_phenotype(phenotype)
        if not y.index.isin(ids).any():
            raise NtkmixedError(
                f"The 'phenotype' Series of compare shares no sample ID with the genotypes: it has "
                f"{examples(list(y.index[:3]), 3)}…, the genotypes {examples(list(ids[:3]), 3)}….")
        return y.reindex(ids).rename("y")
    try:
        values = np.asarray(phenotype, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise NtkmixedError(
            f"The 'phenotype' argument of compare must be numeric (a Series indexed by sample ID, an array, "
            f"or a scenario name). Got a {type(phenotype).__name__} with non-numeric values.") from None
    if values.size != len(ids):
        raise NtkmixedError(
            f"Found input variables with inconsistent numbers of samples: genotypes {len(ids)}, "
            f"phenotype {values.size}."
        )
    return _numeric_phenotype(pd.Series(values, index=ids, name="y"))


def _numeric_phenotype(phenotype: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(phenotype) and not pd.api.types.is_bool_dtype(phenotype):
        y = phenotype.astype(np.float64)
    else:
        y = pd.to_numeric(phenotype, errors="coerce").astype(np.float64)
        text = phenotype.notna() & y.isna()
        if text.any():
            raise NtkmixedError(
                f"The 'phenotype' argument of compare must be numeric (NaN for missing). Got non-numeric "
                f"values for {int(text.sum())} people: "
                + ", ".join(f"{i!r}: {v!r}" for i, v in phenotype[text].iloc[:5].items()) + ".")
    infinite = np.isinf(y.to_numpy())
    if infinite.any():
        raise NtkmixedError(
            f"The 'phenotype' argument of compare has infinite values for {int(infinite.sum())} people: "
            f"{examples(list(y.index[infinite]))}.")
    return y


def _training_frame(y: pd.Series, covariates: pd.DataFrame | None, where: str) -> pd.DataFrame:
    data = y.rename("y").to_frame()
    if covariates is not None:
        if not isinstance(covariates, pd.DataFrame):
            raise NtkmixedError(f"The 'covariates' argument of {where} must be a DataFrame indexed by sample ID.")
        if "y" in covariates.columns:
            raise NtkmixedError(f"The 'covariates' argument of {where} must not have a column named 'y'.")
        data = data.join(covariates, how="left")
    complete = data.notna().all(axis=1)
    if int(complete.sum()) < 10:
        raise NtkmixedError(f"{where} needs at least 10 people with a phenotype (and covariates). Got {int(complete.sum())}.")
    return data[complete]


def _check_predictions(predicted: Any, test_ids: pd.Index, name: str) -> np.ndarray:
    if isinstance(predicted, pd.Series):
        missing = test_ids.difference(predicted.index)
        if len(missing):
            raise NtkmixedError(f"Method {name!r} returned no prediction for {len(missing)} test people.")
        predicted = predicted.loc[test_ids]
    values = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if values.size != len(test_ids):
        raise NtkmixedError(f"Method {name!r} returned {values.size} predictions for {len(test_ids)} test people.")
    return values


def _correlation(predicted: np.ndarray, observed: np.ndarray) -> float:
    if np.std(predicted) == 0 or np.std(observed) == 0:
        return float("nan")  # a constant prediction has no correlation
    return float(np.corrcoef(predicted, observed)[0, 1])


def _progress(splits, progress):
    if not show_progress(progress):
        return splits
    from tqdm.auto import tqdm

    return tqdm(splits, desc="splits", unit="split")
