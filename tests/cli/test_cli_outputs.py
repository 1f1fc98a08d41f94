"""The command line's outputs are all or nothing: a run that fails at any point — while
writing a file or while moving the files into place — leaves the output prefix exactly as
it was (earlier outputs kept, nothing new, no temporaries), and a run killed with SIGKILL
at any moment of writing leaves every final name holding a complete file, old or new."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ntkmixed as nm
import ntkmixed.cli.outputs as outputs
from ntkmixed.cli import main
from plink_helpers import write_fileset

N, P = 60, 50
SUFFIXES = ("blp", "fixed", "hsq", "json", "log", "model.npz")
ROOT = Path(__file__).resolve().parents[2]

#: runs the command line with a pause after each temporary file is created and after each
#: rename to a final name, printing a marker first, so that the test can kill it there
DRIVER = r"""
import os, sys, time
import ntkmixed.cli.outputs as outputs
real_temporary, real_replace = outputs._temporary, os.replace
def temporary(directory, final, kind):
    path = real_temporary(directory, final, kind)
    if kind == "partial":
        print("STAGING", final, flush=True); time.sleep(0.4)
    return path
def replace(src, dst, *args, **kwargs):
    real_replace(src, dst, *args, **kwargs)
    if not str(dst).endswith((".partial", ".previous")):
        print("RENAMED", dst, flush=True); time.sleep(0.4)
outputs._temporary, os.replace = temporary, replace
from ntkmixed.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    directory = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(8)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, P), (N, P)).astype(float)
    iids = [f"q{i:02d}" for i in range(N)]
    prefix = write_fileset(directory / "geno", G, iids=iids)
    pd.DataFrame({"FID": iids, "IID": iids, "y": rng.normal(size=N), "z": rng.normal(size=N)}).to_csv(
        directory / "pheno.txt", sep=" ", index=False)
    return directory, prefix


def _args(study, out, phenotype="y"):
    directory, prefix = study
    return ["fit", "--bfile", str(prefix), "--pheno", str(directory / "pheno.txt"), "--pheno-name", phenotype,
            "--out", str(out), "--quiet"]


def _run(argv):
    with redirect_stderr(io.StringIO()) as err, redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def earlier(study, tmp_path):
    """A folder holding the outputs of an earlier successful run (phenotype z)."""
    status, err = _run(_args(study, tmp_path / "run", "z"))
    assert status == 0, err
    assert sorted(_snapshot(tmp_path)) == sorted(f"run.{s}" for s in SUFFIXES)
    return tmp_path


def test_a_failure_while_writing_leaves_the_prefix_as_it_was(study, earlier, monkeypatch):
    before = _snapshot(earlier)
    real_add = outputs.Outputs.add

    def add(self, suffix, writer):
        if suffix == "json":
            def failing(path):
                with open(path, "w") as handle:
                    handle.write('{"half": ')
                raise OSError(28, "No space left on device")
            return real_add(self, suffix, failing)
        return real_add(self, suffix, writer)

    monkeypatch.setattr(outputs.Outputs, "add", add)
    status, err = _run(_args(study, earlier / "run"))
    assert status == 1 and "No space left on device" in err
    assert _snapshot(earlier) == before


def test_a_failure_while_moving_files_into_place_puts_the_earlier_outputs_back(study, earlier, monkeypatch):
    before = _snapshot(earlier)
    real_replace = os.replace
    moved = []

    def replace(src, dst):
        if not str(dst).endswith((".partial", ".previous")):
            moved.append(dst)
            if len(moved) == 3:
                raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    status, err = _run(_args(study, earlier / "run"))
    assert status == 1 and "Input/output error" in err and len(moved) >= 3
    monkeypatch.undo()
    assert _snapshot(earlier) == before


def test_a_run_that_fails_before_writing_creates_nothing(study, tmp_path):
    status, err = _run(_args(study, tmp_path / "run", "height"))
    assert status == 1 and "height" in err
    assert _snapshot(tmp_path) == {}


def _complete(path: Path, reference: dict[str, bytes]) -> bool:
    """Whether a final file is a whole output of a run (old or new)."""
    if path.name.endswith(".model.npz"):
        try:
            nm.load(path)
        except nm.NtkmixedError:
            return False
        return True
    if path.suffix == ".json":
        try:
            return "h2" in json.loads(path.read_text())
        except json.JSONDecodeError:
            return False
    if path.suffix == ".log":
        return path.read_text().endswith("\n")
    return path.read_bytes() == reference[path.name]


@pytest.mark.slow
@pytest.mark.parametrize("marker, count", [("STAGING", 1), ("STAGING", 4), ("RENAMED", 1), ("RENAMED", 3), ("RENAMED", 6)])
def test_sigkill_at_any_point_leaves_only_complete_files(study, earlier, tmp_path_factory, marker, count):
    fresh = tmp_path_factory.mktemp("fresh")
    status, err = _run(_args(study, fresh / "run"))
    assert status == 0, err
    new = _snapshot(fresh)
    old = _snapshot(earlier)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", DRIVER, *_args(study, earlier / "run")], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    seen = 0
    for line in process.stdout:
        if line.startswith(marker):
            seen += 1
            if seen == count:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=60)
    assert seen == count, f"the run ended before the {count}th {marker}"
    assert process.returncode == -signal.SIGKILL
    finals = {p.name: p for p in earlier.iterdir() if not p.name.endswith((".partial", ".previous"))}
    assert sorted(finals) == sorted(old), "a final name appeared or vanished"
    renamed = 0
    for name, path in finals.items():
        content = path.read_bytes()
        if content != old[name]:
            renamed += 1
            assert _complete(path, new), f"{name} holds a partial file"
    assert renamed == (count if marker == "RENAMED" else 0)
