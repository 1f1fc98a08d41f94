"""Puts the executed vignettes next to the site: ``build/vignettes/*.html`` (written by
``.ci/r_checks.sh`` and ``.ci/run`` before the documentation is built) are copied to
``<site>/vignettes/``, where the Vignettes page links to them. Vignettes that were not
built are reported in the build log, not as warnings: building the site alone must work."""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
VIGNETTES = ("getting-started-python", "getting-started-R", "paper_simulation", "heritability")

logger = logging.getLogger(__name__)


def copy_vignettes(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "vignettes"
    target.mkdir(exist_ok=True)
    missing = []
    for name in VIGNETTES:
        built = ROOT / "build" / "vignettes" / f"{name}.html"
        if built.exists():
            shutil.copy2(built, target / built.name)
        else:
            missing.append(built.name)
    if missing:
        logger.info("vignettes not built yet (bash .ci/r_checks.sh builds them): %s", ", ".join(missing))


def setup(app):
    app.connect("build-finished", copy_vignettes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
