"""The demo page: classify a picture (uploaded, or one of the image source's) with a trained
run, exported to ONNX and run by ONNX Runtime.

No torch here: `imagenet_files` prepares the picture and reads the exported file, and ONNX
Runtime (the `demo` extra) runs it; without it, or without DEMO_RUNS, the page says why it is
unavailable. An upload is read in memory and forgotten, unless the uploader asks to keep it
(`demo_uploads`); it is decoded no larger than the model and the page's preview need, a few
at a time per process, and each client may send a few a minute (`demo_limits`).
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

from flask import Blueprint, current_app, make_response, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from PIL import Image
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional, Regexp

from imagenet_files.classifier_file import ClassifierFileError, OnnxClassifier, top_k
from imagenet_files.image_input import REDUCING_GAP, ImageInputError, decode, to_input
from survey_app import demo_limits, demo_uploads, images
from survey_app.auth import admin_required
from survey_app.caches import kept
from survey_app.errors import SurveyError
from survey_app.extensions import csrf
from survey_app.security import CONTENT_SECURITY_POLICY

bp = Blueprint("demo", __name__)
MODEL_FILE = "model.onnx"
SHOWN = 5  # labels per head, as the "top-5"
# What a multipart body adds to the file (boundaries, the other fields, the CSRF token).
FORM_OVERHEAD = 64 * 1024
# A body up to this many times the limit is read and dropped before the page says it is too
# large: a browser shows no answer that comes before its upload has been taken in.
DRAINED = 4
PREVIEW_SIDE = 256  # the longer side of the uploaded picture as the result shows it
# The preview is a data: URL in the page (the upload is not stored to be served): this page
# alone allows such pictures.
PREVIEW_POLICY = f"{CONTENT_SECURITY_POLICY}; img-src 'self' data:"


@bp.record_once
def check_settings(state) -> None:
    """A limit that cannot be used stops the app at start, not the first upload."""
    problem = demo_limits.settings_problem(state.app.config)
    if problem:
        raise SurveyError(problem)


@bp.before_request
def guard():
    """Admins only, unless DEMO_PUBLIC opens the page to anyone; the upload's size limit."""
    if not current_app.config["DEMO_PUBLIC"]:
        refused = admin_required(lambda: None)()
        if refused is not None:
            return refused
    # A picture is larger than any other form: this page alone raises the app's body limit, to
    # DRAINED times the upload limit (see `classify`); werkzeug cuts off larger bodies.
    request.max_content_length = DRAINED * (current_app.config["DEMO_MAX_BYTES"] + FORM_OVERHEAD)
    return None


@bp.teardown_request
def release_memory(_error: BaseException | None) -> None:
    """After an upload, when its picture is no longer referenced: see `demo_limits`."""
    if request.method == "POST":
        demo_limits.release_memory()


class DemoForm(FlaskForm):
    """A run, and a picture: an upload, or a class's picture from the image source."""

    run = SelectField("Run", choices=[], validate_choice=True)
    picture = FileField(
        "Upload a picture",
        validators=[
            Optional(),
            FileAllowed(["jpg", "jpeg", "png", "webp"], "A JPEG, PNG or WebP picture, please."),
        ],
    )
    keep = BooleanField("Keep the uploaded picture on the server")
    wnid = StringField(
        "or a class of the image source (wnid)",
        validators=[Optional(), Regexp(r"n\d{8}\Z", message="A wnid: n and 8 digits.")],
    )
    number = IntegerField("picture number", default=0, validators=[Optional(), NumberRange(0)])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.picture.data and not self.wnid.data:
            self.picture.errors.append("Upload a picture or name a class.")
            return False
        return True


def runs() -> list[str]:
    """The run folders under DEMO_RUNS that hold an exported model, by name."""
    root = current_app.config["DEMO_RUNS"]
    if not root or not Path(root).is_dir():
        return []
    return sorted(path.parent.name for path in Path(root).glob(f"*/{MODEL_FILE}"))


def unavailable() -> str | None:
    """Why the page cannot classify, in words for the admin who can fix it; None when it can."""
    try:
        import onnxruntime  # noqa: F401 (only whether it is installed)
    except ImportError:
        return "ONNX Runtime is not installed on the server: pip install -e '.[demo]'."
    root = current_app.config["DEMO_RUNS"]
    if not root:
        return "No run folder is configured: set CIL_DEMO_RUNS to a folder of run folders."
    if not Path(root).is_dir():
        return f"CIL_DEMO_RUNS {root!r} is not a folder."
    if not runs():
        return (
            f"No run under {root} has an exported model: "
            f"python -m trainer.export RUN_DIR --format onnx writes RUN_DIR/{MODEL_FILE}."
        )
    return None


def classifier(run: str) -> OnnxClassifier:
    """The run's model, loaded once per version of the file (its modification
    time: a re-export replaces the session) and kept for the next request."""
    path = Path(current_app.config["DEMO_RUNS"]) / run / MODEL_FILE
    modified = path.stat().st_mtime
    return kept(("demo_model", run), modified, lambda: OnnxClassifier(path))


def _form() -> DemoForm:
    form = DemoForm()
    form.run.choices = runs()
    return form


def _page(form: DemoForm, status: int = 200, **result):
    return (
        render_template(
            "demo.html",
            form=form,
            problem=unavailable(),
            max_megabytes=current_app.config["DEMO_MAX_BYTES"] / 2**20,
            **result,
        ),
        status,
    )


@bp.get("/")
def index():
    """The form: a run, and a picture to classify."""
    return _page(_form())


def _drained(status: int, error: str):
    """The page with `error`, once the request's body has been read in chunks and dropped,
    never parsed: a refused upload costs no memory or disk, and a browser shows no answer
    that comes before its upload has been taken in."""
    while request.stream.read(64 * 1024):
        pass
    return _page(_form(), status, error=error)


@bp.post("/")
@csrf.exempt  # CSRFProtect would parse the body under the app's 1 MB limit, before `guard`
def classify():
    """The picture's labels. Its CSRF token is checked all the same, by the form's validation;
    a refused oversized body is neither parsed nor acted on."""
    limit = current_app.config["DEMO_MAX_BYTES"]
    if (request.content_length or 0) > limit + FORM_OVERHEAD:
        return _drained(413, f"The file is larger than {limit / 2**20:.2g} MB.")
    if not demo_limits.upload_allowed(request.remote_addr):
        return _drained(
            429,
            f"Too many pictures from your address (at most "
            f"{current_app.config['DEMO_RATE_LIMIT']}): try again later.",
        )
    form = _form()
    if unavailable() or not form.validate_on_submit():
        return _page(form, 400)
    try:
        picture, shown = _picture(form, limit)
        model = classifier(form.run.data)
        size = model.description.image_size
        with demo_limits.decoding_slot():
            started = time.perf_counter()
            image = decode(
                picture,
                max(REDUCING_GAP * size, PREVIEW_SIDE),
                max_pixels=current_app.config["DEMO_MAX_PIXELS"],
                name=shown["name"] if form.picture.data else "",
            )
            outputs = model(to_input(image, size)[None])
            milliseconds = (time.perf_counter() - started) * 1000
            preview = _preview(image) if form.picture.data else None
    except (ImageInputError, ClassifierFileError) as error:
        return _page(form, 400, error=str(error))
    heads = [
        (head, top_k(outputs[head.name], head, SHOWN)[0])
        for name in ("labels", "classes")
        if (head := model.description.head(name))
    ]
    kept = _keep(picture) if form.keep.data and form.picture.data else None
    response = make_response(
        _page(
            form,
            heads=heads,
            shown=shown,
            preview=preview,
            size=size,
            milliseconds=milliseconds,
            kept=kept,
            run=form.run.data,
        )
    )
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response


def _preview(image: Image.Image) -> str:
    """The picture at most PREVIEW_SIDE pixels on its longer side, as a data: URL."""
    small = image.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    stream = io.BytesIO()
    small.save(stream, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(stream.getvalue()).decode("ascii")


def _picture(form: DemoForm, limit: int) -> tuple[bytes, dict[str, object]]:
    """The chosen picture's bytes, and what the page says of it."""
    if form.picture.data:
        upload = form.picture.data
        with upload.stream:  # over 500 kB werkzeug spools it to a temporary file: delete it now
            content = upload.stream.read(limit + 1)  # never more than the limit in memory
        if len(content) > limit:
            raise ImageInputError(f"The file is larger than {limit / 2**20:.2g} MB.")
        return content, {"name": (upload.filename or "the upload")[:80], "bytes": len(content)}
    source = images.current_source()
    if source is None:
        raise ImageInputError("no image source is configured (CIL_IMAGE_SOURCE): upload one")
    wnid, number = form.wnid.data, form.number.data
    path = source.path(wnid, number)
    if path is None:
        raise ImageInputError(f"the image source has no picture {number} of class {wnid}")
    return path.read_bytes(), {"name": f"{wnid} #{number}", "wnid": wnid, "number": number}


def _keep(content: bytes) -> dict[str, object]:
    """What the page says of keeping the picture: its file's name, or that the folder is full."""
    name = demo_uploads.keep(content)
    if name is None:
        limit = current_app.config["DEMO_KEEP_MAX_BYTES"] / 2**20
        current_app.logger.warning("demo: the kept pictures reached %.0f MB", limit)
        return {"full": f"{limit:.0f} MB"}
    current_app.logger.info("demo: %s kept %s", getattr(current_user, "username", "?"), name)
    return {"name": name}
