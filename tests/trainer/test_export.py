"""trainer.export: both formats read back with the same description and outputs as the run,
predict on the files, and a failed check leaving no file."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from imagenet_files.classifier_file import OnnxClassifier
from trainer.classifier import is_torchscript, load_torchscript, open_classifier
from trainer.export import ExportError, check_images, export, main
from trainer.predict import main as predict

pytestmark = pytest.mark.slow  # every test reads a run trained by a fixture


@pytest.fixture(scope="module")
def exported(multi_head_run, tmp_path_factory):
    """The multi-head run exported in a format, once per format (the ONNX exporter takes seconds):
    file_format -> (the file, its largest difference from PyTorch)."""
    folder = tmp_path_factory.mktemp("exported")
    files = {}

    def export_once(file_format):
        if file_format not in files:
            out = folder / f"model.{file_format}"
            files[file_format] = out, export(multi_head_run, out, file_format)
        return files[file_format]

    return export_once


@pytest.mark.parametrize("file_format", ["torchscript", "onnx"])
def test_an_exported_file_gives_the_runs_probabilities(multi_head_run, exported, file_format):
    out, difference = exported(file_format)
    assert difference <= 1e-4
    assert not out.with_name(out.name + ".partial").exists()
    reference = open_classifier(multi_head_run)
    loaded = OnnxClassifier(out) if file_format == "onnx" else load_torchscript(out)
    assert loaded.description == reference.description
    assert [head.name for head in loaded.description.heads] == ["labels", "classes"]
    # Other images than the check's, and another batch size than the export's example.
    images = np.random.default_rng(7).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    expected, got = reference(images), loaded(images)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-4)
    assert is_torchscript(out) == (file_format == "torchscript")


def test_predict_reads_an_exported_file(class_runs, cil_file, tmp_path, capsys):
    """A class-level run exported with a CIL's merged labels, then classified from the file."""
    out = tmp_path / "merged.onnx"
    assert (
        main([str(class_runs[0]), "--format", "onnx", "--labels", str(cil_file), "--out", str(out)])
        == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out
    exported = open_classifier(out)
    assert [head.name for head in exported.description.heads] == ["classes", "labels"]
    assert exported.description.head("labels").names == ("alpha", "beta", "rest")
    images = check_images(32, 4)
    np.testing.assert_allclose(
        exported(images)["labels"],
        open_classifier(class_runs[0], labels=cil_file)(images)["labels"],
        atol=1e-4,
    )
    picture = tmp_path / "noise.png"
    Image.fromarray(images[0].transpose(1, 2, 0)).save(picture)
    assert predict([str(out), str(picture), "-k", "1"]) == 0
    assert "labels" in capsys.readouterr().out
    assert predict([str(out), str(picture), "--labels", str(cil_file)]) == 2
    assert "fixed at export" in capsys.readouterr().err


def test_the_default_file_lies_in_the_run_folder(multi_head_run, capsys):
    assert main([str(multi_head_run), "--format", "torchscript"]) == 0
    assert (multi_head_run / "model.pt").is_file()
    assert is_torchscript(multi_head_run / "model.pt")
    assert not is_torchscript(multi_head_run / "best.pt")  # a checkpoint is a zip archive too


def test_a_file_that_fails_its_check_is_not_left_behind(multi_head_run, tmp_path):
    out = tmp_path / "model.pt"
    with pytest.raises(ExportError, match="more than the tolerance"):
        export(multi_head_run, out, "torchscript", tolerance=-1)
    assert list(tmp_path.iterdir()) == []


def test_the_demo_page_classifies_with_an_exported_run(exported, tmp_path):
    """The path of the README: a trained run exported to ONNX, served by the survey app."""
    from flask_migrate import upgrade

    from survey_app import create_app

    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    shutil.copyfile(exported("onnx")[0], tmp_path / "runs" / "tiny" / "model.onnx")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite3'}",
            "DEMO_RUNS": str(tmp_path / "runs"),
            "DEMO_PUBLIC": True,
            "WTF_CSRF_ENABLED": False,  # the CSRF check is the page's own test's
        }
    )
    with app.app_context():
        upgrade()
    picture = io.BytesIO()
    Image.new("RGB", (90, 60), (230, 30, 30)).save(picture, "PNG")
    response = app.test_client().post(
        "/demo/",
        data={"run": "tiny", "picture": (io.BytesIO(picture.getvalue()), "red.png")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Labels (CIL)" in page and "ImageNet classes" in page
    assert page.count("<meter") == 3 + 5  # the CIL's 3 labels, the top 5 of the classes
