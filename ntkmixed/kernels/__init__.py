"""Kernels: GRM, user-supplied matrices, empirical and analytic NTK, NNGP, polynomial and
Gaussian kernels. All derive from :class:`~ntkmixed.kernels.base.Kernel`."""

from .analytic import NNGP
from ..data.samples import Samples
from .base import Kernel
from .classical import Gaussian, Polynomial
from .grm import GRM
from .normalize import Normalization
from .ntk import NTK
from .nystrom import Nystrom
from .precomputed import Precomputed

__all__ = ["Kernel", "Samples", "GRM", "Precomputed", "Normalization", "NTK", "NNGP", "Polynomial", "Gaussian", "Nystrom"]
