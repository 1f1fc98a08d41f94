"""Inputs: genotype matrices and PLINK filesets, genotype statistics and QC, phenotype
and covariate files, the formula design (row alignment), and the example dataset."""
