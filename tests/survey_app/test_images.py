"""Pictures: local ImageNet folders and Downsampled ImageNet files, thumbnails
and their cache, placeholders, and requests for paths outside the root."""

import io
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from imagenet_files.label_order import read_label_order
from imagenet_files.layout import DataLayoutError
from survey_app.downsampled import read_file

from .conftest import add_user, log_in, make_app, make_image_folder, seeded

TENCH, GOLDFISH, DALMATIAN = "n01440764", "n01443537", "n02110341"
PICTURED = [TENCH, GOLDFISH, DALMATIAN]


def annotator_for(tmp_path, hierarchy, source):
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(source)), hierarchy)
    return app, log_in(app.test_client(), add_user(app, "ann"))


def fetch(client, url):
    with client.get(url) as response:
        return response.status_code, response.headers, response.data


@pytest.mark.parametrize("layout", ["", "train", "val"])
def test_folder_source_serves_cached_thumbnails(tmp_path, small_hierarchy, layout):
    root = tmp_path / "imagenet"
    make_image_folder(root / layout if layout else root, PICTURED, per_class=8, size=(800, 600))
    _, client = annotator_for(tmp_path, small_hierarchy, root)
    page = client.get(f"/annotate/{TENCH}").text
    urls = [f"/images/large/{TENCH}/{n}.jpg" for n in range(6)]  # at most 6 of the 8
    assert all(f'src="{url}"' in page for url in urls) and "/7.jpg" not in page
    status, headers, body = fetch(client, urls[0])
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert "max-age=604800" in headers["Cache-Control"] and "private" in headers["Cache-Control"]
    assert Image.open(io.BytesIO(body)).size == (360, 270)
    cached = list((tmp_path / "thumbnails").rglob("*.jpg"))
    assert len(cached) == 1
    os.utime(cached[0], (0, 0))
    assert fetch(client, urls[0])[2] == body and cached[0].stat().st_mtime == 0  # not remade
    status, _, small = fetch(client, f"/images/small/{GOLDFISH}/0.jpg")
    assert status == 200 and max(Image.open(io.BytesIO(small)).size) == 160


def test_members_show_their_first_picture(tmp_path, small_hierarchy):
    root = make_image_folder(tmp_path / "imagenet", PICTURED)
    _, client = annotator_for(tmp_path, small_hierarchy, root)
    page = client.get(f"/annotate/{DALMATIAN}").text
    assert f'<img src="/images/small/{TENCH}/0.jpg" alt="tench" loading="lazy">' in page
    assert '<span class="placeholder">no picture</span>' in page  # pug has no folder


@pytest.mark.parametrize(
    "path",
    [
        "/images/large/../../etc/passwd",
        "/images/large/..%2F..%2Fetc/0.jpg",
        "/images/large/%2e%2e/0.jpg",
        f"/images/large/{TENCH}/..%2F..%2Fsecret.jpg",
        f"/images/large/{TENCH}/-1.jpg",
        f"/images/large/{TENCH}/99.jpg",
        f"/images/huge/{TENCH}/0.jpg",
        "/images/large/n09999999/0.jpg",  # a folder on disk, but not a class of the survey
        "/images/large/imagenet/0.jpg",
    ],
)
def test_no_path_outside_the_root(tmp_path, small_hierarchy, path):
    root = make_image_folder(tmp_path / "imagenet", [TENCH, "n09999999"])
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    _, client = annotator_for(tmp_path, small_hierarchy, root)
    status, _, body = fetch(client, path)
    assert status == 404 and b"secret" not in body


def test_symlink_out_of_the_root_is_not_followed(tmp_path, small_hierarchy):
    outside = make_image_folder(tmp_path / "outside", [GOLDFISH])
    root = tmp_path / "imagenet"
    (root / GOLDFISH).mkdir(parents=True)
    (root / GOLDFISH / "a.JPEG").symlink_to(next((outside / GOLDFISH).iterdir()))
    _, client = annotator_for(tmp_path, small_hierarchy, root)
    assert fetch(client, f"/images/large/{GOLDFISH}/0.jpg")[0] == 404


def test_pictures_need_a_login(tmp_path, small_hierarchy):
    root = make_image_folder(tmp_path / "imagenet", [TENCH])
    app, _ = annotator_for(tmp_path, small_hierarchy, root)
    assert fetch(app.test_client(), f"/images/large/{TENCH}/0.jpg")[0] == 302


def test_a_broken_picture_is_404(tmp_path, small_hierarchy):
    root = tmp_path / "imagenet"
    (root / TENCH).mkdir(parents=True)
    (root / TENCH / "broken.JPEG").write_bytes(b"not a jpeg")
    _, client = annotator_for(tmp_path, small_hierarchy, root)
    assert fetch(client, f"/images/large/{TENCH}/0.jpg")[0] == 404


# --- Downsampled ImageNet -------------------------------------------------------------
def downsampled_arrays(side: int = 32, per_class: int = 3):
    order = read_label_order()
    labels = [order.index(wnid) + 1 for wnid in PICTURED for _ in range(per_class)]
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(len(labels), 3 * side * side), dtype=np.uint8)
    return data, labels


@pytest.mark.parametrize("kind", ["pickle", "npz"])
def test_downsampled_files_are_enlarged(tmp_path, small_hierarchy, kind):
    folder = tmp_path / "Imagenet32_val"
    folder.mkdir()
    data, labels = downsampled_arrays()
    if kind == "pickle":
        with open(folder / "val_data", "wb") as handle:
            pickle.dump({"data": data, "labels": labels}, handle)
    else:
        np.savez(folder / "val_data.npz", data=data, labels=np.array(labels))
    _, client = annotator_for(tmp_path, small_hierarchy, tmp_path)
    page = client.get(f"/annotate/{GOLDFISH}").text
    assert page.count(f'src="/images/large/{GOLDFISH}/') == 3
    status, _, body = fetch(client, f"/images/large/{GOLDFISH}/2.jpg")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (360, 360)
    assert fetch(client, f"/images/large/{GOLDFISH}/3.jpg")[0] == 404
    extracted = next((tmp_path / "thumbnails").glob("downsampled-*"))
    first = np.asarray(Image.open(extracted / GOLDFISH / "0.png"))
    assert (first == data[3].reshape(3, 32, 32).transpose(1, 2, 0)).all()  # planar -> HWC


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_naming_other_code_is_refused(tmp_path):
    path = tmp_path / "val_data"
    path.write_bytes(pickle.dumps({"data": _Exploit(), "labels": [1]}))
    with pytest.raises(DataLayoutError, match="has no place"):
        read_file(path)
    (tmp_path / "val_data.npz").write_bytes(b"garbage")
    with pytest.raises(DataLayoutError):
        read_file(tmp_path / "val_data.npz")


# --- no source ------------------------------------------------------------------------
def test_no_source_placeholder_and_admin_warning(app, annotator, admin):
    assert "Pictures are off" in annotator.get(f"/annotate/{TENCH}").text
    assert fetch(annotator, f"/images/large/{TENCH}/0.jpg")[0] == 404
    assert "No image source is configured" in admin.get("/admin/").text


def test_missing_source_folder_is_a_warning_not_a_crash(tmp_path, small_hierarchy):
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(tmp_path / "nowhere")), small_hierarchy)
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    assert "is not a folder" in admin.get("/admin/").text
    assert "Pictures are off" in admin.get(f"/annotate/{TENCH}").text


def test_folder_without_class_folders_is_a_warning(tmp_path, small_hierarchy):
    (tmp_path / "photos" / "holiday").mkdir(parents=True)
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(tmp_path / "photos")), small_hierarchy)
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    assert "holds no folder named after a class" in admin.get("/admin/").text


def test_unreadable_downsampled_file_is_a_warning_not_a_crash(tmp_path, small_hierarchy):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "val_data").write_bytes(pickle.dumps({"data": _Exploit(), "labels": []}))
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(tmp_path / "data")), small_hierarchy)
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    assert "No pictures of this class" in admin.get(f"/annotate/{TENCH}").text
    assert "is not a readable Downsampled ImageNet file" in admin.get("/admin/").text
