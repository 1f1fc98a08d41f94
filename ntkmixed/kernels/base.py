"""The kernel base class: a parameter-free description that maps genotype rows to a Gram
matrix. Variance components belong to the model, never to the kernel.

Subclasses implement :meth:`Kernel.gram` (and, when it is cheaper than the full Gram
matrix, :meth:`Kernel.gram_diag`). The model talks to kernels only through
:meth:`trained_on` (the training operator, and the kernel as prediction must replay
it), :meth:`normalized_cross` / :meth:`normalized_cross_times` (new people against the
training people) and :meth:`diag_of`, which receive :class:`Samples`; by default these
are built from :meth:`train_gram`, :meth:`cross_gram` and :meth:`training_operator`.
Kernels that are not built from genotypes (``Precomputed``) override the Gram methods;
approximations (``Nystrom``) override the rest.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import Text, check, check_option
from ..exceptions import NtkmixedError
from ..data.samples import Samples
from ..estimation.operators import KernelOperator
from .normalize import Normalization
from .operators import GramOperator

#: bytes of one block of K(new, train) in prediction (a kernel's temporaries are a few more)
CROSS_BLOCK_BYTES = 64 * 2**20

NORMALIZATIONS = ("mean-diag", "unit-diag", "none")


class Kernel:
    """Base class of every kernel.

    A kernel is a value: its constructor arguments say everything about it, ``repr``
    shows them and :meth:`config` returns them as JSON-able data (used by ``save``).

    Parameters
    ----------
    normalize : {"mean-diag", "unit-diag", "none"}, optional
        Normalisation the model applies to the kernel (see
        :class:`~ntkmixed.kernels.Normalization`); default :attr:`default_normalize`.
    name : str, optional
        Name of the variance component in results (default: the class name).
    """

    #: normalisation applied by the model when the user does not choose one
    default_normalize: ClassVar[str] = "mean-diag"
    #: whether the kernel is computed from genotypes
    needs_genotypes: ClassVar[bool] = True
    #: every kernel class by name, so that a saved configuration can be rebuilt
    _TYPES: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Kernel._TYPES[cls.__name__] = cls

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Kernel":
        """The kernel :meth:`config` describes (a kernel class registered by name).

        Parameters
        ----------
        config : dict
            As :meth:`config` returns it: ``{"type": ..., **arguments}``.

        Returns
        -------
        Kernel
        """
        settings = dict(config)
        kind = settings.pop("type", None)
        if kind not in Kernel._TYPES:
            from ..exceptions import NtkmixedError

            raise NtkmixedError(f"Unknown kernel type {kind!r} in a kernel configuration.")
        return Kernel._TYPES[kind](**settings)

    def __init__(self, normalize: str | None = None, name: str | None = None):
        self.normalize = check_option(
            normalize if normalize is not None else self.default_normalize,
            "normalize", NORMALIZATIONS, type(self).__name__,
        )
        self.name = check(name, "name", type(self).__name__, [Text(), None])

    # --- what subclasses implement -------------------------------------------------
    def gram(self, Z1: np.ndarray, Z2: np.ndarray | None = None) -> np.ndarray:
        """Un-normalised Gram matrix ``k(Z1[i], Z2[j])`` of standardised genotype rows.

        Parameters
        ----------
        Z1 : numpy.ndarray
            Standardised genotypes, n₁ × p.
        Z2 : numpy.ndarray, optional
            Second set of rows, n₂ × p (default ``Z1``). For kernels with a bandwidth
            learned from the data, these are the training rows.

        Returns
        -------
        numpy.ndarray
            n₁ × n₂ (n₁ × n₁ when ``Z2`` is None).
        """
        raise NotImplementedError(f"{type(self).__name__} does not define gram()")

    def gram_diag(self, Z: np.ndarray) -> np.ndarray:
        """``k(Z[i], Z[i])`` for every row; override when cheaper than the full matrix.

        Parameters
        ----------
        Z : numpy.ndarray
            Standardised genotypes, n × p.

        Returns
        -------
        numpy.ndarray
            The n un-normalised diagonal entries.
        """
        return np.array([self.gram(Z[i : i + 1])[0, 0] for i in range(Z.shape[0])])

    def params(self) -> dict[str, Any]:
        """Constructor arguments that define the kernel (besides normalize and name).

        Returns
        -------
        dict
            Argument name -> value, as the constructor takes them.
        """
        return {}

    def identifiability_warning(self) -> str | None:
        """Why a variance component with this kernel cannot be told from the residual,
        when that follows from the kernel's definition alone (a very deep NTK), else None.

        Returns
        -------
        str or None
            The warning text, or None.
        """
        return None

    # --- what the model calls ------------------------------------------------------
    def train_gram(self, train: Samples) -> np.ndarray:
        """Un-normalised kernel among the training people.

        Parameters
        ----------
        train : Samples
            The training people (their IDs and standardised genotypes).

        Returns
        -------
        numpy.ndarray
            n × n.
        """
        return self.gram(self._genotypes(train))

    def cross_gram(self, new: Samples, train: Samples) -> np.ndarray:
        """Un-normalised kernel between new and training people, for prediction.

        Parameters
        ----------
        new, train : Samples
            The new people and the training people (genotypes standardised with the
            training means and SDs).

        Returns
        -------
        numpy.ndarray
            n_new × n_train.
        """
        return self.gram(self._genotypes(new), self._genotypes(train))

    def diag_of(self, samples: Samples) -> np.ndarray:
        """Un-normalised ``k(x_i, x_i)`` of each person.

        Parameters
        ----------
        samples : Samples
            The people.

        Returns
        -------
        numpy.ndarray
            One value per person.
        """
        return self.gram_diag(self._genotypes(samples))

    def training_operator(self, train: Samples, normalization: Normalization, raw_diagonal: np.ndarray) -> KernelOperator:
        """The normalised training kernel as an engine sees it. By default its Gram
        matrix, formed when an engine first asks for it; kernels with a cheaper
        representation (the GRM's genotype factor) override this.

        Parameters
        ----------
        train : Samples
            The training people.
        normalization : Normalization
            The rule and constants learned from ``raw_diagonal``.
        raw_diagonal : numpy.ndarray
            Un-normalised diagonal of the training kernel.

        Returns
        -------
        KernelOperator
            What the engines multiply with, decompose or factor. A genotype kernel's
            operator also computes products and blocks on the fly, for engines that hold
            no n×n matrix (:class:`~ntkmixed.kernels.block_operator.BlockKernelOperator`).
        """
        if self.needs_genotypes:
            from .block_operator import BlockKernelOperator

            return BlockKernelOperator(self, self._genotypes(train), raw_diagonal, normalization)
        return GramOperator(lambda: self.train_gram(train), raw_diagonal, normalization)

    def trained_on(self, train: Samples, normalization: Normalization,
                   raw_diagonal: np.ndarray) -> tuple["Kernel", KernelOperator]:
        """``(kernel for prediction, training operator)``. The kernel is this one unless
        training fixes choices the kernel left open (a Nyström kernel's landmarks).

        Parameters
        ----------
        train : Samples
            The training people.
        normalization : Normalization
            The rule and constants learned from ``raw_diagonal``.
        raw_diagonal : numpy.ndarray
            Un-normalised diagonal of the training kernel.

        Returns
        -------
        kernel : Kernel
            The kernel that predicts new people.
        operator : KernelOperator
            The normalised training kernel as engines see it.
        """
        return self, self.training_operator(train, normalization, raw_diagonal)

    def normalized_cross(self, new: Samples, train: Samples, normalization: Normalization) -> np.ndarray:
        """Normalised K(new, train) with the training constants.

        Parameters
        ----------
        new, train : Samples
            The new people and the training people.
        normalization : Normalization
            The training normalisation.

        Returns
        -------
        numpy.ndarray
            n_new × n_train.
        """
        raw = self.cross_gram(new, train)
        new_diag = self.diag_of(new) if normalization.rule == "unit-diag" else None
        return normalization.apply_cross(raw, new_diag)

    def normalized_cross_times(self, new: Samples, train: Samples, normalization: Normalization,
                               vectors: np.ndarray) -> np.ndarray:
        """Normalised K(new, train) @ vectors (approximate kernels avoid the matrix).

        Parameters
        ----------
        new, train : Samples
            The new people and the training people.
        normalization : Normalization
            The training normalisation.
        vectors : numpy.ndarray
            n_train × m.

        Returns
        -------
        numpy.ndarray
            n_new × m.
        """
        # in blocks of new people, so that a block of K(new, train) and the kernel's
        # temporaries stay small however many people are predicted
        rows = max(1, CROSS_BLOCK_BYTES // (8 * max(len(train.ids), 1)))
        if not new.Z_is_formed or len(new.ids) <= rows:
            return self.normalized_cross(new, train, normalization) @ vectors
        return np.concatenate([
            self.normalized_cross(Samples(new.ids[start : start + rows], new.Z[start : start + rows]), train,
                                  normalization) @ vectors
            for start in range(0, len(new.ids), rows)])

    # --- identity ------------------------------------------------------------------
    @property
    def component_name(self) -> str:
        """Name of the variance component this kernel defines in a model."""
        return self.name or type(self).__name__

    def config(self) -> dict[str, Any]:
        """JSON-able description: ``{"type": ..., **params, "normalize": ..., "name": ...}``.

        Returns
        -------
        dict
            Enough to rebuild the kernel (``save`` stores it).
        """
        return {"type": type(self).__name__, **self.params(), "normalize": self.normalize, "name": self.name}

    def __repr__(self) -> str:
        shown = dict(self.params())
        if self.normalize != self.default_normalize:
            shown["normalize"] = self.normalize
        if self.name is not None:
            shown["name"] = self.name
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.config() == self.config()

    def __hash__(self) -> int:
        return hash(repr(self))

    def _genotypes(self, samples: Samples) -> np.ndarray:
        if samples.Z is None:
            raise NtkmixedError(
                f"{self!r} is computed from genotypes, but no 'genotypes' were given."
            )
        return samples.Z
