# Genotype files and the example dataset.

#' Read a PLINK fileset
#'
#' Reads the dosages of a PLINK 1 binary fileset (\code{.bed/.bim/.fam}) with
#' the Python reader of ntkmixed. For large filesets pass the prefix itself as
#' \code{genotypes} to \code{\link{fit}} instead: Python then reads it without
#' copying it into R.
#'
#' @param prefix Path of the fileset without (or with) its extension.
#' @return A numeric matrix of allele dosages (0/1/2, \code{NA} for missing
#'   calls), one row per individual (row names = IIDs) and one column per SNP
#'   (column names = SNP IDs).
#' @examplesIf ntkmixed_available()
#' G <- read_plink(load_example()$bfile)
#' dim(G)
#' G[1:3, 1:5]
#' @export
read_plink <- function(prefix) {
  prefix <- path.expand(as_string(prefix, "prefix", "read_plink"))
  genotypes <- py_run("read_plink", prefix, where = sys.call())
  from_py(bridge()$plain_matrix(genotypes))
}

#' The example dataset
#'
#' 700 simulated people from two populations genotyped at 740 common SNPs of
#' one 1 Mb region (coalescent simulation, so with realistic linkage
#' disequilibrium), with covariates and two phenotypes of known heritability:
#' \code{y_additive} (additive) and \code{y_nonlinear} (a non-linear genetic
#' architecture, missing for some people). It is the dataset of the Python
#' \code{ntkmixed.datasets.load_example()}.
#'
#' @return A list: \code{data} (a data.frame with row names = IIDs and columns
#'   \code{sex}, \code{age}, \code{education}, \code{population} (factors except
#'   age), \code{y_additive}, \code{y_nonlinear}), \code{genotypes} (the dosage
#'   matrix, rows in the order of \code{data}), \code{bfile} (the PLINK prefix),
#'   \code{table} (the path of the tab-separated data file) and \code{truth} (the
#'   simulation settings, e.g. \code{truth$phenotypes$y_additive$h2}).
#' @examplesIf ntkmixed_available()
#' example <- load_example()
#' str(example$data)
#' dim(example$genotypes)
#' example$truth$phenotypes$y_additive$h2
#' @export
load_example <- function() {
  payload <- from_py(bridge()$example_payload())
  paths <- payload$paths
  table <- utils::read.delim(paths$table, colClasses = c(FID = "character", IID = "character"),
                             na.strings = "NA")
  data <- data.frame(
    sex = factor(table$sex, levels = c("female", "male")),
    age = as.numeric(table$age),
    education = factor(table$education, levels = c("primary", "secondary", "tertiary")),
    population = factor(table$population, levels = c("popA", "popB")),
    y_additive = as.numeric(table$y_additive),
    y_nonlinear = as.numeric(table$y_nonlinear),
    row.names = table$IID
  )
  genotypes <- read_plink(paths$bfile)
  list(data = data, genotypes = genotypes[rownames(data), , drop = FALSE], bfile = paths$bfile,
       table = paths$table, truth = payload$truth)
}
