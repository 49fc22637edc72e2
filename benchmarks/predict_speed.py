"""How fast a trained run classifies pictures on a CPU: `trainer.predict` on 100 photos from a
run folder (PyTorch), a TorchScript file and an ONNX file, and the demo page's server time per
uploaded picture.

    .venv/bin/python benchmarks/predict_speed.py --out benchmarks/results/predict-<date>.txt
    .venv/bin/python benchmarks/predict_speed.py --images 8 --repeats 1 --width 8   # smoke run

The run is made here: a full ResNet-18 (width 64, as the paper's) at 32 px with random weights,
on the default CIL's labels (random weights classify as fast as trained ones). The photos are
JPEGs of `--photo-size` pixels (noise over gradients), written to a temporary folder.

- predict: the `trainer.predict` command as a subprocess, on all photos: the time a user waits,
  Python's and torch's start included; then in one process, the reading of the photos (decode,
  squash with a box filter) and the model's time per format, each the median of `--repeats`.
- demo: the survey app's test client posts each photo to /demo/ (the ONNX file, as served), one
  at a time; the server time per request (parsing the upload, reading the picture, ONNX Runtime,
  the page) and the model's share as the page reports it, medians over the photos.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: the repository root, not benchmarks/, first on sys.path.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import numpy as np
import torch
from PIL import Image

from clustering.cil import read_cil
from imagenet_files.label_order import read_label_order
from trainer.checkpoint import save_checkpoint
from trainer.classifier import open_classifier
from trainer.config import DEFAULT_CIL
from trainer.export import export
from trainer.labels import cil_labels
from trainer.models import build_model
from trainer.predict import predict, read_images

REPOSITORY = Path(__file__).resolve().parent.parent


def make_run(folder: Path, width: int, image_size: int) -> Path:
    """A run folder whose best.pt is a random ResNet-18 on the default CIL's labels."""
    space = cil_labels(tuple(sorted(read_label_order())), read_cil(DEFAULT_CIL), str(DEFAULT_CIL))
    torch.manual_seed(0)
    model = build_model("resnet18", space.num_labels, width)
    folder.mkdir(parents=True)
    state = {
        "epoch": 0,
        "arch": "resnet18",
        "width": width,
        "image_size": image_size,
        "labels": space.describe(),
        "model": model.state_dict(),
        "config": {},
    }
    save_checkpoint(folder / "best.pt", state)
    return folder


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    rng = np.random.default_rng(0)
    width, height = size
    ramp = np.linspace(0, 160, width)[None, :, None]
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 96, (height, width, 3)) + ramp
        paths.append(folder / f"photo_{i:03d}.jpg")
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(paths[-1], quality=90)
    return paths


def median_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_command(args: list[str], repeats: int) -> float:
    def command() -> None:
        subprocess.run(args, cwd=REPOSITORY, check=True, capture_output=True)

    return median_seconds(command, repeats)


def time_demo(run_root: Path, photos: list[Path], database: Path) -> tuple[float, float]:
    """Median server time per upload and median model time the page reports, in ms."""
    from flask_migrate import upgrade

    from survey_app import create_app

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "DEMO_RUNS": str(run_root),
            "DEMO_PUBLIC": True,
            "WTF_CSRF_ENABLED": False,  # the token's round trip is not what is measured
            "DEMO_RATE_LIMIT": "",  # one client sends every photo
        }
    )
    with app.app_context():
        upgrade()
    client = app.test_client()
    client.get("/demo/")  # the first request loads the ONNX session: not counted
    server, model = [], []
    for path in photos:
        data = {"run": "run", "picture": (io.BytesIO(path.read_bytes()), path.name)}
        started = time.perf_counter()
        response = client.post("/demo/", data=data, content_type="multipart/form-data")
        server.append((time.perf_counter() - started) * 1000)
        page = response.get_data(as_text=True)
        if response.status_code != 200:
            raise SystemExit(f"the demo page answered {response.status_code}")
        model.append(float(re.search(r"classified in ([\d.]+) ms", page).group(1)))
    return statistics.median(server[1:]), statistics.median(model[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--images", type=int, default=100, help="photos classified")
    parser.add_argument("--photo-size", type=int, nargs=2, default=(500, 375), metavar=("W", "H"))
    parser.add_argument("--image-size", type=int, default=32, help="the run's input size")
    parser.add_argument("--width", type=int, default=64, help="ResNet-18's first-stage width")
    parser.add_argument("--repeats", type=int, default=3, help="timings per figure (median)")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)

    lines = [
        (
            f"# predict_speed, {datetime.now():%Y-%m-%d %H:%M}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} CPU threads"
        ),
        (
            f"# {args.images} JPEG photos of {args.photo_size[0]} x {args.photo_size[1]} px; "
            f"resnet18 width {args.width} at {args.image_size} px on the default CIL"
        ),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        run = make_run(root / "runs" / "run", args.width, args.image_size)
        photos = make_photos(root, args.images, tuple(args.photo_size))
        files = {"run folder (PyTorch)": run}
        for file_format, name in (("torchscript", "model.pt"), ("onnx", "model.onnx")):
            export(run, run / name, file_format)
            files[f"{file_format} file"] = run / name

        for name, source in files.items():
            command = [sys.executable, "-m", "trainer.predict", str(source), *map(str, photos)]
            seconds = time_command(command, args.repeats)
            lines.append(
                f"predict command, {name}: {seconds:.2f} s for {args.images} images "
                f"({args.images / seconds:.1f} images/s, start included)"
            )
        size = args.image_size
        reading = median_seconds(lambda: read_images(photos, size), args.repeats)
        lines.append(
            f"reading the photos (decode, box filter): {reading * 1000 / args.images:.2f} "
            f"ms per image ({args.images / reading:.0f} images/s)"
        )
        images = read_images(photos, size)
        for name, source in files.items():
            classifier = open_classifier(source)
            predict(classifier, images[:8])  # warm-up: first-call allocations
            seconds = median_seconds(lambda c=classifier: predict(c, images), args.repeats)
            lines.append(
                f"model only, {name}: {seconds * 1000 / args.images:.2f} ms per image "
                f"({args.images / seconds:.0f} images/s, batches of 64)"
            )
        server, model = time_demo(root / "runs", photos, root / "demo.sqlite3")
        lines.append(
            f"demo page, ONNX: {server:.1f} ms server time per upload (median), of which "
            f"{model:.1f} ms reading the picture and running the model"
        )
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
