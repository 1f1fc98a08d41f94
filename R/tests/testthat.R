library(testthat)
library(ntkmixed)

test_check("ntkmixed")
