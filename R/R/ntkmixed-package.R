#' ntkmixed: kernel linear mixed models with Neural Tangent Kernels
#'
#' R interface to the Python package \code{ntkmixed}: \code{\link{fit}} for
#' kernel linear mixed models (variance components by MINQUE or REML,
#' heritability, BLUPs, prediction for new people), \code{\link{krr}} for
#' kernel ridge regression, and the kernels \code{\link{GRM}},
#' \code{\link{NTK}}, \code{\link{NNGP}}, \code{\link{Precomputed}}.
#'
#' @section Python environment:
#' The package runs the Python module \code{ntkmixed} through reticulate.
#' Set \code{NTKMIXED_PYTHON} (or \code{RETICULATE_PYTHON}) to the Python
#' executable of an environment where \code{import ntkmixed} works, before the
#' package starts Python. reticulate releases before 1.38 (Debian 12 ships
#' 1.28) cannot convert NumPy 2 or pandas 3 objects; this package never asks
#' them to, but a virtual environment with \code{numpy<2} and \code{pandas<3}
#' is the documented set-up:
#' \preformatted{
#' python -m venv --system-site-packages ~/.venv-ntkmixed
#' ~/.venv-ntkmixed/bin/pip install "numpy<2" "pandas<3" ntkmixed
#' export NTKMIXED_PYTHON=~/.venv-ntkmixed/bin/python
#' }
#' \code{\link{python_environment}()} shows what is in use.
#' @keywords internal
#' @importFrom stats coef confint fitted formula logLik nobs predict residuals vcov
#' @importFrom graphics plot
"_PACKAGE"

#' Re-exported generics
#'
#' \code{fixef}, \code{ranef} and \code{VarCorr} are the generics of nlme,
#' which lme4 also uses; see \code{\link{ntkmixed_fit-methods}}.
#'
#' @importFrom nlme fixef ranef VarCorr
#' @name reexports
#' @aliases fixef ranef VarCorr
#' @export fixef ranef VarCorr
#' @keywords internal
NULL
