"""Kernels: GRM, user-supplied matrices, empirical and analytic NTK, NNGP, polynomial and
Gaussian kernels. All derive from :class:`~ntkmixed.kernels.base.Kernel`."""

from .base import Kernel, Samples
from .grm import GRM
from .normalize import Normalization
from .precomputed import Precomputed

__all__ = ["Kernel", "Samples", "GRM", "Precomputed", "Normalization"]
