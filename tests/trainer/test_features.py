"""`python -m trainer.features RUN_DIR`: a trained run's validation read-out as NumPy files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.trainer.synthetic import ORDER, WNIDS
from trainer.features import main

pytestmark = pytest.mark.slow
CLASSES = tuple(sorted(ORDER))


def test_a_class_model_writes_features_confusions_weights_and_softmax(class_runs, capsys):
    run = class_runs[0]
    assert main([str(run), "--device", "cpu", "-b", "16"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert tuple((run / "classes.txt").read_text().split()) == CLASSES
    rows = [CLASSES.index(w) for w in WNIDS]  # the four synthetic classes, 8 images each
    features = np.load(run / "features.npz")
    assert features["count"][rows].tolist() == [8, 8, 8, 8] and features["count"].sum() == 32
    assert features["mean"].shape == (1000, 64)  # a width-8 ResNet-18 ends with 64 channels
    assert not features["mean"][np.setdiff1d(np.arange(1000), rows)].any()
    confusion = np.load(run / "confusion.npy")
    assert confusion.shape == (1000, 1000) and confusion.dtype == np.int64
    assert confusion.sum(axis=1)[rows].tolist() == [8, 8, 8, 8]
    probabilities = np.load(run / "val_probabilities.npy")
    targets = np.load(run / "val_targets.npy")
    assert probabilities.shape == (32, 1000)
    assert np.allclose(probabilities.astype(np.float32).sum(axis=1), 1, atol=1e-2)
    # The confusion matrix is the softmax's argmax tallied against the targets, up to images
    # whose two best classes the float16 copy rounds to one value.
    tallied = np.zeros_like(confusion)
    np.add.at(tallied, (targets, probabilities.argmax(axis=1)), 1)
    ties = ((probabilities == probabilities.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum()
    assert np.abs(tallied - confusion).sum() <= 2 * ties
    checkpoint = torch.load(run / "best.pt", weights_only=True)
    assert np.array_equal(
        np.load(run / "head_weights.npy"), checkpoint["model"]["fc.weight"].numpy()
    )


def test_a_folder_that_is_no_run_is_refused(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "has no args.json" in capsys.readouterr().err


def test_the_clustering_package_reads_the_files(class_runs, imagenet_hierarchy):
    """The file names and layouts are a contract between two packages that share no code."""
    from clustering.compare import compare, read_label_set
    from clustering.confusion import read_class_matrix
    from trainer.config import DEFAULT_CIL

    run = class_runs[1]
    assert main([str(run), "--device", "cpu", "-b", "16"]) == 0
    assert read_class_matrix(run, imagenet_hierarchy).sum() == 32
    assert read_class_matrix(run, imagenet_hierarchy, weights=True).shape == (1000, 64)
    (row,), _ = compare(
        [read_label_set("default", DEFAULT_CIL, imagenet_hierarchy)], imagenet_hierarchy, run=run
    )
    assert 0 <= row.mapped_top1 <= 100 and 0 <= row.summed_top1 <= 100
