"""Block conjugate gradients and the low-rank preconditioner against direct solves."""

from __future__ import annotations

import numpy as np

from ntkmixed.estimation.cg import conjugate_gradients
from ntkmixed.estimation.operators import DenseOperator, FactorOperator
from ntkmixed.estimation.preconditioner import LowRankPreconditioner, nystrom_factor


def _spiked(n=300, seed=0):
    """A GRM-like kernel with a few large eigenvalues (population structure)."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, 80)) / np.sqrt(80)
    F[:, :3] *= 30.0
    return F


def test_block_cg_solves_every_column_to_its_tolerance():
    F = _spiked()
    A = F @ F.T + 0.5 * np.eye(F.shape[0])
    B = np.random.default_rng(1).standard_normal((F.shape[0], 4))
    result = conjugate_gradients(lambda V: A @ V, B, tol=1e-10)
    np.testing.assert_allclose(result.solution, np.linalg.solve(A, B), rtol=1e-8, atol=1e-10)
    assert result.max_residual <= 1e-10
    warm = conjugate_gradients(lambda V: A @ V, B, x0=result.solution, tol=1e-10)
    assert warm.iterations == 0  # a converged start needs no further step


def test_nystrom_factor_recovers_a_low_rank_kernel_exactly():
    F = _spiked()[:, :40]
    L = nystrom_factor(FactorOperator(F), rank=60, seed=0)
    np.testing.assert_allclose(L @ L.T, F @ F.T, atol=1e-8 * np.abs(F @ F.T).max())


def test_the_preconditioner_cuts_cg_iterations_and_changes_no_solution():
    F = _spiked()
    weights = np.array([0.7, 0.3])
    A = weights[0] * F @ F.T + weights[1] * np.eye(F.shape[0])
    b = np.random.default_rng(2).standard_normal(F.shape[0])
    plain = conjugate_gradients(lambda V: A @ V, b, tol=1e-8)
    factor = nystrom_factor(DenseOperator(F @ F.T), rank=20, seed=3)
    preconditioned = conjugate_gradients(lambda V: A @ V, b, LowRankPreconditioner([factor], weights), tol=1e-8)
    np.testing.assert_allclose(preconditioned.solution, np.linalg.solve(A, b), rtol=1e-6)
    assert preconditioned.iterations < 0.6 * plain.iterations


def test_columns_may_be_systems_of_their_own():
    """by_column: each column solves (A + s_j I) x = b_j with its own shift s_j, and the
    preconditioner sees which columns it is given."""
    F = _spiked()
    A = F @ F.T
    n = A.shape[0]
    shifts = np.array([0.05, 0.5, 5.0, 50.0])
    B = np.random.default_rng(2).standard_normal((n, shifts.size))
    seen = []

    def precondition(R, columns):
        seen.append(columns.copy())
        return R / (np.diag(A)[:, None] + shifts[columns])  # Jacobi, per column's own shift

    result = conjugate_gradients(lambda V, columns: A @ V + shifts[columns] * V, B, precondition, tol=1e-11,
                                 by_column=True)
    expected = np.column_stack([np.linalg.solve(A + s * np.eye(n), B[:, j]) for j, s in enumerate(shifts)])
    np.testing.assert_allclose(result.solution, expected, rtol=1e-8, atol=1e-10)
    # the large shifts converge first and drop out of the later products
    assert any(columns.size < shifts.size for columns in seen)
    assert seen[0].tolist() == list(range(shifts.size))
