"""Sphinx configuration of the ntkmixed documentation.

Build from the repository root (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs build/docs

The API reference is generated from ``ntkmixed.__all__`` (``_ext/apiref.py``), so a name
that becomes public appears without editing any page; the gallery (``examples/``) is
executed on every build by sphinx-gallery; the command line page is read from the
argument parser itself (sphinx-argparse).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# the working tree's ntkmixed, whatever is installed
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "_ext"))
# examples and autodoc import torch-backed kernels: keep them to the CPU and two threads
os.environ.setdefault("OMP_NUM_THREADS", "2")

import types  # noqa: E402

import ntkmixed  # noqa: E402

# The public submodules are aliases (``ntkmixed.datasets`` is ``ntkmixed.data.datasets``)
# reached by attribute, as users reach them (``nm.datasets.load_example``); autodoc
# imports them by name, so register them under their public names for the build.
for _name in ntkmixed.__all__:
    _value = getattr(ntkmixed, _name)
    if isinstance(_value, types.ModuleType):
        sys.modules.setdefault(f"ntkmixed.{_name}", _value)

import apiref  # noqa: E402

apiref.write_api_index(HERE / "api" / "index.rst")

# -- project ---------------------------------------------------------------------------
project = "ntkmixed"
author = "the ntkmixed authors"
copyright = "the ntkmixed authors"
release = ntkmixed.__version__
version = ".".join(release.split(".")[:2])

# -- extensions ------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "sphinx_copybutton",
    "myst_parser",
    "vignettes",
    "mathjax_local",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples/README.rst", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]
root_doc = "index"
default_role = "code"
add_function_parentheses = False
# nothing reaches the network here (no intersphinx): external names are written as text

# -- autodoc / autosummary / numpydoc --------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # the numpydoc sections say the types in words users read
autodoc_member_order = "groupwise"
autodoc_default_options = {
    "members": True,
    "inherited-members": "BaseException,Exception,Warning,UserWarning,RuntimeWarning,"
                         "DeprecationWarning,ValueError,object,tuple,dict,Protocol",
}
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery ---------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "reference_url": {"ntkmixed": None},
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"ntkmixed {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "external_links": [{"name": "R reference", "url": "r/index.html"}],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

# -- myst (CHANGELOG.md, ARCHITECTURE.md) -----------------------------------------------
myst_heading_anchors = 3
html_css_files = ["ntkmixed.css"]
