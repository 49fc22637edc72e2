"""The demo page's kept uploads: a picture's bytes, under their SHA-256, in DEMO_KEEP_DIR,
readable by the app's user only, and no more than DEMO_KEEP_MAX_BYTES in all. Nothing else
of the upload is stored (not its name, nor who sent it: the log names the uploader)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app


def kept_bytes(folder: Path) -> int:
    """The bytes of the pictures kept in `folder`."""
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


def keep(content: bytes) -> str | None:
    """Store `content` and return its file's name, or None when it would take the folder
    over its limit. The same picture kept twice is one file. Written whole to a private
    temporary file (mkstemp creates it 0600) and renamed into place, so a file is never
    seen half-written nor readable by others."""
    folder = Path(current_app.config["DEMO_KEEP_DIR"])
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = hashlib.sha256(content).hexdigest()
    if (folder / name).exists():
        return name
    if kept_bytes(folder) + len(content) > current_app.config["DEMO_KEEP_MAX_BYTES"]:
        return None
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
        os.replace(temporary, folder / name)
    except BaseException:
        os.unlink(temporary)
        raise
    return name
