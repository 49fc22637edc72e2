"""The folder where the app keeps what is slow to compute and the same for every process
(`AGGREGATION_STORE`): aggregations, priors, the hierarchy. A file per key, written
beside and renamed, the newest few of each kind kept."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from flask import current_app

import clustering
from clustering.gcpause import collector_paused


def code_digest() -> str:
    """A digest of the source of the clustering package (the priors' model included) and
    of the survey's aggregation and priors: what the kept files were computed by."""
    package = Path(clustering.__file__).parent
    sources = sorted(package.rglob("*.py")) + [package / "data" / "entry_level_model.json"]
    app = Path(__file__).parent
    sources += [*sorted(app.glob("aggregation*.py")), app / "class_states.py"]
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(package.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def store_folder() -> Path | None:
    """The folder set, or None (an empty `AGGREGATION_STORE` turns the store off)."""
    folder = current_app.config.get("AGGREGATION_STORE")
    return Path(folder) if folder else None


def enabled() -> bool:
    """Whether a folder is set."""
    return store_folder() is not None


def worth_keeping(seconds: float) -> bool:
    """Whether an aggregation that took `seconds` to compute is kept: a quick one is
    cheaper to compute again than to write."""
    return enabled() and seconds >= current_app.config["AGGREGATION_STORE_SECONDS"]


def write(name: str, dump, files_kept: int) -> None:
    """`dump(file)` into the store's file `name`, keeping the newest `files_kept` of its
    kind (its suffix)."""
    folder = store_folder()
    if folder is None:
        return
    part = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a process loading it never sees half a file.
        # Pickled straight into it, not into memory first (20 MB at 21,843 classes).
        with (
            tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part,
            collector_paused(),
        ):
            dump(part)
        os.replace(part.name, folder / name)
        _prune(folder, "*" + Path(name).suffix, files_kept)
    except BaseException as exc:
        if part is not None:
            Path(part.name).unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        current_app.logger.warning("cannot keep %s in %s: %s", name, folder, exc)


def in_child(call) -> None:
    """`call()` in a forked child process, waited for; where there is no fork, here.
    For pickling a large value into the store from a thread: in the process itself the
    pickler held the interpreter for a second at ImageNet-21k's size, while the process's
    requests waited, and its memo of every object written took 90 MB beside the
    process's peak. The child shares the process's memory as it was, does nothing but
    `call` (no database: its connections are the parent's), and ends without cleaning
    up what is the parent's. A child that fails is logged here: its own traceback ends
    with it."""
    if not hasattr(os, "fork"):
        call()
        return
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            call()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status:
        current_app.logger.warning(
            "keeping a file in the store failed in its child process (wait status %d)", status
        )


def read(name: str, loads=pickle.loads):
    """`loads` of the bytes of the store's file `name`; None where the store is off,
    there is no such file, or it cannot be read or loaded (it is computed again: not an
    error). The files are pickles, written only by the app into its own folder."""
    folder = store_folder()
    if folder is None:
        return None
    path = folder / name
    try:
        data = path.read_bytes()
        with collector_paused():
            return loads(data)
    except FileNotFoundError:
        return None
    except Exception:  # any damage to the file
        current_app.logger.exception("cannot load the kept %s", path)
        return None


def pickled(value):
    """A `dump` for `write`: `value` pickled."""
    return lambda file: pickle.dump(value, file, pickle.HIGHEST_PROTOCOL)


def _prune(folder: Path, pattern: str, files_kept: int) -> None:
    """Forget all but the newest `files_kept` files matching `pattern` (another process
    may be at it too)."""
    ages = []
    for path in folder.glob(pattern):
        try:
            ages.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            continue
    for _, old in sorted(ages, reverse=True)[files_kept:]:
        old.unlink(missing_ok=True)
