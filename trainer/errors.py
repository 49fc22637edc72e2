"""The trainer's one error base, and what its command lines print as a message, not a traceback.

Every error class of the trainer derives from `TrainerError` and lives beside the code that
raises it (`CheckpointError` in checkpoint.py, `ExportError` in export.py, ...). The trainer also
reads files through two packages with errors of their own: the CIL through clustering's format
module, the ImageNet files through imagenet_files; `USER_ERRORS` adds theirs.
"""

from __future__ import annotations

from clustering.cil import CILFormatError
from imagenet_files.classifier_file import ClassifierFileError
from imagenet_files.image_input import ImageInputError
from imagenet_files.label_order import LabelOrderError
from imagenet_files.layout import DataLayoutError


class TrainerError(ValueError):
    """Something the user gave (a file, a folder, an option) that the trainer cannot use; the
    message says why and what to change. A ValueError, as each of them was before the base."""


class RunError(TrainerError):
    """A run, evaluation or comparison that cannot start as asked."""


# What each command line (main.py, compare, export, features, predict) catches and prints.
USER_ERRORS = (
    TrainerError,
    CILFormatError,
    ClassifierFileError,
    DataLayoutError,
    ImageInputError,
    LabelOrderError,
)
