"""Kernel ridge regression with unpenalised fixed effects: the fit at one λ (an engine
state at weights (1, λ)), folds, exact cross-validation engines, scores."""

from .band import DEFAULT_BAND, apply_reflectors, band_reduce
from .crossvalidate import CrossValidation, auto_cv_engine, cross_validate
from .cv import CV_METHODS, choose_cv_method, cv_predictions, loo_predictions
from .fit import RidgeFit, ridge_fit
from .folds import check_fold_designs, check_folds, is_partition_of_complements, make_folds
from .scores import SCORINGS, best_index, default_lambdas, scores

__all__ = [
    "CV_METHODS", "DEFAULT_BAND", "SCORINGS", "CrossValidation", "RidgeFit", "apply_reflectors", "auto_cv_engine",
    "band_reduce",
    "best_index", "check_fold_designs", "check_folds", "choose_cv_method", "cross_validate", "cv_predictions",
    "default_lambdas", "is_partition_of_complements", "loo_predictions", "make_folds", "ridge_fit", "scores",
]
