"""The people a kernel is evaluated on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Samples:
    """Sample IDs and their standardised genotypes (rows in the order of ``ids``).

    ``Z`` is None when the model has no genotypes (only precomputed kernels).
    """

    ids: pd.Index
    Z: np.ndarray | None
