"""Association tests on top of the models: per-SNP mixed-model GWAS scans (with LOCO
background kernels) and kernel (variance-component) association tests for regions.

Importing this package registers the ``"gwas"``, ``"kernel_test"`` and ``"region_scan"``
archive kinds, so :func:`load` (the models' loader, re-exported here) reads them too."""

from ..models import load
from .gwas import gwas
from .gwas_results import GWASResults
from .kernel_results import KernelTestResults, RegionScanResults
from .kernel_test import kernel_test
from .region_scan import region_scan

__all__ = ["GWASResults", "KernelTestResults", "RegionScanResults", "gwas", "kernel_test", "load", "region_scan"]
