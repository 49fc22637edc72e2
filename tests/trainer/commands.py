"""The trainer's commands as a researcher runs them: a Python process from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def python(
    *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """`python ARGS...` from the repository root, its output captured."""
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        # one thread per process: the tests share two cores
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node 2 ARGS...`: two CPU processes (gloo)."""
    return python("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args)
