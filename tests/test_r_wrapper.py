"""The R package end to end, driven from Python through rpy2: R fits models with
``ntkmixed::fit`` / ``ntkmixed::krr`` and the estimates must equal the Python fits of the
same data.

rpy2 embeds R in a Python process, and reticulate inside that R binds to the same
interpreter, whatever its NumPy: the R package passes numbers as bytes and strings as
lists, never NumPy arrays, so reticulate 1.28's NumPy-1-only converters are not involved.
The test runs it both in this interpreter (NumPy 2 here) and, when it exists, in the R
virtual environment of ``.ci/r_checks.sh`` (NumPy 1).

The rpy2 session runs in a child process: when rpy2 ends its embedded R at exit
(``endr``), R's exit finalizers release reticulate's Python objects without holding the
GIL and the process aborts (SIGSEGV/SIGABRT) after every test has passed. The child
therefore removes R's temporary directory itself and leaves with ``os._exit``. The R
package is installed from ``R/`` into a temporary library first, so the test does not
depend on the order of CI steps. Skipped when rpy2, R or reticulate is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm

pytestmark = pytest.mark.r

REPO = Path(__file__).resolve().parents[1]

# Runs in the child: sends the data to R as plain vectors, evaluates R expressions and
# writes their values as JSON to spec["output"].
CHILD = textwrap.dedent(
    """
    import json, os, sys, warnings
    import pandas as pd
    warnings.simplefilter("ignore")
    import rpy2.robjects as ro

    spec = json.loads(sys.stdin.read())
    r = ro.r
    r(f'.libPaths(c("{spec["library"]}", .libPaths()))')
    r("suppressPackageStartupMessages(library(ntkmixed))")
    data = pd.read_csv(spec["data"], index_col=0, dtype={0: str})
    G = pd.read_csv(spec["genotypes"], index_col=0, dtype={0: str})
    ids = ro.StrVector([str(i) for i in data.index])
    ro.globalenv["df"] = r["data.frame"](
        sex=r["factor"](ro.StrVector(list(data["sex"])), levels=ro.StrVector(["female", "male"])),
        age=ro.FloatVector(data["age"].to_numpy()),
        y=ro.FloatVector(data["y"].to_numpy()),
        **{"row.names": ids},
    )
    ro.globalenv["G"] = r["matrix"](
        ro.FloatVector(G.to_numpy().ravel(order="F")), nrow=G.shape[0],
        dimnames=r["list"](ro.StrVector([str(i) for i in G.index]), ro.StrVector(list(G.columns))),
    )
    ro.globalenv["train"] = ro.StrVector(spec["train"])
    ro.globalenv["new"] = ro.StrVector(spec["new"])
    r(spec["setup"])
    out = {}
    for name, expression in spec["values"].items():
        value = r(expression)
        out[name] = [str(v) for v in value] if isinstance(value, ro.StrVector) else [float(v) for v in value]
    out["numpy"] = r('python_environment()$numpy')[0]
    r("unlink(tempdir(), recursive = TRUE)")
    with open(spec["output"], "w") as handle:
        json.dump(out, handle)
    os._exit(0)
    """
)

SETUP = """
m <- suppressWarnings(fit(y ~ sex + age, data = df, genotypes = G,
                          kernel = list(GRM(), NTK(depth = 2, width = 128, seed = 4)), method = "minque1"))
p <- suppressWarnings(fit(y ~ sex + age, data = df[train, ], genotypes = G[train, ], kernel = NNGP(depth = 3)))
k <- suppressWarnings(krr(y ~ sex, data = df, genotypes = G, kernel = NTK(depth = 2, width = Inf), cv = 4, seed = 2))
missing_column <- tryCatch(fit(y ~ sex + height, data = df, genotypes = G), error = conditionMessage)
bad_method <- tryCatch(fit(y ~ sex, data = df, genotypes = G, method = "minque2"),
                       error = function(e) paste(class(e)[1], conditionMessage(e)))
"""

VALUES = {
    "coef_names": "names(coef(m))",
    "coef": "coef(m)",
    "variance": "VarCorr(m)$variance",
    "h2": "h2(m)['total', 'estimate']",
    "h2_se": "h2(m)['total', 'se']",
    "loglik": "c(logLik(m))",
    "nobs": "nobs(m)",
    "fitted_ids": "names(fitted(m))",
    "fitted": "fitted(m)",
    "blups": "as.matrix(ranef(m))",
    "predicted": "predict(p, newdata = df[new, ], genotypes = G[new, ])",
    "krr_lambda": "k$lambda",
    "krr_coef": "coef(k)",
    "krr_cv_mean": "k$cv_results$mean",
    "missing_column": "missing_column",
    "bad_method": "bad_method",
}


def _interpreters() -> list:
    candidates = [("this-python", sys.executable)]
    venv = os.environ.get("NTKMIXED_PYTHON") or str(REPO / ".venv-r" / "bin" / "python")
    # compare the paths as given: a venv's python is a link to the base interpreter, but
    # it runs with the venv's site-packages
    if Path(venv).exists() and os.path.abspath(venv) != os.path.abspath(sys.executable):
        candidates.append(("r-venv", venv))
    return [pytest.param(path, id=name) for name, path in candidates]


def _simulate(n=120, p=90, seed=5):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    ids = [f"p{i:03d}" for i in range(n)]
    Z = (G - G.mean(0)) / G.std(0)
    sex = rng.choice(["female", "male"], n)
    age = np.round(rng.uniform(40, 70, n))
    y = 1 + 0.4 * (sex == "male") + 0.02 * age + Z @ rng.normal(0, np.sqrt(0.5 / p), p) + rng.normal(0, 0.7, n)
    data = pd.DataFrame(
        {"sex": pd.Categorical(sex, categories=["female", "male"]), "age": age, "y": y},
        index=pd.Index(ids, dtype=object, name="id"),
    )
    data.loc[ids[7], "y"] = np.nan  # one missing response, dropped on both sides
    return data, pd.DataFrame(G, index=data.index, columns=[f"rs{j}" for j in range(p)])


@pytest.fixture(scope="module")
def r_library(tmp_path_factory):
    """The R package installed from the working tree into a temporary library."""
    # find_spec, not import: importing rpy2 here would embed R in the pytest process
    if importlib.util.find_spec("rpy2") is None:
        pytest.skip("rpy2 is not installed")
    if shutil.which("R") is None or shutil.which("Rscript") is None:
        pytest.skip("R is not installed")
    has = subprocess.run(["Rscript", "-e", 'cat(nzchar(system.file(package = "reticulate")))'],
                         capture_output=True, text=True)
    if has.stdout.strip() != "TRUE":
        pytest.skip("the R package reticulate is not installed")
    library = tmp_path_factory.mktemp("r-library")
    install = subprocess.run(["R", "CMD", "INSTALL", "--no-test-load", "-l", str(library), str(REPO / "R")],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    return library


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    data, G = _simulate()
    folder = tmp_path_factory.mktemp("r-wrapper-data")
    data.assign(sex=data["sex"].astype(str)).to_csv(folder / "data.csv", float_format="%.17g")
    G.to_csv(folder / "genotypes.csv", float_format="%.17g")
    return data, G, folder


@pytest.fixture(scope="module", params=_interpreters())
def from_r(request, r_library, data_files):
    """Values computed by the R package, run through rpy2 in a child Python process."""
    python = request.param
    env = _child_environment(python)
    probe = subprocess.run([python, "-c", "import rpy2.robjects, ntkmixed"], capture_output=True, text=True,
                           env=env)
    if probe.returncode != 0:
        pytest.skip(f"{python} cannot import rpy2 and ntkmixed: {probe.stderr.strip()[-300:]}")
    data, G, folder = data_files
    spec = {
        "library": str(r_library), "data": str(folder / "data.csv"), "genotypes": str(folder / "genotypes.csv"),
        "train": list(data.index[:100]), "new": list(data.index[100:]), "setup": SETUP, "values": VALUES,
        "output": str(folder / f"from_r_{request.param_index}.json"),
    }
    child = subprocess.run([python, "-c", CHILD], input=json.dumps(spec), capture_output=True, text=True,
                           timeout=600, env=env)
    assert child.returncode == 0 and Path(spec["output"]).exists(), (child.stdout[-3000:], child.stderr[-3000:])
    return json.loads(Path(spec["output"]).read_text())


def _child_environment(python: str) -> dict:
    """The environment of the child: this repository's ntkmixed, no Python chosen for
    reticulate (it must bind to the child itself), and the interpreter's own libpython
    first. Once rpy2 has started R in a process (another test module may have), its
    LD_LIBRARY_PATH starts with R's and the system library directories, which override the
    interpreter's RUNPATH: a pyenv python would then load the system's libpython and lose
    its site-packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("RETICULATE_PYTHON", "NTKMIXED_PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    libdir = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')"],
        capture_output=True, text=True, env={**env, "LD_LIBRARY_PATH": ""},
    ).stdout.strip()
    if libdir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([libdir, env.get("LD_LIBRARY_PATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture(scope="module")
def python_fits(data_files):
    data, G, _ = data_files
    train, new = data.index[:100], data.index[100:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = nm.fit("y ~ sex + age", data=data, genotypes=G,
                     kernel=[nm.GRM(), nm.NTK(depth=2, width=128, seed=4)], method="minque1")
        held_out = nm.fit("y ~ sex + age", data=data.loc[train], genotypes=G.loc[train], kernel=nm.NNGP(depth=3))
        ridge = nm.krr("y ~ sex", data=data, genotypes=G, kernel=nm.NTK(depth=2, width=None), cv=4, seed=2)
    return {"fit": fit, "predicted": held_out.predict(newdata=data.loc[new], genotypes=G.loc[new]), "krr": ridge}


def test_the_embedded_python_is_the_one_that_runs_rpy2(from_r, request):
    import numpy

    if request.node.callspec.id.endswith("this-python"):
        assert from_r["numpy"] == numpy.__version__
    else:
        assert from_r["numpy"].startswith("1.")


def test_fit_from_r_equals_the_python_fit(from_r, python_fits):
    res = python_fits["fit"]
    assert from_r["coef_names"] == list(res.params.index)
    np.testing.assert_allclose(from_r["coef"], res.params.to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(from_r["variance"], res.variance_components["estimate"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(from_r["h2"], [res.h2], rtol=1e-8)
    np.testing.assert_allclose(from_r["h2_se"], [res.h2_se], rtol=1e-8)
    np.testing.assert_allclose(from_r["loglik"], [res.loglik], rtol=1e-10)
    assert from_r["nobs"] == [float(res.nobs)] and res.nobs == 119
    assert from_r["fitted_ids"] == list(res.fitted.index)
    np.testing.assert_allclose(from_r["fitted"], res.fitted.to_numpy(), rtol=1e-8)
    blups = np.asarray(from_r["blups"]).reshape(res.blup_components.shape, order="F")
    np.testing.assert_allclose(blups, res.blup_components.to_numpy(), rtol=1e-7, atol=1e-10)


def test_predict_from_r_equals_python_predict(from_r, python_fits):
    np.testing.assert_allclose(from_r["predicted"], python_fits["predicted"].to_numpy(), rtol=1e-8)


def test_krr_from_r_equals_python_krr(from_r, python_fits):
    res = python_fits["krr"]
    np.testing.assert_allclose(from_r["krr_lambda"], [res.lambda_], rtol=1e-12)
    np.testing.assert_allclose(from_r["krr_coef"], res.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(from_r["krr_cv_mean"], res.cv_results["mean"].to_numpy(), rtol=1e-8)


def test_r_errors_are_r_errors_with_clear_messages(from_r):
    assert "not columns of 'data': height" in from_r["missing_column"][0]
    assert from_r["bad_method"][0].startswith("ntkmixed_NtkmixedError")
    assert "minque2" in from_r["bad_method"][0]
