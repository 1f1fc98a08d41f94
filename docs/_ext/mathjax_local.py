"""Formulas that render without a network: when Debian's MathJax 2 (package
libjs-mathjax, which pandoc and pkgdown already pull in) is on this machine, the parts the
pages need (the TeX input, the CommonHTML output and its web fonts, about 1.5 MB) are
copied into the site and used instead of the CDN that Sphinx loads by default. Elsewhere
the CDN stays, and formulas render when the reader is online."""

from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX = Path("/usr/share/javascript/mathjax")
PARTS = ("MathJax.js", "config/TeX-AMS_CHTML.js", "jax/input/TeX", "jax/output/CommonHTML",
         "jax/element", "extensions", "fonts/HTML-CSS/TeX/woff")


def available() -> bool:
    return all((MATHJAX / part).exists() for part in PARTS)


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html" or not available():
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        source, destination = MATHJAX / part, target / part
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)


def use_local(app, config) -> None:
    if available():
        # relative to _static/; MathJax 2 reads \( \) and \[ \], as Sphinx writes them
        config.mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_CHTML"


def setup(app):
    app.connect("config-inited", use_local)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
