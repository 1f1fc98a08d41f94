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

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "fit": "model",
    "KernelLMM": "model",
    "LMMResults": "results",
    "load": "io",
    "standardize": "genotypes",
    "Standardization": "genotypes",
    "Kernel": "kernels",
    "GRM": "kernels",
    "Precomputed": "kernels",
    "NTK": "kernels",
    "NNGP": "kernels",
    "Polynomial": "kernels",
    "Gaussian": "kernels",
    "krr": "ridge",
    "KRRResults": "ridge",
    "read_plink": "plink",
    "Genotypes": "plink",
    "read_pheno": "phenotypes",
    "read_covar": "phenotypes",
    "compare": "comparison",
    "NtkmixedError": "exceptions",
    "ConvergenceWarning": "exceptions",
    "BoundaryWarning": "exceptions",
    "DataWarning": "exceptions",
    "NtkmixedWarning": "exceptions",
}
_SUBMODULES = {"datasets", "simulate", "kernels", "estimation", "exceptions", "qc", "phenotypes", "plink"}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ntkmixed' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
