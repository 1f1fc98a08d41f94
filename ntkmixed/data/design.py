"""From (formula, data, genotypes) to aligned arrays: the response, the fixed-effect
design, the sample IDs and the genotypes of the people a model is fitted to.

Everything that decides which rows are used lives here, so that y, X and the genotype rows
can never fall out of alignment, and every dropped row is counted.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from ..exceptions import DataWarning, NtkmixedError, RankDeficientError, warn
from .alignment import genotype_rows, missing_ids_message
from .design_checks import (check_data_frame, check_finite, check_new_columns, check_one_response,
                            check_response_column, explain_no_rows, raise_unseen_levels, unseen_levels)
from .genotype_source import (ArraySource, GenotypeSource, PlinkSource, StandardizedGenotypes, called_counts,
                              learn_standardization, source_of)
from .genotypes import Standardization, coerce_genotypes
from .samples import Samples

_NEW_LEVEL_MESSAGE = "outside of the nominated levels"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Design:
    """The aligned training data of a model (positions are rows of ``y`` and ``X``).

    ``genotype_source`` holds the training people's raw dosages, the one copy kept: in
    memory compactly (int8 codes for 0/1/2 dosages), or still in the PLINK fileset or
    dask array they came from. The standardised genotypes of :attr:`samples` are read
    from it in SNP blocks, and formed as one float64 matrix only when a kernel needs it.
    """

    formula: str
    response_name: str
    y: np.ndarray
    X: np.ndarray
    column_names: list[str]
    ids: pd.Index
    model_spec: Any
    n_input: int
    dropped: dict[str, int]
    genotype_source: GenotypeSource | None
    snp_names: list[str] | None
    standardization: Standardization | None
    covariate_data: pd.DataFrame = field(repr=False, default=None)
    n_unused_genotype_rows: int = 0

    @property
    def n(self) -> int:
        return self.y.size

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    @property
    def genotypes(self) -> np.ndarray | None:
        """The training people's dosages as one float64 n × p array (formed on each call)."""
        return None if self.genotype_source is None else self.genotype_source.to_array()

    @cached_property
    def samples(self) -> Samples:
        """The training people with their standardised genotypes, streamed from
        :attr:`genotype_source` (formed as a matrix at most once, when a kernel needs it)."""
        if self.standardization is None:
            return Samples(ids=self.ids, Z=None)
        return Samples(ids=self.ids, streamed=StandardizedGenotypes(self.genotype_source, self.standardization))

    def new_X(self, newdata: pd.DataFrame, allow_new_levels: bool = False) -> pd.DataFrame:
        """Fixed-effect design for new rows, rebuilt from the training ModelSpec (training
        levels and transform state are reused). Rows with missing covariates give NaN;
        infinite values, columns that changed type and (unless ``allow_new_levels``)
        unseen factor levels are errors."""
        check_data_frame(newdata, "newdata", "predict")
        missing = sorted(set(self.model_spec.required_variables) - set(newdata.columns))
        if missing:
            raise NtkmixedError(
                f"The 'newdata' argument of predict lacks column(s) used by the formula: {missing}."
            )
        encoder_state = getattr(self.model_spec, "encoder_state", {}) or {}
        check_new_columns(encoder_state, newdata)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X = self.model_spec.get_model_matrix(newdata, na_action="ignore")
        for warning in caught:
            message = str(warning.message)
            if _NEW_LEVEL_MESSAGE in message and not allow_new_levels:
                raise_unseen_levels(unseen_levels(encoder_state, newdata),
                                    message.split(":", 1)[-1].split(".")[0].strip())
        values = np.asarray(X, dtype=np.float64)
        check_finite(values, self.column_names, newdata.index, "The 'newdata' argument", "predict")
        return pd.DataFrame(values, index=newdata.index, columns=self.column_names)

    def new_samples(self, ids: pd.Index, genotypes: Any) -> Samples:
        """Standardised genotypes of new people, in the order of ``ids``."""
        return self.new_people(ids, genotypes)[0]

    def new_people(self, ids: pd.Index, genotypes: Any) -> tuple[Samples, np.ndarray]:
        """:meth:`new_samples`, and which of the people have no genotype call at all (their
        prediction is NaN, as such people are dropped in training)."""
        ids = pd.Index(ids)
        if self.standardization is None:
            return Samples(ids=ids, Z=None), np.zeros(len(ids), dtype=bool)
        if genotypes is None:
            raise NtkmixedError(
                "The 'genotypes' argument of predict is required for new individuals: the "
                "model's kernels are computed from genotypes."
            )
        values, geno_ids, snp_names = coerce_genotypes(genotypes, "genotypes", "predict")
        positions = genotype_rows(geno_ids, values.shape[0], ids, "predict", data_name="newdata")
        if (positions < 0).any():
            raise NtkmixedError(missing_ids_message(
                ids, positions, "newdata sample ID(s) are not in the 'genotypes' index of predict"))
        values = values[positions]
        if geno_ids is not None:
            values = self._training_snp_columns(values, snp_names)
        Z = self.standardization.apply(values)
        uncalled = np.isnan(values[:, self.standardization.kept]).all(axis=1)
        return Samples(ids=ids, Z=Z), uncalled

    def _training_snp_columns(self, values: np.ndarray, snp_names: list[str]) -> np.ndarray:
        """The columns of the training SNPs, in training order (matched by SNP name)."""
        if self.snp_names is None or list(snp_names) == list(self.snp_names):
            return values
        if not set(self.snp_names) <= set(snp_names):
            lacking = sorted(set(self.snp_names) - set(snp_names))[:5]
            raise NtkmixedError(f"The 'genotypes' argument of predict lacks SNP(s) used in training: {lacking}.")
        return values[:, pd.Index(snp_names).get_indexer(self.snp_names)]


@dataclass
class _AlignedGenotypes:
    """Which genotype row belongs to each row of ``data`` (−1: none), and who of them
    has no call at all; the dosages stay in ``source``."""

    source: GenotypeSource
    rows: np.ndarray
    snp_names: list[str]
    unmatched: np.ndarray
    all_missing: np.ndarray
    n_unused: int


def build_design(
    formula: str, data: Any, genotypes: Any = None, where: str = "fit", n_parameters_extra: int = 1
) -> Design:
    """Parse the formula, align genotypes by sample ID or position, drop incomplete rows.

    ``n_parameters_extra`` is the number of variance parameters besides the fixed effects,
    used to check there are more rows than parameters.
    """
    if not isinstance(formula, str):
        raise NtkmixedError(
            f"The 'formula' argument of {where} must be a string such as 'y ~ sex + age'. "
            f"Got {type(formula).__name__} {formula!r}."
        )
    check_data_frame(data, "data", where)
    parsed = _parse_formula(formula, where)
    _check_variables(parsed, data, where)
    lhs_variables = set(parsed.lhs.required_variables)
    check_response_column(lhs_variables, formula.split("~", 1)[0], data, where)
    n_input = len(data)
    dropped: dict[str, int] = {}
    keep = np.ones(n_input, dtype=bool)
    aligned = None
    if genotypes is not None:
        aligned = _align_genotypes(genotypes, data.index, where)
        if aligned.unmatched.any():
            dropped["not in genotypes"] = int(aligned.unmatched.sum())
        if (aligned.all_missing & ~aligned.unmatched).any():
            dropped["missing genotypes"] = int((aligned.all_missing & ~aligned.unmatched).sum())
        keep &= ~(aligned.unmatched | aligned.all_missing)

    frame = data.reset_index(drop=True)
    incomplete = keep & ~_complete_rows(parsed, frame)
    if incomplete.any():
        dropped["missing response or covariates"] = int(incomplete.sum())
    if not (keep & ~incomplete).any() and keep.any():
        explain_no_rows(frame, lhs_variables, set(parsed.rhs.required_variables), keep, where)
    keep &= ~incomplete
    positions = np.flatnonzero(keep)
    y, X, column_names, response_name, spec = _model_matrices(parsed, frame, positions, where)
    kept_ids = data.index[positions]
    check_finite(y, [response_name], kept_ids, f"The response {response_name!r}", where)
    check_finite(X, column_names, kept_ids, "The fixed-effect design", where)

    if sum(dropped.values()) and where != "quiet":
        detail = ", ".join(f"{count} {reason}" for reason, count in dropped.items())
        warn(f"Dropped {sum(dropped.values())} of {n_input} rows ({detail}).", DataWarning)
    _check_response(y, where)
    _check_row_count(y.size, X.shape[1], n_parameters_extra, where, dropped)
    _check_rank(X, column_names)

    standardization = training_genotypes = None
    if aligned is not None:
        training_genotypes = aligned.source.rows(aligned.rows[positions])
        standardization = learn_standardization(training_genotypes, aligned.snp_names)
    covariates = sorted(v for v in parsed.rhs.required_variables if v in data.columns)
    return Design(
        formula=formula,
        response_name=response_name,
        y=y,
        X=X,
        column_names=column_names,
        ids=kept_ids,
        model_spec=spec,
        n_input=n_input,
        dropped=dropped,
        genotype_source=training_genotypes,
        snp_names=None if aligned is None else aligned.snp_names,
        standardization=standardization,
        covariate_data=data.iloc[positions][covariates] if covariates else pd.DataFrame(index=kept_ids),
        n_unused_genotype_rows=0 if aligned is None else aligned.n_unused,
    )


def formula_from_columns(response: str, covariates: list[str]) -> str:
    """``"y ~ a + b"`` from column names (``"y ~ 1"`` without covariates); names that are
    not Python identifiers are quoted with backticks, as formulaic expects."""
    quote = lambda name: name if _IDENTIFIER.match(name) else f"`{name}`"  # noqa: E731
    return f"{quote(response)} ~ " + (" + ".join(quote(c) for c in covariates) if covariates else "1")


def _check_variables(parsed: Formula, data: pd.DataFrame, where: str) -> None:
    required = set(parsed.lhs.required_variables) | set(parsed.rhs.required_variables)
    absent = sorted(v for v in required if v not in data.columns and not _is_environment_name(v))
    if absent:
        raise NtkmixedError(
            f"The 'formula' of {where} uses variable(s) not in 'data': {absent}. "
            f"Columns available: {list(data.columns)[:20]}."
        )


def _align_genotypes(genotypes: Any, ids: pd.Index, where: str) -> _AlignedGenotypes:
    """Pair genotype rows with ``data`` by ID (or position) without copying dosages as
    float64: one pass over the matched rows counts each person's calls (and checks the
    values of a source read lazily, e.g. a dask array)."""
    source, geno_ids, snp_names = source_of(genotypes, "genotypes", where)
    if source.n_snps == 0:
        raise NtkmixedError(f"The 'genotypes' argument of {where} has no SNP column.")
    positions = genotype_rows(geno_ids, source.n_samples, ids, where)
    unmatched = positions < 0
    matched = positions[~unmatched]
    calls = called_counts(source.rows(matched), "genotypes", where,
                          check=not isinstance(source, (ArraySource, PlinkSource)))
    all_missing = np.zeros(len(ids), dtype=bool)
    all_missing[~unmatched] = calls == 0
    n_unused = 0 if geno_ids is None else int(len(geno_ids) - np.unique(matched).size)
    return _AlignedGenotypes(source, positions, snp_names, unmatched, all_missing, n_unused)


def _complete_rows(parsed: Formula, frame: pd.DataFrame) -> np.ndarray:
    """Rows with a response and every covariate (formulaic's missing-value rule)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        matrices = model_matrix(parsed, frame, na_action="drop")
    complete = np.zeros(len(frame), dtype=bool)
    complete[np.asarray(matrices.rhs.index, dtype=int)] = True
    lhs_rows = np.zeros(len(frame), dtype=bool)
    lhs_rows[np.asarray(matrices.lhs.index, dtype=int)] = True
    return complete & lhs_rows


def _model_matrices(parsed: Formula, frame: pd.DataFrame, positions: np.ndarray, where: str):
    """``(y, X, column names, response name, ModelSpec)`` learned on the rows used, so that
    factor levels (unused ones dropped, as R's model.frame does) and stateful transforms
    come from the fitted people."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        matrices = model_matrix(parsed, _drop_unused_levels(frame.iloc[positions]), na_action="drop")
    check_one_response([str(c) for c in matrices.lhs.columns], str(parsed.lhs), where)
    y = pd.DataFrame(matrices.lhs).to_numpy(dtype=np.float64)[:, 0]
    rhs = pd.DataFrame(matrices.rhs)
    return y, rhs.to_numpy(dtype=np.float64), [str(c) for c in rhs.columns], str(matrices.lhs.columns[0]), matrices.rhs.model_spec


def _check_row_count(n: int, n_fixed: int, n_parameters_extra: int, where: str, dropped: dict[str, int]) -> None:
    if n <= n_fixed + n_parameters_extra:
        detail = ", ".join(f"{count} {reason}" for reason, count in dropped.items() if count)
        raise NtkmixedError(
            f"{where} needs more complete rows than parameters: got {n} rows for "
            f"{n_fixed} fixed effects and {n_parameters_extra} variance components"
            + (f" (rows dropped: {detail})." if detail else ".")
        )


def _drop_unused_levels(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].cat.remove_unused_categories()
    return frame.reset_index(drop=True)


def _parse_formula(formula: str, where: str) -> Formula:
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic raises several parser exception types
        raise NtkmixedError(f"The 'formula' of {where} could not be parsed: {formula!r} ({exc}).") from None
    if not hasattr(parsed, "lhs") or len(parsed.lhs) == 0:
        raise NtkmixedError(
            f"The 'formula' of {where} must name a response, as in 'y ~ x'. Got {formula!r}."
        )
    return parsed


def _is_environment_name(name: str) -> bool:
    return name in {"np", "numpy", "pd", "math"}


def _check_response(y: np.ndarray, where: str) -> None:
    if y.size and np.ptp(y) == 0:
        raise NtkmixedError(
            f"The response of {where} is constant ({y[0]!r} for all {y.size} rows); "
            "variance components cannot be estimated."
        )


def _check_rank(X: np.ndarray, column_names: list[str]) -> None:
    """Error naming every column that is a linear combination of the columns before it."""
    if X.shape[1] == 0:
        return
    scale = np.linalg.norm(X, axis=0)
    aliased = []
    basis = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        column = X[:, j]
        if scale[j] == 0:
            aliased.append(column_names[j])
            continue
        residual = column - basis @ (basis.T @ column)
        if np.linalg.norm(residual) <= 1e-9 * scale[j] * np.sqrt(X.shape[0]):
            aliased.append(column_names[j])
        else:
            basis = np.column_stack([basis, residual / np.linalg.norm(residual)])
    if aliased:
        raise RankDeficientError(
            f"The fixed-effect design is rank deficient: column(s) {aliased} are aliased with "
            "earlier columns (linear combinations of them). Remove or recode them."
        )
