"""The file formats stay importable by the survey without the trainer's or the app's stack."""

from __future__ import annotations

import subprocess
import sys


def test_imagenet_files_imports_neither_torch_nor_flask():
    code = (
        "import sys, imagenet_files.downsampled, imagenet_files.label_order, "
        "imagenet_files.layout; "
        "print(sorted({'torch', 'flask', 'trainer', 'survey_app'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
