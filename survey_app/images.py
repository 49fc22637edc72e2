"""Class pictures: the configured image source, Pillow thumbnails cached on
disk, and the route that serves them.

`IMAGE_SOURCE` names a local ImageNet folder (`ROOT/<wnid>/*.JPEG`, or the
same under `ROOT/train/` or `ROOT/val/`) or a folder of Downsampled ImageNet
files. URLs name an image by class and number (`/images/large/n01440764/2.jpg`),
never by file name, and every file opened is checked to lie inside the root,
so no request can read a path outside it.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from flask import Blueprint, Flask, abort, current_app, send_file, url_for
from flask_login import login_required
from PIL import Image, ImageOps

from imagenet_files.layout import DataLayoutError
from survey_app import downsampled
from survey_app.database import hierarchy_from_db, require_class
from survey_app.errors import SurveyError

bp = Blueprint("images", __name__)

IMAGES_PER_CLASS = 6
SIZES = {"small": 160, "large": 360}  # longest side in pixels
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".webp", ".bmp")
CACHE_SECONDS = 7 * 24 * 3600


class ImageSourceError(SurveyError, ValueError):
    """IMAGE_SOURCE is set but cannot be used; the message says what to fix."""


@dataclass
class FolderSource:
    """An ImageFolder-like tree; the first IMAGES_PER_CLASS files (by name) of a class."""

    upscale: ClassVar[bool] = False
    root: Path
    _bases: list[Path] = field(init=False, repr=False)
    _names: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self._bases = [b for b in (self.root, self.root / "train", self.root / "val") if b.is_dir()]

    def problem(self, class_wnids: Iterable[str]) -> str | None:
        """Why no class would show a picture, or None."""
        if any(self._class_dir(wnid) for wnid in class_wnids):
            return None
        return (
            f"IMAGE_SOURCE {str(self.root)!r} holds no folder named after a class "
            "(like n01440764/), not even under train/ or val/"
        )

    @property
    def cache_key(self) -> str:
        return _digest(self.root)

    def _class_dir(self, wnid: str) -> Path | None:
        return next((base / wnid for base in self._bases if (base / wnid).is_dir()), None)

    def count(self, wnid: str) -> int:
        return len(self.names(wnid))

    def names(self, wnid: str) -> list[str]:
        if wnid not in self._names:
            folder = self._class_dir(wnid)
            found = (
                []
                if folder is None
                else (
                    entry.name
                    for entry in os.scandir(folder)
                    if entry.name.lower().endswith(IMAGE_SUFFIXES) and entry.is_file()
                )
            )
            # Only the few shown are kept: a train folder holds 1,300 names per class.
            self._names[wnid] = heapq.nsmallest(IMAGES_PER_CLASS, found)
        return self._names[wnid]

    def path(self, wnid: str, number: int) -> Path | None:
        names = self.names(wnid)
        if not 0 <= number < len(names):
            return None
        path = (self._class_dir(wnid) / names[number]).resolve()
        return path if path.is_relative_to(self.root) else None  # a symlink out of the root


@dataclass
class DownsampledSource:
    """Downsampled ImageNet files, extracted once into a FolderSource (see downsampled.py).
    A file that cannot be read leaves the pages with placeholders and the
    reason on the admin page."""

    upscale: ClassVar[bool] = True  # 32 or 64 px: enlarged for display
    file: Path
    extract_dir: Path
    _folder: FolderSource | None = field(default=None, repr=False)
    _error: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _ready(self) -> FolderSource:
        with self._lock:
            if self._folder is None:
                if not self.extract_dir.is_dir():
                    try:
                        downsampled.extract(self.file, self.extract_dir, IMAGES_PER_CLASS)
                    except DataLayoutError as exc:
                        current_app.logger.error("image source: %s", exc)
                        self._error = str(exc)
                self._folder = FolderSource(self.extract_dir)
        return self._folder

    def problem(self, class_wnids: Iterable[str]) -> str | None:
        self._ready()
        return self._error

    @property
    def cache_key(self) -> str:
        return _digest(self.file)

    def count(self, wnid: str) -> int:
        return self._ready().count(wnid)

    def path(self, wnid: str, number: int) -> Path | None:
        return self._ready().path(wnid, number)


ImageSource = FolderSource | DownsampledSource


def _digest(path: Path) -> str:
    """A short name for a source in the thumbnail cache, so switching
    IMAGE_SOURCE never shows another source's pictures."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


def open_source(setting: str | None, thumbnail_dir: str) -> ImageSource | None:
    """The source IMAGE_SOURCE names, or None when it is not set."""
    if not setting:
        return None
    root = Path(setting).expanduser()
    if not root.is_dir():
        raise ImageSourceError(f"IMAGE_SOURCE {str(root)!r} is not a folder")
    file = downsampled.find_file(root)
    if file is None:
        return FolderSource(root)
    return DownsampledSource(file, Path(thumbnail_dir) / f"downsampled-{_digest(file)}")


def init_app(app: Flask) -> None:
    """Opens the source once; a broken setting leaves the pages working with
    placeholders and puts the reason on the admin page."""
    try:
        source = open_source(app.config["IMAGE_SOURCE"], app.config["THUMBNAIL_DIR"])
        problem = None
    except ImageSourceError as exc:
        source, problem = None, str(exc)
    app.extensions["cil_images"] = (source, problem)


def current_source() -> ImageSource | None:
    return current_app.extensions["cil_images"][0]


def source_warning() -> str | None:
    """What the admin should know about the image source, or None when all is well."""
    source, problem = current_app.extensions["cil_images"]
    if source is None and problem is None:
        return (
            "No image source is configured, so the pages show placeholders. Set "
            "CIL_IMAGE_SOURCE to a local ImageNet folder (ROOT/<wnid>/*.JPEG) or a folder "
            "of Downsampled ImageNet files, and restart."
        )
    problem = problem or source.problem(hierarchy_from_db().class_index)
    return f"{problem}; the pages show placeholders instead of pictures." if problem else None


def image_urls(wnid: str, size: str = "large", limit: int = IMAGES_PER_CLASS) -> list[str]:
    """URLs of up to `limit` pictures of a class; empty when there are none."""
    source = current_source()
    count = min(source.count(wnid), limit) if source is not None else 0
    return [url_for("images.thumbnail", size=size, wnid=wnid, number=n) for n in range(count)]


def first_thumbnail_url(wnid: str) -> str | None:
    """The URL of a class's first small picture, or None when it has none."""
    return next(iter(image_urls(wnid, "small", 1)), None)


def _thumbnail_path(source: ImageSource, size: str, wnid: str, number: int) -> Path:
    return (
        Path(current_app.config["THUMBNAIL_DIR"]) / source.cache_key / size / wnid / f"{number}.jpg"
    )


def make_thumbnail(original: Path, target: Path, side: int, upscale: bool) -> None:
    """A JPEG whose longest side is `side`, written atomically (parallel workers)."""
    with Image.open(original) as image:
        image.draft("RGB", (side, side))  # JPEG decodes at a reduced scale: much faster
        image = ImageOps.exif_transpose(image).convert("RGB")
    if upscale:
        scale = side / max(image.size)
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    else:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".jpg", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, "JPEG", quality=85)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@bp.get("/images/<size>/<wnid>/<int:number>.jpg")
@login_required
def thumbnail(size: str, wnid: str, number: int):
    """Picture `number` of a class, as a JPEG thumbnail made once and kept on disk."""
    require_class(wnid)
    source = current_source()
    if size not in SIZES or source is None:
        abort(404)
    original = source.path(wnid, number)
    if original is None:
        abort(404)
    target = _thumbnail_path(source, size, wnid, number)
    if not target.is_file():
        try:
            make_thumbnail(original, target, SIZES[size], source.upscale)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            current_app.logger.warning("cannot make a thumbnail of %s: %s", original, exc)
            abort(404)
    response = send_file(target, mimetype="image/jpeg", max_age=CACHE_SECONDS)
    response.cache_control.public = False  # pictures are for logged-in annotators only
    response.cache_control.private = True
    return response
