"""What every results type fitted on a :class:`~ntkmixed.data.design.Design` shares: row
accounting, residuals and the prediction plumbing (fixed part from the stored ModelSpec,
genetic part from cross-kernels of new people against the training people)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_flag, examples
from ..data.design import Design
from ..data.samples import Samples
from ..exceptions import DataWarning, NtkmixedError, warn


class DesignResults:
    """Base of LMM and KRR results. Subclasses set ``design`` and define ``fitted``,
    ``_fixed_coefficients`` and ``_genetic_prediction``."""

    design: Design

    @property
    def formula(self) -> str:
        """The model formula."""
        return self.design.formula

    @property
    def nobs(self) -> int:
        """Number of people the model was fitted on."""
        return int(self.design.n)

    @property
    def n_dropped(self) -> int:
        """Number of rows of ``data`` left out (missing response, covariates or genotypes)."""
        return self.design.n_dropped

    @property
    def dropped(self) -> dict[str, int]:
        """Rows left out, counted by reason."""
        return dict(self.design.dropped)

    @property
    def fitted(self) -> pd.Series:
        raise NotImplementedError

    @cached_property
    def resid(self) -> pd.Series:
        """Residuals y − fitted, by sample ID."""
        return pd.Series(self.design.y - self.fitted.to_numpy(), index=self.design.ids, name="resid")

    def _fixed_coefficients(self) -> np.ndarray:
        raise NotImplementedError

    def _genetic_prediction(self, new_samples: Samples) -> np.ndarray:
        raise NotImplementedError

    def predict(self, newdata: pd.DataFrame | None = None, genotypes: Any = None, allow_new_levels: bool = False) -> pd.Series:
        """Predictions for new people (the training fit never sees them).

        Without ``newdata``: the fitted values. Unseen factor levels raise unless
        ``allow_new_levels=True`` (they then get the reference level's fixed effect);
        rows with missing covariates predict NaN, and so do people without any genotype
        call (with a :class:`~ntkmixed.exceptions.DataWarning`; training drops such
        people). Genotypes follow the value rule of :mod:`ntkmixed.data.genotypes`.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            The new people's covariates (the formula's right-hand-side columns), indexed
            by sample ID.
        genotypes : array, DataFrame, Genotypes or str, optional
            Their genotypes, with the training SNPs (as for :func:`ntkmixed.fit`);
            standardised with the training means and SDs.
        allow_new_levels : bool, default False
            Predict people with unseen factor levels at the reference level instead of
            raising.

        Returns
        -------
        pandas.Series
            Predictions indexed like ``newdata`` (the fitted values without it).
        """
        allow_new_levels = check_flag(allow_new_levels, "allow_new_levels", "predict")
        if newdata is None:
            if genotypes is not None:
                raise NtkmixedError("The 'genotypes' argument of predict needs 'newdata' too.")
            return self.fitted.rename("predicted")
        X_new = self.design.new_X(newdata, allow_new_levels=allow_new_levels)
        new_samples, uncalled = self.design.new_people(newdata.index, genotypes)
        values = X_new.to_numpy() @ self._fixed_coefficients() + self._genetic_prediction(new_samples)
        if uncalled.any():
            values[uncalled] = np.nan
            warn(f"{int(uncalled.sum())} new people have no genotype call at any training SNP and are "
                 f"predicted NaN: {examples(list(newdata.index[uncalled]))}.", DataWarning)
        return pd.Series(values, index=newdata.index, name="predicted")
