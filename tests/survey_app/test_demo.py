"""The demo page on a hand-made ONNX classifier: access, a classified upload and a picture of
the image source, every refusal, nothing kept unless asked, and the page without ONNX Runtime
or torch."""

from __future__ import annotations

import base64
import io
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from survey_app.errors import SurveyError

from .conftest import add_user, csrf_token, log_in, make_app, make_image_folder, seeded
from .handmade_classifier import write_handmade_classifier

pytest.importorskip("onnxruntime", reason="the demo extra: pip install -e '.[demo]'")
pytest.importorskip("onnx", reason="the export extra makes the hand-made classifier")

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_runs(tmp_path: Path) -> Path:
    write_handmade_classifier(tmp_path / "runs" / "colours" / "model.onnx")
    (tmp_path / "runs" / "not-exported").mkdir()  # a run folder without model.onnx: not listed
    return tmp_path / "runs"


@pytest.fixture
def demo_app(tmp_path, small_hierarchy, demo_runs):
    images = make_image_folder(tmp_path / "imagenet", ["n01440764"], per_class=2)
    return seeded(
        make_app(
            tmp_path,
            DEMO_RUNS=str(demo_runs),
            DEMO_MAX_BYTES=3_000_000,  # above the app's 1 MB for other forms
            DEMO_MAX_PIXELS=1_000_000,
            DEMO_KEEP_DIR=str(tmp_path / "kept"),
            IMAGE_SOURCE=str(images),
        ),
        small_hierarchy,
    )


@pytest.fixture
def boss(demo_app):
    return log_in(demo_app.test_client(), add_user(demo_app, "boss", role="admin"))


def picture(colour=(230, 30, 30), size=(300, 200), fmt="PNG") -> bytes:
    stream = io.BytesIO()
    Image.new("RGB", size, colour).save(stream, fmt)
    return stream.getvalue()


def upload(client, content: bytes, name: str = "photo.png", **fields):
    data = {
        "csrf_token": csrf_token(client, "/demo/"),
        "run": "colours",
        "picture": FileStorage(io.BytesIO(content), filename=name),
        **fields,
    }
    # Encoded here, in memory: the test client would spool a large body to a temporary file
    # that it leaves open.
    boundary, body = encode_multipart(MultiDict(data))
    return client.post(
        "/demo/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def first_rows(page: str) -> list[str]:
    """The first label of each head, in the page's order."""
    tables = page.split('<table class="demo-head">')[1:]
    return [re.search(r"<td>([^<]+)", table).group(1).strip() for table in tables]


def test_the_page_is_for_admins_unless_made_public(demo_app, tmp_path, small_hierarchy):
    assert demo_app.test_client().get("/demo/").status_code == 302  # to the login page
    annotator = log_in(demo_app.test_client(), add_user(demo_app, "ann"))
    assert annotator.get("/demo/").status_code == 403
    (tmp_path / "public").mkdir()
    public = seeded(make_app(tmp_path / "public", DEMO_PUBLIC=True), small_hierarchy)
    page = public.test_client().get("/demo/")
    assert page.status_code == 200
    assert "The demo is unavailable." in page.get_data(as_text=True)  # no DEMO_RUNS there


def test_an_upload_gets_the_labels_and_the_classes_with_bars(boss, tmp_path):
    response = upload(boss, picture((30, 30, 230), fmt="WEBP"), "sea.webp")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert first_rows(page) == ["blue things", "tiger shark"]
    assert "Labels (CIL)" in page and "ImageNet classes" in page
    assert page.count("<meter") == 3 + 4  # top-5 of 3 labels and of 4 classes
    assert re.search(r"classified in \d+\.\d ms on the server; not kept", page)
    assert '<option selected value="colours">' in page and "not-exported" not in page
    assert not (tmp_path / "kept").exists()


def test_an_upload_may_be_larger_than_other_forms(boss):
    """A 2 MB picture passes, though the app refuses bodies over 1 MB elsewhere."""
    noise = np.random.default_rng(0).integers(0, 256, (900, 800, 3), dtype=np.uint8)
    stream = io.BytesIO()
    Image.fromarray(noise).save(stream, "PNG")
    assert stream.tell() > 2_000_000
    response = upload(boss, stream.getvalue())
    assert response.status_code == 200
    assert "classified in" in response.get_data(as_text=True)


def test_an_upload_is_kept_only_when_asked(boss, tmp_path):
    page = upload(boss, picture(), keep="y").get_data(as_text=True)
    assert first_rows(page)[0] == "red things"
    kept = list((tmp_path / "kept").iterdir())
    assert len(kept) == 1 and kept[0].read_bytes() == picture()
    assert f"kept as {kept[0].name}" in page


def test_a_picture_of_the_image_source(boss):
    data = {
        "csrf_token": csrf_token(boss, "/demo/"),
        "run": "colours",
        "wnid": "n01440764",
        "number": "1",
    }
    page = boss.post("/demo/", data=data).get_data(as_text=True)
    assert "n01440764 #1" in page
    assert 'src="/images/large/n01440764/1.jpg"' in page
    missing = {**data, "number": "9"}
    response = boss.post("/demo/", data=missing)
    assert response.status_code == 400
    assert "no picture 9 of class n01440764" in response.get_data(as_text=True)


def test_a_picture_without_an_image_source_is_explained(tmp_path, small_hierarchy, demo_runs):
    app = seeded(make_app(tmp_path, DEMO_RUNS=str(demo_runs)), small_hierarchy)
    boss = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    data = {"csrf_token": csrf_token(boss, "/demo/"), "run": "colours", "wnid": "n01440764"}
    response = boss.post("/demo/", data=data)
    assert response.status_code == 400
    assert "no image source is configured (CIL_IMAGE_SOURCE)" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("content", "name", "status", "message"),
    [
        (
            b"not a picture",
            "notes.png",
            400,
            "notes.png cannot be read as an image: it is not a JPEG, PNG or WebP picture",
        ),
        (picture()[:300], "cut.png", 400, "cut.png cannot be read as an image: its data is"),
        (picture(fmt="GIF"), "anim.png", 400, "anim.png is GIF; accepted: JPEG, PNG, WEBP"),
        (picture(fmt="GIF"), "anim.gif", 400, "A JPEG, PNG or WebP picture, please."),
        (
            picture(size=(1200, 1000)),
            "wide.png",
            400,
            "wide.png has 1200 x 1000 pixels, more than the limit of 1,000,000",
        ),
        (bytes(3_200_000), "huge.png", 413, "The file is larger than 2.9 MB."),
    ],
)
def test_refusals(boss, tmp_path, content, name, status, message):
    response = upload(boss, content, name, keep="y")
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert message in page
    assert "BytesIO" not in page and " at 0x" not in page  # no Python object's repr
    assert not (tmp_path / "kept").exists()


def test_a_post_without_its_csrf_token_is_refused(boss):
    data = {"run": "colours", "picture": (io.BytesIO(picture()), "photo.png")}
    assert boss.post("/demo/", data=data, content_type="multipart/form-data").status_code == 400


def test_the_page_without_a_model_says_how_to_export_one(tmp_path, small_hierarchy):
    (tmp_path / "empty").mkdir()
    app = seeded(make_app(tmp_path, DEMO_RUNS=str(tmp_path / "empty")), small_hierarchy)
    boss = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    page = boss.get("/demo/").get_data(as_text=True)
    assert "python -m trainer.export RUN_DIR --format onnx" in page


BLOCKED = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "onnxruntime", "onnx"}:
            raise ImportError(f"{name} is not installed (blocked by the test)")
sys.meta_path.insert(0, Blocker())
"""

WITHOUT_TORCH = (
    BLOCKED
    + """
import pkgutil, survey_app
for module in pkgutil.iter_modules(survey_app.__path__):
    __import__(f"survey_app.{module.name}")
from flask_migrate import upgrade
from survey_app import create_app
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1],
                  "DEMO_PUBLIC": True, "DEMO_RUNS": sys.argv[2]})
with app.app_context():
    upgrade()
page = app.test_client().get("/demo/")
assert page.status_code == 200, page.status_code
print(page.get_data(as_text=True))
assert not {"torch", "onnxruntime"} & set(sys.modules)
"""
)


def test_the_app_runs_without_onnxruntime_and_torch(tmp_path, demo_runs):
    """Every module of the app imports, the app starts, and the page says what is missing."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(tmp_path / "db.sqlite3"), str(demo_runs)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "The demo is unavailable." in result.stdout
    assert "ONNX Runtime is not installed on the server: pip install -e &#39;.[demo]&#39;" in (
        result.stdout
    )


# --- the page's place, its preview, kept files and the demo under load -----------------------
def test_the_page_is_in_the_admins_nav_and_everyones_when_public(demo_app, boss, small_hierarchy):
    link = '<a href="/demo/">Demo</a>'
    annotator = log_in(demo_app.test_client(), add_user(demo_app, "ann"))
    assert link in boss.get("/").get_data(as_text=True)
    assert link not in annotator.get("/").get_data(as_text=True)
    assert link not in demo_app.test_client().get("/classes").get_data(as_text=True)
    demo_app.config["DEMO_PUBLIC"] = True
    assert link in annotator.get("/").get_data(as_text=True)
    assert link in demo_app.test_client().get("/classes").get_data(as_text=True)


def test_the_uploaded_picture_is_shown_beside_the_result(boss):
    response = upload(boss, picture((30, 200, 40), size=(1200, 600), fmt="JPEG"), "field.jpg")
    page = response.get_data(as_text=True)
    source = re.search(r'<img class="demo-picture" src="data:image/jpeg;base64,([^"]+)"', page)
    assert source, page
    with Image.open(io.BytesIO(base64.b64decode(source.group(1)))) as shown:
        assert shown.size == (256, 128)
        red, green, blue = shown.convert("RGB").getpixel((128, 64))
        assert green > 150 and red < 80 and blue < 80
    # This answer alone lets a data: picture in; the others keep the app's policy.
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]
    assert "data:" not in boss.get("/demo/").headers["Content-Security-Policy"]


def test_a_large_jpeg_is_decoded_at_the_size_the_page_needs(boss):
    """24 megapixels against a limit of 1,000,000: read at 1/8, 750 x 500, it passes."""
    response = upload(boss, picture((230, 30, 30), size=(6000, 4000), fmt="JPEG"), "big.jpg")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert first_rows(response.get_data(as_text=True))[0] == "red things"


def test_kept_pictures_are_private_and_within_their_limit(tmp_path, small_hierarchy, demo_runs):
    first, second = picture((230, 30, 30)), picture((30, 30, 230), size=(400, 300))
    app = seeded(
        make_app(
            tmp_path,
            DEMO_RUNS=str(demo_runs),
            DEMO_KEEP_DIR=str(tmp_path / "kept"),
            DEMO_KEEP_MAX_BYTES=len(first) + len(second) - 1,
        ),
        small_hierarchy,
    )
    boss = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    assert "kept as" in upload(boss, first, keep="y").get_data(as_text=True)
    assert "kept as" in upload(boss, first, keep="y").get_data(as_text=True)  # the same file
    refused = upload(boss, second, keep="y")
    assert refused.status_code == 200 and first_rows(refused.get_data(as_text=True))[0] == (
        "blue things"
    )
    assert "not kept: the kept pictures have reached their limit" in refused.get_data(as_text=True)
    (kept,) = (tmp_path / "kept").iterdir()
    assert kept.read_bytes() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o700


def test_uploads_per_client_are_limited(tmp_path, small_hierarchy, demo_runs):
    app = seeded(
        make_app(tmp_path, DEMO_RUNS=str(demo_runs), DEMO_RATE_LIMIT="2 per minute"),
        small_hierarchy,
    )
    boss = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    assert [upload(boss, picture()).status_code for _ in range(2)] == [200, 200]
    refused = upload(boss, picture())
    assert refused.status_code == 429
    assert "Too many pictures from your address (at most 2 per minute)" in refused.get_data(
        as_text=True
    )
    # Another address is counted apart.
    other = boss.post(
        "/demo/",
        data={"csrf_token": csrf_token(boss, "/demo/"), "run": "colours", "wnid": "n01440764"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 400 and "no image source" in other.get_data(as_text=True)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"DEMO_RATE_LIMIT": "often"}, "CIL_DEMO_RATE_LIMIT 'often' is not a rate"),
        ({"DEMO_DECODE_CONCURRENCY": 0}, "CIL_DEMO_DECODE_CONCURRENCY must be a whole number"),
        ({"DEMO_KEEP_MAX_BYTES": "lots"}, "CIL_DEMO_KEEP_MAX_BYTES must be a whole number"),
    ],
)
def test_a_limit_that_cannot_be_used_stops_the_app_at_start(tmp_path, setting, message):
    with pytest.raises(SurveyError, match=message):
        make_app(tmp_path, **setting)


def test_pictures_are_decoded_a_few_at_a_time(demo_app, monkeypatch):
    """Six uploads at once, DEMO_DECODE_CONCURRENCY 2: never more than two decodes run."""
    from survey_app import demo

    running, most, lock = [0], [0], threading.Lock()
    decode = demo.decode

    def counting_decode(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # long enough for the other requests to arrive
        with lock:
            running[0] -= 1
        return decode(*args, **kwargs)

    monkeypatch.setattr(demo, "decode", counting_decode)
    clients = [
        log_in(demo_app.test_client(), add_user(demo_app, f"admin{i}", role="admin"))
        for i in range(6)
    ]
    body = [None] * 6

    def post(i: int) -> None:
        body[i] = upload(clients[i], picture()).status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert body == [200] * 6
    assert most[0] == demo_app.config["DEMO_DECODE_CONCURRENCY"] == 2
