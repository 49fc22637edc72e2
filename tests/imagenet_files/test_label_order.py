"""The devkit label order: the shipped table, a user's map_clsloc.txt, broken tables."""

from __future__ import annotations

import pytest

from imagenet_files.label_order import LabelOrderError, parse_label_order, read_label_order

# The anchor points of shared/data/README.md: (file label, wnid, sorted class index).
ANCHORS = [(1, "n02119789", 278), (449, "n01440764", 0), (1000, "n03255030", None)]


def test_shipped_label_order_has_the_anchor_points():
    order = read_label_order()
    assert len(order) == len(set(order)) == 1000
    for label, wnid, sorted_index in ANCHORS:
        assert order[label - 1] == wnid
        if sorted_index is not None:
            assert sorted(order).index(wnid) == sorted_index


def test_devkit_order_differs_from_sorted_order_everywhere():
    order = read_label_order()
    assert all(a != b for a, b in zip(order, sorted(order), strict=True))


def test_map_clsloc_file_and_devkit_folder_are_read(tmp_path):
    order = read_label_order()
    devkit = tmp_path / "ILSVRC2015" / "devkit" / "data"
    devkit.mkdir(parents=True)
    text = "".join(f"{wnid} {i} name_{i}\n" for i, wnid in enumerate(order, start=1))
    (devkit / "map_clsloc.txt").write_text(text)
    assert read_label_order(devkit / "map_clsloc.txt") == order
    assert read_label_order(tmp_path) == order


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 n01440764\n1 n01443537\n", "label 1 appears twice"),
        ("1 n01440764\n3 n01443537\n", "without gaps"),
        ("1 n01440764\n2 n01440764\n", "a wnid appears under two labels"),
        ("1 tench\n", "expected a wnid and a label number"),
        ("", "holds no labels"),
    ],
)
def test_broken_label_orders_are_refused(text, message):
    with pytest.raises(LabelOrderError, match=message):
        parse_label_order(text)
