"""From (formula, data, genotypes) to aligned arrays: the response, the fixed-effect
design, the sample IDs and the standardised genotypes of the people a model is fitted to.

Everything that decides which rows are used lives here, so that y, X and the genotype rows
can never fall out of alignment, and every dropped row is counted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from .exceptions import warn, DataWarning, NtkmixedError, RankDeficientError
from .genotypes import Standardization, coerce_genotypes, standardize
from .kernels.base import Samples

_NEW_LEVEL_MESSAGE = "outside of the nominated levels"


@dataclass
class Design:
    """The aligned training data of a model (positions are rows of ``y`` and ``X``)."""

    formula: str
    response_name: str
    y: np.ndarray
    X: np.ndarray
    column_names: list[str]
    ids: pd.Index
    model_spec: Any
    n_input: int
    dropped: dict[str, int]
    genotypes: np.ndarray | None
    snp_names: list[str] | None
    standardization: Standardization | None
    samples: Samples
    covariate_data: pd.DataFrame = field(repr=False, default=None)
    n_unused_genotype_rows: int = 0

    @property
    def n(self) -> int:
        return self.y.size

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    def new_X(self, newdata: pd.DataFrame, allow_new_levels: bool = False) -> pd.DataFrame:
        """Fixed-effect design for new rows, rebuilt from the training ModelSpec (training
        levels and transform state are reused). Rows with missing covariates give NaN."""
        if not isinstance(newdata, pd.DataFrame):
            raise NtkmixedError(
                f"The 'newdata' argument of predict must be a pandas DataFrame. Got {type(newdata).__name__}."
            )
        missing = sorted(set(self.model_spec.required_variables) - set(newdata.columns))
        if missing:
            raise NtkmixedError(
                f"The 'newdata' argument of predict lacks column(s) used by the formula: {missing}."
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X = self.model_spec.get_model_matrix(newdata, na_action="ignore")
        for warning in caught:
            message = str(warning.message)
            if _NEW_LEVEL_MESSAGE in message and not allow_new_levels:
                raise NtkmixedError(
                    "The 'newdata' argument of predict has factor levels not seen in training "
                    f"({message.split(':', 1)[-1].split('.')[0].strip()}). Pass "
                    "allow_new_levels=True to predict them at the reference level."
                )
        X = pd.DataFrame(np.asarray(X, dtype=np.float64), index=newdata.index, columns=self.column_names)
        return X

    def new_samples(self, ids: pd.Index, genotypes: Any) -> Samples:
        """Standardised genotypes of new people, in the order of ``ids``."""
        if self.standardization is None:
            return Samples(ids=pd.Index(ids), Z=None)
        if genotypes is None:
            raise NtkmixedError(
                "The 'genotypes' argument of predict is required for new individuals: the "
                "model's kernels are computed from genotypes."
            )
        values, geno_ids, snp_names = coerce_genotypes(genotypes, "genotypes", "predict")
        if geno_ids is None:
            if values.shape[0] != len(ids):
                raise NtkmixedError(
                    "Found input variables with inconsistent numbers of samples: "
                    f"newdata has {len(ids)} rows, genotypes has {values.shape[0]}."
                )
        else:
            positions = geno_ids.get_indexer(ids)
            if (positions < 0).any():
                absent = ids[positions < 0][:5].tolist()
                raise NtkmixedError(
                    f"{int((positions < 0).sum())} newdata sample ID(s) are not in the "
                    f"'genotypes' index of predict: {absent}."
                )
            values = values[positions]
            if self.snp_names is not None and list(snp_names) != list(self.snp_names):
                if set(self.snp_names) <= set(snp_names):
                    order = pd.Index(snp_names).get_indexer(self.snp_names)
                    values = values[:, order]
                else:
                    lacking = sorted(set(self.snp_names) - set(snp_names))[:5]
                    raise NtkmixedError(
                        f"The 'genotypes' argument of predict lacks SNP(s) used in training: {lacking}."
                    )
        return Samples(ids=pd.Index(ids), Z=self.standardization.apply(values))


def build_design(
    formula: str, data: Any, genotypes: Any = None, where: str = "fit", n_parameters_extra: int = 1
) -> Design:
    """Parse the formula, align genotypes by sample ID or position, drop incomplete rows.

    ``n_parameters_extra`` is the number of variance parameters besides the fixed effects,
    used to check there are more rows than parameters.
    """
    if not isinstance(formula, str):
        formula = str(formula)
    if not isinstance(data, pd.DataFrame):
        raise NtkmixedError(
            f"The 'data' argument of {where} must be a pandas DataFrame. Got {type(data).__name__}."
        )
    parsed = _parse_formula(formula, where)
    required = set(parsed.lhs.required_variables) | set(parsed.rhs.required_variables)
    absent = sorted(v for v in required if v not in data.columns and not _is_environment_name(v))
    if absent:
        raise NtkmixedError(
            f"The 'formula' of {where} uses variable(s) not in 'data': {absent}. "
            f"Columns available: {list(data.columns)[:20]}."
        )
    dropped: dict[str, int] = {}
    n_input = len(data)
    ids = data.index

    values = geno_ids = snp_names = None
    n_unused = 0
    keep = np.ones(n_input, dtype=bool)
    if genotypes is not None:
        values, geno_ids, snp_names = coerce_genotypes(genotypes, "genotypes", where)
        if geno_ids is None:
            if values.shape[0] != n_input:
                raise NtkmixedError(
                    "Found input variables with inconsistent numbers of samples: data has "
                    f"{n_input} rows, genotypes has {values.shape[0]}. Index the genotypes by "
                    "sample ID (a DataFrame) to align them by ID."
                )
        else:
            if ids.has_duplicates:
                raise NtkmixedError(
                    f"The 'data' argument of {where} has duplicated index values (sample IDs), so "
                    "genotypes cannot be aligned by ID."
                )
            positions = geno_ids.get_indexer(ids)
            unmatched = positions < 0
            if unmatched.any():
                dropped["not in genotypes"] = int(unmatched.sum())
            keep &= ~unmatched
            n_unused = int(len(geno_ids) - np.unique(positions[~unmatched]).size)
            aligned = np.full((n_input, values.shape[1]), np.nan)
            aligned[~unmatched] = values[positions[~unmatched]]
            values = aligned
        all_missing = np.isnan(values).all(axis=1) & keep
        if all_missing.any():
            dropped["missing genotypes"] = int(all_missing.sum())
        keep &= ~all_missing

    frame = data.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        matrices = model_matrix(parsed, frame, na_action="drop")
    complete = np.zeros(n_input, dtype=bool)
    complete[np.asarray(matrices.rhs.index, dtype=int)] = True
    lhs_rows = np.zeros(n_input, dtype=bool)
    lhs_rows[np.asarray(matrices.lhs.index, dtype=int)] = True
    complete &= lhs_rows
    incomplete = keep & ~complete
    if incomplete.any():
        dropped["missing response or covariates"] = int(incomplete.sum())
    keep &= complete

    positions = np.flatnonzero(keep)
    if matrices.lhs.shape[1] != 1:
        raise NtkmixedError(
            f"The 'formula' of {where} must have exactly one response on its left-hand side. "
            f"Got {matrices.lhs.shape[1]} columns: {list(matrices.lhs.columns)}."
        )
    # Rebuild on the rows actually used, so that factor levels (unused ones dropped, as
    # R's model.frame does) and stateful transforms are learned from the fitted people.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        matrices = model_matrix(parsed, _drop_unused_levels(frame.iloc[positions]), na_action="drop")
    lhs = matrices.lhs
    y = pd.DataFrame(lhs).to_numpy(dtype=np.float64)[:, 0]
    rhs = pd.DataFrame(matrices.rhs)
    X = rhs.to_numpy(dtype=np.float64)
    column_names = [str(c) for c in rhs.columns]
    kept_ids = ids[positions]

    if sum(dropped.values()) and where != "quiet":
        detail = ", ".join(f"{count} {reason}" for reason, count in dropped.items())
        warn(f"Dropped {sum(dropped.values())} of {n_input} rows ({detail}).", DataWarning)

    _check_response(y, where)
    n_parameters = X.shape[1] + n_parameters_extra
    if y.size <= n_parameters:
        raise NtkmixedError(
            f"{where} needs more complete rows than parameters: got {y.size} rows for "
            f"{X.shape[1]} fixed effects and {n_parameters_extra} variance components."
        )
    _check_rank(X, column_names)

    standardization = None
    Z = None
    aligned_genotypes = None
    if values is not None:
        aligned_genotypes = values[positions]
        Z, standardization = standardize(
            pd.DataFrame(aligned_genotypes, columns=snp_names), quiet=False
        )
    covariates = sorted(v for v in parsed.rhs.required_variables if v in data.columns)
    return Design(
        formula=formula,
        response_name=str(lhs.columns[0]),
        y=y,
        X=X,
        column_names=column_names,
        ids=kept_ids,
        model_spec=matrices.rhs.model_spec,
        n_input=n_input,
        dropped=dropped,
        genotypes=aligned_genotypes,
        snp_names=snp_names,
        standardization=standardization,
        samples=Samples(ids=kept_ids, Z=Z),
        covariate_data=data.iloc[positions][covariates] if covariates else pd.DataFrame(index=kept_ids),
        n_unused_genotype_rows=n_unused,
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
