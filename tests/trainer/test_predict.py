"""trainer.predict on pictures the tests make, through tiny trained runs: what it answers, that
it prepares a picture as the trainer does, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.trainer.synthetic import WNIDS, class_images
from trainer.batches import normalize, statistics
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.classifier import load_classifier, open_classifier
from trainer.models import build_model
from trainer.predict import main, read_images

pytestmark = pytest.mark.slow  # every test reads a run trained by a fixture

COLOURS = {"red": (230, 30, 30), "green": (30, 230, 30), "blue": (30, 30, 230)}


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    """Solid colours of other sizes and formats than the training images, and a gradient."""
    paths = {}
    for (name, colour), (fmt, size) in zip(
        COLOURS.items(), (("png", (120, 80)), ("jpeg", (50, 90)), ("webp", (64, 64))), strict=True
    ):
        paths[name] = tmp_path / f"{name}.{fmt}"
        Image.new("RGB", size, colour).save(paths[name])
    ramp = np.linspace(0, 255, 200, dtype=np.uint8)
    gradient = np.stack([np.tile(ramp, (100, 1))] * 3, axis=-1)
    paths["gradient"] = tmp_path / "gradient.png"
    Image.fromarray(gradient).save(paths["gradient"])
    return paths


def run_json(capsys: pytest.CaptureFixture[str], *args: object) -> dict[str, object]:
    assert main([str(arg) for arg in args] + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_cil_run_names_the_colour_casts_with_its_merged_labels(cil_run_64, pictures, capsys):
    """The 64 px run learnt red and green as "alpha", blue as "beta": a picture of another size
    and format, squashed and box-filtered to 64 px, gets the same answer."""
    out = run_json(capsys, cil_run_64, *pictures.values(), "-k", "3")
    assert out["model"]["checkpoint"] == str(cil_run_64 / "best.pt")
    answers = {Path(p["image"]).stem: p for p in out["predictions"]}
    assert set(answers) == set(pictures)
    for name, expected in (("red", "alpha"), ("green", "alpha"), ("blue", "beta")):
        assert answers[name]["labels"][0]["name"] == expected
    for answer in answers.values():
        assert "classes" not in answer
        probabilities = [p["probability"] for p in answer["labels"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)  # 3 of the 3 labels


def test_a_picture_is_prepared_as_the_trainer_prepares_its_batches(class_runs, tmp_path):
    """A 32 px picture through predict gives the probabilities of the trainer's own path:
    normalize() then the network."""
    image = class_images(0, 1, np.random.default_rng(5))[0]
    path = tmp_path / "val.png"
    Image.fromarray(image.transpose(1, 2, 0)).save(path)
    classifier = open_classifier(class_runs[0])
    got = classifier(read_images([path], 32))["classes"]

    checkpoint = load_checkpoint(class_runs[0] / "best.pt")
    network = build_model("resnet18", checkpoint["model"]["fc.weight"].shape[0], 8).eval()
    network.load_state_dict(checkpoint["model"])
    scale, shift = statistics(torch.device("cpu"))
    batch = normalize(torch.from_numpy(image)[None], scale, shift, channels_last=False)
    with torch.inference_mode():
        expected = network(batch).softmax(dim=1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_class_run_with_labels_sums_the_class_probabilities(class_runs, cil_file, pictures):
    classifier = open_classifier(class_runs[0], labels=cil_file)
    images = np.stack([np.asarray(Image.open(pictures["red"]).resize((32, 32)))] * 2)
    outputs = classifier(images.transpose(0, 3, 1, 2).copy())
    names = classifier.description.head("labels").names
    classes = list(classifier.description.head("classes").wnids)
    alpha = outputs["classes"][:, [classes.index(WNIDS[0]), classes.index(WNIDS[1])]].sum(1)
    np.testing.assert_allclose(outputs["labels"][:, names.index("alpha")], alpha, rtol=1e-5)
    np.testing.assert_allclose(outputs["labels"].sum(1), 1, rtol=1e-5)


def test_a_multi_head_run_shows_labels_and_classes_side_by_side(multi_head_run, pictures, capsys):
    assert main([str(multi_head_run), str(pictures["red"]), "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(pictures["red"])
    assert lines[1].split() == ["#", "labels", "classes"]
    assert len(lines) == 4  # the image, the header, two ranks
    assert lines[2].split()[1] in {"alpha", "beta", "rest"}
    assert lines[2].split()[3].startswith("n")  # a class shown by its wnid


def error_of(capsys: pytest.CaptureFixture[str], *args: object) -> str:
    assert main([str(arg) for arg in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_clear_errors(class_runs, cil_run_64, cil_file, pictures, tmp_path, capsys):
    run = class_runs[0]
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    assert "notes.png cannot be read as an image" in error_of(capsys, run, text)
    assert "missing.png: no such file" in error_of(capsys, run, tmp_path / "missing.png")
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (8, 8)).save(gif)
    assert "is GIF; accepted: JPEG, PNG, WEBP" in error_of(capsys, run, gif)
    assert "holds no best.pt" in error_of(capsys, tmp_path, pictures["red"])
    assert "--labels merges only" in error_of(
        capsys, cil_run_64, pictures["red"], "--labels", cil_file
    )


def test_a_decompression_bomb_is_refused_before_it_is_decoded(class_runs, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (8000, 6000)).save(bomb)  # 48 megapixels in a few kilobytes
    assert bomb.stat().st_size < 100_000
    assert "8000 x 6000 pixels, more than the limit of 40,000,000" in error_of(
        capsys, class_runs[0], bomb
    )
    assert "more than the limit of 100" in error_of(
        capsys, class_runs[0], tmp_path / "bomb.png", "--max-pixels", "100"
    )


def test_a_checkpoint_without_its_image_size_asks_for_it(class_runs, pictures, tmp_path, capsys):
    old = load_checkpoint(class_runs[0] / "best.pt")
    del old["image_size"]
    save_checkpoint(tmp_path / "old.pt", old)
    assert "pass --image-size" in error_of(capsys, tmp_path / "old.pt", pictures["red"])
    _, description = load_classifier(tmp_path / "old.pt", image_size=32)
    assert description.image_size == 32
