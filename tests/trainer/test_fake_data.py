"""trainer.fake_data writes an ImageFolder the trainer reads, and refuses a used folder."""

from __future__ import annotations

import pytest

from imagenet_files.layout import FolderLayout, detect_layout
from trainer.fake_data import CLASSES, main


def test_it_writes_a_folder_of_the_four_classes(tmp_path, capsys):
    assert main([str(tmp_path / "fake"), "--train", "2", "--val", "1", "--size", "8"]) == 0
    assert isinstance(detect_layout(tmp_path / "fake"), FolderLayout)
    assert sorted(p.name for p in (tmp_path / "fake" / "train").iterdir()) == sorted(CLASSES)
    assert len(list((tmp_path / "fake" / "val").rglob("*.png"))) == len(CLASSES)
    with pytest.raises(SystemExit):
        main([str(tmp_path / "fake")])
    assert "is not empty" in capsys.readouterr().err
