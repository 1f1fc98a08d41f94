# R -> pandas conversions, checked on the pandas side.

describe_frame <- local({
  code <- c(
    "def describe(df):",
    "    import pandas as pd",
    "    category = [c for c in df.columns if str(df[c].dtype) == 'category']",
    "    return {'dtypes': [str(t) for t in df.dtypes],",
    "            'missing': [[bool(v) for v in df[c].isna()] for c in df.columns],",
    "            'index': [str(i) for i in df.index],",
    "            'values': [[None if pd.isna(v) else str(v) for v in df[c]] for c in df.columns],",
    "            'categories': {c: [str(v) for v in df[c].cat.categories] for c in category},",
    "            'ordered': {c: bool(df[c].cat.ordered) for c in category}}"
  )
  function() {
    env <- reticulate::py_run_string(paste(code, collapse = "\n"), local = TRUE, convert = FALSE)
    reticulate::py_get_item(env, "describe")
  }
})

# What pandas holds after the R -> Python conversion of `frame`.
pandas_view <- function(frame) {
  py <- ntkmixed:::frame_to_py(frame)
  view <- reticulate::py_to_r(ntkmixed:::py_run(describe_frame(), py))
  names(view$missing) <- names(view$values) <- names(frame)
  view
}

test_that("integer, logical, character and factor NA become missing values in pandas", {
  skip_if_no_ntkmixed()
  frame <- data.frame(
    int = c(1L, NA, 3L),
    lgl = c(TRUE, NA, FALSE),
    chr = c("a", NA, "c"),
    fct = factor(c("lo", NA, "hi"), levels = c("lo", "hi")),
    dbl = c(0.5, NA, 2),
    stringsAsFactors = FALSE
  )
  view <- pandas_view(frame)
  for (column in names(frame)) {
    expect_identical(unlist(view$missing[[column]]), c(FALSE, TRUE, FALSE), label = column)
  }
  expect_identical(unlist(view$dtypes), c("float64", "boolean", "object", "category", "float64"))
  expect_identical(view$values$int[c(1, 3)], list("1.0", "3.0"))
  expect_identical(view$values$lgl[c(1, 3)], list("True", "False"))
  expect_identical(view$values$chr[c(1, 3)], list("a", "c"))
  expect_identical(unlist(view$categories$fct), c("lo", "hi"))
})

test_that("complete columns keep their types; factors keep level order and ordering", {
  skip_if_no_ntkmixed()
  frame <- data.frame(
    int = c(3L, 1L), lgl = c(TRUE, FALSE), chr = c("x", "NA"),
    fct = factor(c("b", "a"), levels = c("b", "a", "unused")),
    ord = factor(c("low", "high"), levels = c("low", "high"), ordered = TRUE),
    stringsAsFactors = FALSE
  )
  view <- pandas_view(frame)
  expect_identical(unlist(view$dtypes), c("int64", "bool", "object", "category", "category"))
  expect_identical(unlist(view$values$chr), c("x", "NA"))  # the string "NA" is data, not missing
  expect_identical(unlist(view$categories$fct), c("b", "a", "unused"))
  expect_true(view$ordered$ord)
  expect_false(view$ordered$fct)
})

test_that("row names become the pandas index; automatic row names become '1', '2', ...", {
  skip_if_no_ntkmixed()
  expect_identical(unlist(pandas_view(data.frame(a = 1:2, row.names = c("id9", "id3")))$index), c("id9", "id3"))
  expect_identical(unlist(pandas_view(data.frame(a = 1:3))$index), c("1", "2", "3"))
  single <- pandas_view(data.frame(a = "only", stringsAsFactors = FALSE))
  expect_identical(unlist(single$values$a), "only")
})

test_that("unsupported column classes are refused with the column name", {
  skip_if_no_ntkmixed()
  expect_error(ntkmixed:::frame_to_py(data.frame(d = Sys.Date())), "Column 'd' of 'data' has class 'Date'")
  frame <- data.frame(a = 1:2)
  frame$m <- matrix(1:4, 2)
  expect_error(ntkmixed:::frame_to_py(frame), "Column 'm' of 'data' must be numeric")
})

test_that("matrices keep values, NA, row and column names", {
  skip_if_no_ntkmixed()
  G <- matrix(c(0, 1, NA, 2, 1, 0), 3, dimnames = list(c("a", "b", "c"), c("s1", "s2")))
  back <- ntkmixed:::from_py(ntkmixed:::bridge()$plain_matrix(ntkmixed:::matrix_to_py(G, "genotypes", "fit")))
  expect_identical(back, G)
  integer_G <- matrix(0:5, 2, dimnames = list(c("p", "q"), NULL))
  expect_identical(unname(ntkmixed:::from_py(ntkmixed:::bridge()$plain_matrix(
    ntkmixed:::matrix_to_py(integer_G, "genotypes", "fit")))), unname(integer_G * 1.0))
})

test_that("values from Python round-trip: frames, series, arrays, strings with NA", {
  skip_if_no_ntkmixed()
  plain <- function(code) ntkmixed:::from_py(ntkmixed:::bridge()$plain(reticulate::py_eval(code, convert = FALSE)))
  frame <- plain("__import__('pandas').DataFrame({'x': [1.5, float('nan')], 'label': ['a', None], 'flag': [True, False]}, index=['i1', 'i2'])")
  expect_identical(frame, data.frame(x = c(1.5, NA), label = c("a", NA), flag = c(TRUE, FALSE),
                                     row.names = c("i1", "i2")))
  series <- plain("__import__('pandas').Series([1.0, 2.0], index=['u', 'v'])")
  expect_identical(series, c(u = 1, v = 2))
  array <- plain("__import__('numpy').arange(6.0).reshape(2, 3)")
  expect_identical(array, matrix(c(0, 3, 1, 4, 2, 5), 2))
})
