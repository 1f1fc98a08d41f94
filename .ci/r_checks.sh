#!/usr/bin/env bash
# R side of CI, called by .ci/run after pytest (and runnable alone from the repository
# root): the Python environment R uses, R CMD build + R CMD check of the R package,
# the testthat suite, both vignettes rendered to HTML in build/vignettes/, the pkgdown
# reference site in build/docs/r/, and install_ntkmixed() tested from a fresh R library.
# Ends with the line "R tests: N passed, N failed, N skipped" (test_that blocks) and
# exits non-zero when any step fails.
#
# Needs (Debian): r-base-core r-base-dev r-cran-reticulate r-cran-testthat r-cran-knitr
# r-cran-rmarkdown pandoc r-cran-lme4 r-cran-roxygen2 r-cran-pkgdown; (Python, system interpreter):
# the ntkmixed requirements, jupyter nbconvert and ipykernel. It installs nothing else
# except numpy<2 and pandas<3 into the R virtual environment below (and, in step 6, into
# a temporary one made by install_ntkmixed()).
#
# Environment:
#   NTKMIXED_PYTHON  Python for R to use as is (skips the virtual environment).
#   R_VENV           where to create it (default .venv-r, git-ignored).
#   PYTHON           interpreter that creates it and runs the notebook (default python).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build/r
vignettes_out=$root/build/vignettes
mkdir -p "$build" "$vignettes_out"
python_base=${PYTHON:-python}
failures=()
step() { printf '\n== %s ==\n' "$*"; }
fail() { failures+=("$1"); printf 'FAILED: %s\n' "$1"; }
seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(seconds)" 'BEGIN { printf "%.1f", b - a }'; }
start_all=$(seconds)

# --- 1. The Python that R embeds --------------------------------------------------------
# Debian's reticulate 1.28 cannot convert NumPy >= 2 or pandas >= 3 objects. The R
# package never asks it to (it passes bytes and lists), but the documented set-up is a
# virtual environment with numpy<2 and pandas<3 on top of the system packages, and CI
# tests exactly that set-up.
step "Python environment for R"
if [ -n "${NTKMIXED_PYTHON:-}" ]; then
  r_python=$NTKMIXED_PYTHON
else
  venv=${R_VENV:-$root/.venv-r}
  r_python=$venv/bin/python
  if ! "$r_python" -c 'import numpy, pandas, sys; sys.exit(not (numpy.__version__ < "2" and pandas.__version__ < "3"))' 2>/dev/null; then
    rm -rf "$venv"
    "$python_base" -m venv --system-site-packages "$venv" || fail "venv creation"
    "$r_python" -m pip install -q --disable-pip-version-check "numpy<2" "pandas<3" 2>&1 \
      | grep -v -e "requires numpy" -e "dependency resolver" -e "is ignored" || true
  fi
  # the repository's ntkmixed, whatever the system site-packages hold
  site=$("$r_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  printf '%s\n' "$root" >"$site/ntkmixed-repository.pth"
fi
# a real interpreter, not a pyenv shim: reticulate loads its libpython
r_python=$("$r_python" -c 'import sys; print(sys.executable)')
export RETICULATE_PYTHON=$r_python NTKMIXED_PYTHON=$r_python
"$r_python" - <<'PY' || fail "Python environment for R"
import warnings
import numpy as np, pandas as pd, ntkmixed as nm
print(f"python {__import__('sys').executable}; numpy {np.__version__}; pandas {pd.__version__}; ntkmixed from {nm.__file__}")
rng = np.random.default_rng(0)
G = rng.binomial(2, 0.3, size=(40, 30)).astype(float)
data = pd.DataFrame({"y": rng.normal(size=40), "sex": pd.Categorical(rng.choice(["f", "m"], 40))})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = nm.fit("y ~ sex", data=data, genotypes=G, kernel=[nm.GRM(), nm.NTK(depth=2, width=64)])
print(f"smoke fit: h2 = {res.h2:.3f}")
PY

# --- 2. R CMD build and R CMD check -------------------------------------------------------
step "R CMD build"
version=$(sed -n 's/^Version: *//p' R/DESCRIPTION)
tarball=$build/ntkmixed_${version}.tar.gz
t0=$(seconds)
(cd "$build" && R CMD build --no-build-vignettes "$root/R") >"$build/build.log" 2>&1 \
  || { cat "$build/build.log"; fail "R CMD build"; }
echo "built $(basename "$tarball") in $(elapsed "$t0") s"

step "R CMD check --no-manual"
t0=$(seconds)
# --no-tests: the testthat suite runs once, below, where its results are counted
(cd "$build" && _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual --no-tests "$tarball") \
  >"$build/check.log" 2>&1
check_status=$?
sed -n '/^Status:/p;/WARNING/,/^\* /p;/NOTE/,/^\* /p;/ERROR/,/^\* /p' "$build/check.log"
echo "R CMD check took $(elapsed "$t0") s"
if [ $check_status -ne 0 ] || grep -qE '^Status: .*(ERROR|WARNING)' "$build/check.log"; then
  cat "$build/check.log"
  fail "R CMD check"
fi

# --- 3. testthat ------------------------------------------------------------------------
step "testthat"
lib=$build/lib
mkdir -p "$lib"
R CMD INSTALL --no-test-load -l "$lib" "$tarball" >"$build/install.log" 2>&1 \
  || { cat "$build/install.log"; fail "R CMD INSTALL"; }
t0=$(seconds)
R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript --vanilla - "$root/R/tests/testthat" "$build/r_tests.txt" <<'RSCRIPT'
args <- commandArgs(trailingOnly = TRUE)
library(testthat)
results <- as.data.frame(test_dir(args[[1]], package = "ntkmixed", load_package = "installed",
                                  reporter = ProgressReporter$new(show_praise = FALSE),
                                  stop_on_failure = FALSE))
failed <- results$failed > 0 | results$error
skipped <- results$skipped & !failed
passed <- !failed & !skipped
writeLines(sprintf("%d %d %d %d", sum(passed), sum(failed), sum(skipped), sum(results$nb)), args[[2]])
RSCRIPT
read -r r_passed r_failed r_skipped r_expectations <"$build/r_tests.txt" 2>/dev/null \
  || { r_passed=0; r_failed=1; r_skipped=0; r_expectations=0; fail "testthat did not finish"; }
echo "testthat: $r_expectations expectations in $((r_passed + r_failed + r_skipped)) tests, $(elapsed "$t0") s"
[ "$r_failed" -eq 0 ] || fail "testthat"
[ "$r_skipped" -eq 0 ] || echo "note: $r_skipped R tests skipped (see above)"

# --- 4. Vignettes, executed ---------------------------------------------------------------
step "vignette: Getting started in R"
t0=$(seconds)
knit_dir=$(mktemp -d)
R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript --vanilla -e "rmarkdown::render('$root/vignettes/getting-started-R.Rmd', output_dir = '$vignettes_out', intermediates_dir = '$knit_dir', knit_root_dir = '$knit_dir', quiet = TRUE, envir = new.env())" \
  || fail "R vignette"
rm -rf "$knit_dir"
r_vignette=$vignettes_out/getting-started-R.html
[ -s "$r_vignette" ] && echo "$(basename "$r_vignette"): $(du -k "$r_vignette" | cut -f1) KiB in $(elapsed "$t0") s"

step "vignette: Getting started in Python"
t0=$(seconds)
"$python_base" -m jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 \
  --output-dir "$vignettes_out" "$root/vignettes/getting-started-python.ipynb" \
  || fail "Python vignette"
py_vignette=$vignettes_out/getting-started-python.html
[ -s "$py_vignette" ] && echo "$(basename "$py_vignette"): $(du -k "$py_vignette" | cut -f1) KiB in $(elapsed "$t0") s"

# --- 5. The R reference site (pkgdown) ---------------------------------------------------------
# Every help page with its examples executed against the Python above, into build/docs/r/
# next to the Sphinx site. pkgdown 2.0 would look up the package on CRAN for the sidebar;
# pkgdown.internet = FALSE keeps it offline.
step "pkgdown site: build/docs/r"
t0=$(seconds)
rm -rf "$root/build/docs/r"
(cd "$root/R" && R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript --vanilla -e \
  'options(pkgdown.internet = FALSE); pkgdown::build_site(".", preview = FALSE, install = FALSE, new_process = FALSE)') \
  >"$build/pkgdown.log" 2>&1 || { tail -40 "$build/pkgdown.log"; fail "pkgdown"; }
# pkgdown prints an example's error into its page rather than failing: look for them
broken=$(grep -l '<span class="r-err' "$root/build/docs/r/reference/"*.html 2>/dev/null || true)
if [ -n "$broken" ]; then
  echo "examples failed in: $broken"
  fail "pkgdown examples"
fi
[ -s "$root/build/docs/r/index.html" ] && echo "pkgdown: $(ls "$root/build/docs/r/reference/"*.html | wc -l) reference pages in $(elapsed "$t0") s"

# --- 6. install_ntkmixed() from a fresh R library -----------------------------------------------
# The R package installed into an empty library, install_ntkmixed() against this source tree
# (a virtual environment over the system Python's packages, so the pinned torch is reused;
# NumPy/pandas as reticulate 1.28 needs them), then a new R session that must find the
# environment by itself and fit the example. Environments and the record go to temporary
# directories, never to the user's.
step "install_ntkmixed() from a fresh R library"
t0=$(seconds)
fresh=$(mktemp -d)
mkdir -p "$fresh/lib"
base_python=$("$python_base" -c 'import sys; print(sys.executable)')
if R CMD INSTALL --no-test-load -l "$fresh/lib" "$tarball" >"$fresh/install.log" 2>&1; then
  fresh_env=(env -u NTKMIXED_PYTHON -u RETICULATE_PYTHON WORKON_HOME="$fresh/venvs" \
             R_USER_CONFIG_DIR="$fresh/config" R_LIBS="$fresh/lib")
  "${fresh_env[@]}" Rscript --vanilla -e \
    "ntkmixed::install_ntkmixed(python = '$base_python', package = '$root', system_site_packages = TRUE)" \
    >"$build/install_ntkmixed.log" 2>&1 || { grep -v 'is ignored' "$build/install_ntkmixed.log" | tail -30; fail "install_ntkmixed"; }
  cat >"$fresh/after.R" <<'RSCRIPT'
library(ntkmixed)
available <- ntkmixed_available()
if (!isTRUE(available)) stop("not available after install_ntkmixed(): ", attr(available, "reason"))
env <- python_environment()
cat("python", env$python, "numpy", env$numpy, "pandas", env$pandas, "\n")
if (!startsWith(env$python, file.path(Sys.getenv("WORKON_HOME"), "r-ntkmixed"))) stop("another Python was used: ", env$python)
example <- load_example()
m <- suppressWarnings(fit(y_additive ~ sex + age, data = example$data, genotypes = example$genotypes, kernel = GRM()))
cat("h2", format(h2(m)$estimate, digits = 4), "\n")
RSCRIPT
  if (cd "$fresh" && "${fresh_env[@]}" Rscript --vanilla after.R >"$fresh/after.log" 2>&1); then
    grep -E '^(python|h2) ' "$fresh/after.log"
  else
    cat "$fresh/after.log"; fail "fit after install_ntkmixed"
  fi
  cat "$fresh/after.log" >>"$build/install_ntkmixed.log"
else
  cat "$fresh/install.log"; fail "R CMD INSTALL into a fresh library"
fi
rm -rf "$fresh"
echo "install_ntkmixed() and a fit in a new session: $(elapsed "$t0") s"

# --- 7. Totals ------------------------------------------------------------------------------
echo
echo "R checks took $(elapsed "$start_all") s"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'R checks failed: %s\n' "$(IFS=','; echo "${failures[*]}")"
fi
echo "R tests: ${r_passed:-0} passed, ${r_failed:-0} failed, ${r_skipped:-0} skipped"
[ ${#failures[@]} -eq 0 ]
