"""Former home of the distillers' student helpers, kept for
``tools/benchmark.py`` until it imports them from
:mod:`mlfd_mm.models.distillers`."""
from ...config import model_scope as student_scope  # noqa: F401
from .mlfd import MLFDDistiller  # noqa: F401
from .student import (resolve_student_config,  # noqa: F401
                      student_data_preprocessor)
