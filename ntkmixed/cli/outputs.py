"""What a run writes, all or nothing: the output location is checked before any work;
every file is written to a temporary name in the output directory and renamed over its
final name only when all are written; a failure at any point leaves the prefix as it
was (earlier outputs put back). Plus the text layouts of GCTA's .hsq, .blp and .fixed,
and OUT.json.

A rename is atomic on one file system, so a final name only ever holds a complete file —
the previous one or the new one — even if the process is killed (SIGKILL) mid-write; a
killed run can leave ``PREFIX.*.partial`` temporaries behind, never a partial file under
a final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from typing import Any

import pandas as pd

from .._version import __version__
from .._runtime import json_plain
from .errors import CommandError
from .log import Log

JSON_FORMAT = 1


class Outputs:
    """Files of one run, written together at the end (see the module docstring)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        if prefix.endswith(("/", os.sep)) or os.path.isdir(prefix) or os.path.basename(prefix) in ("", ".", ".."):
            raise CommandError(
                f"--out {prefix!r} names a folder; give a file prefix such as "
                f"{os.path.join(prefix, 'run')!r} (outputs are PREFIX.hsq, PREFIX.json, …)"
            )
        directory = os.path.dirname(os.path.abspath(prefix))
        if not os.path.isdir(directory):
            raise CommandError(f"output directory {directory!r} (from --out {prefix}) does not exist")
        _check_writable(directory, prefix)
        self.directory = directory
        self._pending: list[tuple[str, Callable[[str], None]]] = []

    def path(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}"

    def add_text(self, suffix: str, text: str) -> None:
        def write(path: str) -> None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

        self._pending.append((self.path(suffix), write))

    def add(self, suffix: str, writer: Callable[[str], None]) -> None:
        self._pending.append((self.path(suffix), writer))

    def commit(self, log: Log) -> list[str]:
        """Write every pending file to a temporary, then move them all into place; on any
        failure remove the temporaries and put back what the final names held before."""
        staged: list[tuple[str, str]] = []
        replaced: list[tuple[str, str | None]] = []  # (final, hard link to its previous file)
        try:
            for final, writer in self._pending:
                staged.append((_temporary(self.directory, final, "partial"), final))
                writer(staged[-1][0])
                os.chmod(staged[-1][0], 0o666 & ~_umask())  # mkstemp makes 0600 files
            for temporary, final in staged:
                previous = None
                if os.path.exists(final):
                    previous = _temporary(self.directory, final, "previous")
                    os.unlink(previous)
                    os.link(final, previous)  # the old file stays under its name until replaced
                replaced.append((final, previous))
                os.replace(temporary, final)
        except BaseException:
            for final, previous in reversed(replaced):
                if previous is not None and os.path.exists(final) and os.path.samefile(previous, final):
                    os.unlink(previous)  # never replaced (renaming a hard link onto itself does nothing)
                elif previous is not None:
                    os.replace(previous, final)
                elif os.path.exists(final):
                    os.unlink(final)
            for temporary, _ in staged:
                _remove(temporary)
            raise
        for _, previous in replaced:
            if previous is not None:
                _remove(previous)
        written = [final for _, final in staged]
        log.info("Wrote " + ", ".join(written) + ".")
        return written


def _temporary(directory: str, final: str, kind: str) -> str:
    handle, path = tempfile.mkstemp(dir=directory, prefix=f"{os.path.basename(final)}.", suffix=f".{kind}")
    os.close(handle)
    return path


def _check_writable(directory: str, prefix: str) -> None:
    """Create and remove a file where the outputs will go (os.access is not enough: root
    passes it for read-only file systems and /proc)."""
    try:
        handle, probe = tempfile.mkstemp(dir=directory, prefix=f"{os.path.basename(prefix)}.", suffix=".probe")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise CommandError(f"--out {prefix}: cannot write in {directory!r} ({exc.strerror or exc})") from None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(index): {str(k): v for k, v in row.items()} for index, row in frame.iterrows()}


def snp_table(genotypes) -> dict[str, list[str]]:
    snps = genotypes.snps
    return {"ids": snps["snp"].tolist(), "a1": snps["a1"].tolist(), "a2": snps["a2"].tolist()}


def tsv(frame: pd.DataFrame) -> str:
    floats = frame.select_dtypes("float").columns
    frame = frame.assign(**{c: frame[c] + 0.0 for c in floats})  # -0.0 prints as 0
    return frame.to_csv(sep="\t", index=False, na_rep="NA", float_format="%.10g")


def common_json(args, argv: list[str], inputs, kernel: Any, analysis: str) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "ntkmixed_version": __version__,
        "command": ["ntkmixed", *argv],
        "analysis": analysis,
        "inputs": {"bfile": args.bfile, "pheno": args.pheno, "phenotype": inputs.phenotype, "covar": args.covar,
                   "qcovar": args.qcovar, "formula": inputs.formula},
        "kernels": [k.config() for k in (kernel if isinstance(kernel, list) else [kernel])],
        "qc": inputs.qc_report.to_dict(),
        "merge": {"n_genotyped": inputs.merge_report.n_genotyped, "n_merged": inputs.merge_report.n_merged,
                  "unmatched": inputs.merge_report.unmatched,
                  "genotyped_without_data": inputs.merge_report.genotyped_without_data,
                  "fid_mismatches": inputs.merge_report.fid_mismatches},
        "snps": snp_table(inputs.genotypes),
    }


def add_json_and_log(outputs: Outputs, document: dict[str, Any], log: Log) -> None:
    def write_json(path: str) -> None:
        document["warnings"] = list(log.warnings)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(json_plain(document), handle, indent=1, allow_nan=False)
            handle.write("\n")

    outputs.add("json", write_json)
    add_log(outputs, log)


def add_log(outputs: Outputs, log: Log) -> None:
    def write_log(path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(log.lines) + "\n")

    outputs.add("log", write_log)


def hsq_text(result: Any) -> str:
    """GCTA's .hsq layout: Source, Variance, SE; then comment lines with the h² definition,
    the factors D and the interval for h²."""
    components = result.variance_components
    cov = result.variance_components_cov.to_numpy()
    k = len(components) - 1
    labels = ["V(G)"] if k == 1 else [f"V(G{i + 1})" for i in range(k)]
    rows = [(label, components["estimate"].iloc[i], components["se"].iloc[i]) for i, label in enumerate(labels)]
    rows.append(("V(e)", components["estimate"].iloc[k], components["se"].iloc[k]))
    rows.append(("Vp", components["estimate"].sum(), math.sqrt(max(float(cov.sum()), 0.0))))
    heritability = result.heritability
    rows += [(f"{label}/Vp", heritability["estimate"].iloc[i], heritability["se"].iloc[i]) for i, label in enumerate(labels)]
    if k > 1:
        rows.append(("Sum of V(G)/Vp", result.h2, result.h2_se))
    lines = ["Source\tVariance\tSE"] + [f"{s}\t{v:.6g}\t{se:.6g}" for s, v, se in rows]
    lines += [f"logL\t{result.loglik:.6f}", f"n\t{result.nobs}"]
    if k > 1:
        lines += [f"# G{i + 1}\t{name}" for i, name in enumerate(components.index[:k])]
    # what V(G)/Vp means here (GCTA's is the kernel definition), and its interval; the text
    # stays in the first column so that the Variance column still reads as numbers
    lines.append(f"# h2 definition: {result.h2_definition}")
    lines += [f"# {label.replace('V(', 'D(')}\t{factor:.6g}" for label, factor in zip(labels, result.sample_variance_factors)]
    interval = result.conf_int_h2().iloc[-1]
    source = "V(G)/Vp" if k == 1 else "Sum of V(G)/Vp"
    lines.append(f"# {source} {100 * interval['level']:g}% CI ({interval['method']})\t{interval['lower']:.6g}\t"
                 f"{interval['upper']:.6g}")
    return "\n".join(lines) + "\n"


def blp_table(result: Any, fids: pd.Series) -> pd.DataFrame:
    ids = result.blup.index
    table = pd.DataFrame({"FID": fids.reindex(ids).to_numpy(), "IID": ids.to_numpy(),
                          "BLUP": result.blup.to_numpy(), "PEV": result.blup_pev["total"].to_numpy()})
    components = result.blup_components
    if components.shape[1] > 1:
        for name in components.columns:
            table[f"BLUP_{name}"] = components[name].to_numpy()
            table[f"PEV_{name}"] = result.blup_pev[name].to_numpy()
    return table


def fixed_table(effects: pd.DataFrame) -> pd.DataFrame:
    table = effects.rename(columns={"coef": "Estimate", "se": "SE", "z": "Z", "p": "P",
                                    "ci_lower": "CI_lower", "ci_upper": "CI_upper"})
    table.insert(0, "Term", effects.index.astype(str))
    return table
