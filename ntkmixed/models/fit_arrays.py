"""What a kernel LMM's estimates imply on its training people: β̂, Cov(β̂), Py, BLUPs, and
their prediction-error variances (computed from the engine state on first use)."""

from __future__ import annotations

import numpy as np


class FitArrays:
    """What the estimates imply, on the training people (positions = rows of y).

    ``pev`` (n × c) and ``pev_total`` (n) come from the arrays given, or are computed from
    ``state`` when first asked for; the state is released after that."""

    def __init__(self, beta, cov_beta, Py, blup, pev=None, pev_total=None, state=None):
        self.beta, self.cov_beta, self.Py, self.blup = beta, cov_beta, Py, blup
        self._pev = None if pev is None else (pev, pev_total)
        self._state = state

    @classmethod
    def from_state(cls, state, n_components: int) -> "FitArrays":
        blup = np.column_stack([state.blup(i) for i in range(n_components)])
        return cls(state.beta(), state.cov_beta(), state.Py(), blup, state=state)

    def _pevs(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pev is None:
            c = self.blup.shape[1]
            self._pev = (np.column_stack([self._state.pev(i) for i in range(c)]), self._state.total_pev())
            self._state = None
        return self._pev

    @property
    def pev(self) -> np.ndarray:
        return self._pevs()[0]

    @property
    def pev_total(self) -> np.ndarray:
        return self._pevs()[1]
