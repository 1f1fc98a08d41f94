"""Typed errors and warnings raised by ntkmixed.

Errors subclass ``ValueError`` so that callers catching the usual Python type keep
working; warnings subclass ``UserWarning`` via :class:`NtkmixedWarning` so that they can
be filtered as a family (``warnings.simplefilter("ignore", NtkmixedWarning)``).
"""


class NtkmixedError(ValueError):
    """Bad input or an impossible request, with a message naming the argument."""


class RankDeficientError(NtkmixedError):
    """The fixed-effect design has aliased (linearly dependent) columns."""


class NotPositiveSemidefiniteError(NtkmixedError):
    """A user-supplied kernel matrix is not positive semi-definite."""


class ArchiveError(NtkmixedError):
    """A saved model cannot be written or read: the path is unusable, or the file is
    missing, damaged, not an ntkmixed model or from a newer version of the format."""


class UnseenLevelsError(NtkmixedError):
    """New data hold factor levels that the model was not fitted on."""


class NtkmixedWarning(UserWarning):
    """Base class of every warning ntkmixed emits."""


class ConvergenceWarning(NtkmixedWarning):
    """An iterative estimator stopped before meeting its tolerance."""


class BoundaryWarning(NtkmixedWarning):
    """A variance component was held at its boundary (zero)."""


class DataWarning(NtkmixedWarning):
    """Rows or columns were dropped, or data were imputed."""


class IdentifiabilityWarning(NtkmixedWarning):
    """The model cannot separate two sources of variance (e.g. the mean and the residual)."""


class NtkmixedDeprecationWarning(DeprecationWarning):
    """A feature that will be removed."""


def warn(message: str, category: type[Warning]) -> None:
    """Issue a warning attributed to the first caller outside ntkmixed (so users see
    their own line, however deep inside the package the warning arose).

    Parameters
    ----------
    message : str
        The warning text.
    category : type of Warning
        Its class, e.g. :class:`BoundaryWarning`.
    """
    import os
    import sys
    import warnings

    package_dir = os.path.dirname(os.path.abspath(__file__))
    level = 2  # stacklevel 2 is warn()'s caller
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package_dir):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
