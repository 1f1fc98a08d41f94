"""Association tests on top of the models: per-SNP mixed-model GWAS scans (with LOCO
background kernels) and kernel (variance-component) association tests for regions.

Importing this package registers the ``"gwas"`` archive kind, so :func:`load` (the
models' loader, re-exported here) reads saved scans too."""

from ..models import load
from .gwas import gwas
from .gwas_results import GWASResults

__all__ = ["GWASResults", "gwas", "load"]
