"""Models from formulas, their results, summaries and the archive format.

Importing this package registers every results kind with :func:`load`."""

from .archive import load
from .krr import krr
from .krr_results import KRRResults
from .lmm import KernelLMM, fit
from .lmm_results import LMMResults

__all__ = ["KRRResults", "KernelLMM", "LMMResults", "fit", "krr", "load"]
