"""Kernels: GRM, user-supplied matrices, empirical and analytic NTK, NNGP, polynomial and
Gaussian kernels. All derive from :class:`~ntkmixed.kernels.base.Kernel`.
:func:`diagnose` says what a kernel matrix implies for heritability."""

from .analytic import NNGP
from ..data.samples import Samples
from .base import Kernel
from .classical import Gaussian, Polynomial
from .diagnostics import KernelDiagnostics, diagnose, sample_variance_factor
from .grm import GRM
from .normalize import Normalization
from .ntk import NTK
from .nystrom import Nystrom
from .precomputed import Precomputed, PrecomputedFactor
from .random_features import RandomFeatures

__all__ = ["Kernel", "Samples", "GRM", "Precomputed", "PrecomputedFactor", "Normalization", "NTK", "NNGP", "Polynomial",
           "Gaussian", "Nystrom", "RandomFeatures", "KernelDiagnostics", "diagnose", "sample_variance_factor"]
