"""Factorisation of V = w_g K_H + w_e I for a HODLR matrix K_H: solves, log-determinant,
traces of inverse powers and the diagonal of V⁻¹ — all O(n r² log² n) or less.

At a node with children blocks D = diag(V₁, V₂) and off-diagonal w_g U Vᵀ,

    V = D + W C Wᵀ,   W = diag(U, V),   C = w_g [[0, I], [I, 0]],
    V⁻¹ = D⁻¹ − Y N Yᵀ,   Y = D⁻¹W,   N = (I + C WᵀY)⁻¹ C,
    log|V| = log|V₁| + log|V₂| + log|I + C WᵀY|

(Woodbury and the determinant lemma, recursively, as in Ambikasaran & Darve's HODLR
solver): a factorisation solves the children with the r columns of U and V, so each
level costs O(n r² log n) and the whole O(n r² log² n). Leaves are Cholesky factors.

Traces: with the same N and Y, tr(V⁻ʲ) for j ≤ 4 follows from the children's traces and
the Grams Yᵀ D⁻ᵃ Y (two more solves with Y per node) by the power-trace expansion of
:func:`~ntkmixed.estimation.engines._lowrank_algebra.power_traces`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ._hodlr_matrix import HODLRMatrix, Node
from ._lowrank_algebra import power_traces



class HODLRFactor:
    def __init__(self, matrix: HODLRMatrix, w_g: float, w_e: float):
        self.matrix, self.w_g, self.w_e = matrix, float(w_g), float(w_e)
        self._parts: dict[int, dict] = {}
        self.positive_definite = True
        self.logdet = self._factor(matrix.root)
        self._traces: dict[int, np.ndarray] = {}

    # --- factorisation ----------------------------------------------------------------
    def _factor(self, node: Node) -> float:
        part: dict = {}
        self._parts[id(node)] = part
        if node.is_leaf:
            block = self.w_g * node.dense
            block[np.diag_indices_from(block)] += self.w_e
            try:
                part["cho"] = scipy.linalg.cho_factor(block, lower=True, check_finite=False)
                return 2.0 * float(np.sum(np.log(np.diag(part["cho"][0]))))
            except np.linalg.LinAlgError:
                self.positive_definite = False
                part["lu"] = scipy.linalg.lu_factor(block, check_finite=False)
                return float("nan")
        logdet = self._factor(node.left) + self._factor(node.right)
        r = node.rank
        if r == 0 or self.w_g == 0:
            part["Y1"] = part["Y2"] = None
            return logdet
        Y1, Y2 = self._solve(node.left, node.U), self._solve(node.right, node.V)
        inner = np.eye(2 * r)
        inner[:r, r:] = self.w_g * (node.V.T @ Y2)
        inner[r:, :r] = self.w_g * (node.U.T @ Y1)
        C = np.zeros((2 * r, 2 * r))
        C[:r, r:] = C[r:, :r] = self.w_g * np.eye(r)
        N = np.linalg.solve(inner, C)
        part.update(Y1=Y1, Y2=Y2, N=(N + N.T) / 2.0)
        sign, value = np.linalg.slogdet(inner)
        if sign <= 0 or not self._inertia_ok(node, Y1, Y2):
            self.positive_definite = False
        return logdet + value

    def _inertia_ok(self, node: Node, Y1: np.ndarray, Y2: np.ndarray) -> bool:
        """V = D + W C Wᵀ with D ≻ 0 is positive definite iff C⁻¹ + WᵀD⁻¹W has as many
        negative eigenvalues as C⁻¹ (Haynsworth inertia additivity): r."""
        r = node.rank
        S = np.zeros((2 * r, 2 * r))
        S[:r, :r] = node.U.T @ Y1
        S[r:, r:] = node.V.T @ Y2
        S[:r, r:] = S[r:, :r] = np.eye(r) / self.w_g
        return int(np.sum(np.linalg.eigvalsh((S + S.T) / 2.0) < 0)) == r

    # --- solves -----------------------------------------------------------------------
    def solve(self, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        vector = B.ndim == 1
        out = self._solve(self.matrix.root, B.reshape(self.matrix.n, -1))
        return out[:, 0] if vector else out

    def _solve(self, node: Node, B: np.ndarray) -> np.ndarray:
        part = self._parts[id(node)]
        if node.is_leaf:
            if "cho" in part:
                return scipy.linalg.cho_solve(part["cho"], B, check_finite=False)
            return scipy.linalg.lu_solve(part["lu"], B, check_finite=False)
        n1 = node.mid - node.lo
        z1, z2 = self._solve(node.left, B[:n1]), self._solve(node.right, B[n1:])
        if part["Y1"] is None:
            return np.vstack([z1, z2])
        r = node.rank
        u = part["N"] @ np.vstack([node.U.T @ z1, node.V.T @ z2])
        return np.vstack([z1 - part["Y1"] @ u[:r], z2 - part["Y2"] @ u[r:]])

    # --- traces and the diagonal of V⁻¹ ----------------------------------------------------
    def inverse_power_traces(self) -> np.ndarray:
        """[tr V⁻¹, tr V⁻², tr V⁻³, tr V⁻⁴]."""
        return self._power_traces(self.matrix.root)

    def _power_traces(self, node: Node) -> np.ndarray:
        key = id(node)
        if key in self._traces:
            return self._traces[key]
        part = self._parts[id(node)]
        if node.is_leaf:
            n = node.hi - node.lo
            inverse = self._solve(node, np.eye(n))
            square = inverse @ inverse
            value = np.array([np.trace(inverse), np.sum(inverse * inverse), np.sum(square * inverse.T),
                              np.sum(square * square.T)])
        else:
            children = self._power_traces(node.left) + self._power_traces(node.right)
            if part["Y1"] is None:
                value = children
            else:
                Y1, Y2 = part["Y1"], part["Y2"]
                Z1, Z2 = self._solve(node.left, Y1), self._solve(node.right, Y2)  # D⁻¹Y
                X1, X2 = self._solve(node.left, Z1), self._solve(node.right, Z2)  # D⁻²Y
                grams = [_blockdiag(Y1.T @ Y1, Y2.T @ Y2), _blockdiag(Y1.T @ Z1, Y2.T @ Z2),
                         _blockdiag(Z1.T @ Z1, Z2.T @ Z2), _blockdiag(Z1.T @ X1, Z2.T @ X2)]
                value = power_traces(children, grams, part["N"], sign=-1.0)
        self._traces[key] = value
        return value

    def inverse_diagonal(self) -> np.ndarray:
        """diag(V⁻¹): each node subtracts the row norms of Y N Yᵀ from its children's."""
        out = np.empty(self.matrix.n)
        self._inverse_diagonal(self.matrix.root, out)
        return out

    def _inverse_diagonal(self, node: Node, out: np.ndarray) -> None:
        part = self._parts[id(node)]
        if node.is_leaf:
            out[node.lo : node.hi] = np.diag(self._solve(node, np.eye(node.hi - node.lo)))
            return
        self._inverse_diagonal(node.left, out)
        self._inverse_diagonal(node.right, out)
        if part["Y1"] is not None:
            r = node.rank
            Y = np.zeros((node.hi - node.lo, 2 * r))
            n1 = node.mid - node.lo
            Y[:n1, :r], Y[n1:, r:] = part["Y1"], part["Y2"]
            out[node.lo : node.hi] -= np.einsum("ij,ij->i", Y @ part["N"], Y)


def _blockdiag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return scipy.linalg.block_diag(a, b)
