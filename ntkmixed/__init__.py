"""ntkmixed: kernel linear mixed models and kernel ridge regression with Neural Tangent
Kernels for genetic risk prediction (Ge & Lu, arXiv 2510.01426).

    import ntkmixed as nm
    res = nm.fit("y ~ sex + age", data=df, genotypes=G, kernel=nm.NTK(depth=3))
    print(res.summary())

Public names are imported lazily (PEP 562) so that ``import ntkmixed`` stays fast and
torch is loaded only when a torch-backed kernel is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__  # noqa: F401 (public)

# public name -> module that defines it
_EXPORTS = {
    "fit": "models",
    "KernelLMM": "models",
    "LMMResults": "models",
    "load": "association",  # association's load also knows its own result kinds
    "standardize": "data.genotypes",
    "Standardization": "data.genotypes",
    "Kernel": "kernels",
    "GRM": "kernels",
    "Precomputed": "kernels",
    "NTK": "kernels",
    "NNGP": "kernels",
    "Polynomial": "kernels",
    "Gaussian": "kernels",
    "Nystrom": "kernels",
    "HODLR": "estimation.engines",
    "krr": "models",
    "KRRResults": "models",
    "read_plink": "data.plink",
    "Genotypes": "data.plink",
    "read_plink_dask": "data.plink_dask",
    "read_pheno": "data.phenotypes",
    "read_covar": "data.phenotypes",
    "compare": "experiments.comparison",
    "gwas": "association",
    "GWASResults": "association",
    "kernel_test": "association",
    "region_scan": "association",
    "KernelTestResults": "association",
    "RegionScanResults": "association",
    "NtkmixedError": "exceptions",
    "ConvergenceWarning": "exceptions",
    "BoundaryWarning": "exceptions",
    "DataWarning": "exceptions",
    "NtkmixedWarning": "exceptions",
}
# public submodule name -> its module in the layered layout
_SUBMODULES = {
    "datasets": "data.datasets",
    "simulate": "experiments.simulate",
    "kernels": "kernels",
    "estimation": "estimation",
    "exceptions": "exceptions",
    "qc": "data.qc",
    "phenotypes": "data.phenotypes",
    "plink": "data.plink",
    "data": "data",
    "models": "models",
    "experiments": "experiments",
    "association": "association",
}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{_SUBMODULES[name]}", __name__)
    raise AttributeError(f"module 'ntkmixed' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
