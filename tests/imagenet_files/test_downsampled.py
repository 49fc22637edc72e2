"""Reading one official Downsampled ImageNet file: its row layout, old pickles, hostile ones."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from imagenet_files.downsampled import read_downsampled_file
from imagenet_files.layout import DataLayoutError


def test_rows_are_read_channel_planar(tmp_path):
    # red plane 10, green 20, blue 30: a wrong reshape (HWC) would mix them
    row = np.concatenate([np.full(1024, value, np.uint8) for value in (10, 20, 30)])
    path = tmp_path / "val_data"
    path.write_bytes(pickle.dumps({"data": row[None], "labels": [7]}))
    images, labels = read_downsampled_file(path)
    assert images.shape == (1, 3, 32, 32)
    assert images[0, :, 5, 9].tolist() == [10, 20, 30]
    assert labels.tolist() == [7]


def test_pickles_written_by_numpy_1_load_without_warnings(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    labels = [1, 449, 1000, 500]
    data = pickle.dumps({"data": images.reshape(4, -1), "labels": labels}, protocol=2)
    assert b"numpy._core.multiarray" in data
    path = tmp_path / "val_data"
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    loaded, _ = read_downsampled_file(path)
    assert np.array_equal(loaded, images)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "val_data"
    path.write_bytes(pickle.dumps({"data": Exploit(), "labels": []}))
    with pytest.raises(DataLayoutError, match=r"builtins\.print has no place"):
        read_downsampled_file(path)


def test_pickle_protocol_5_files_are_read(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    path = tmp_path / "val_data"
    content = {"data": images.reshape(2, -1), "labels": [3, 4], "mean": images.mean(axis=0)}
    path.write_bytes(pickle.dumps(content, protocol=5))
    loaded, labels = read_downsampled_file(path)
    assert np.array_equal(loaded, images) and labels.tolist() == [3, 4]
