"""A pytest plugin that makes torch, torchvision, ONNX Runtime and onnx unimportable, to show
that the survey app and the clustering job run and pass their tests without them:

    .venv/bin/python -m pytest -p tests.without_torch tests/survey_app tests/clustering -m "not slow"
"""

from __future__ import annotations

import importlib.abc
import sys

BLOCKED = frozenset({"torch", "torchvision", "onnxruntime", "onnx", "onnxscript"})


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is not installed (tests.without_torch)", name=name)


loaded = BLOCKED & {name.split(".")[0] for name in sys.modules}
if loaded:
    raise RuntimeError(f"already imported before the plugin: {', '.join(sorted(loaded))}")
sys.meta_path.insert(0, _Blocker())
