import json
import subprocess
import sys

import pytest

from clustering.cli import main
from clustering.hierarchy import (
    ClassListError,
    Hierarchy,
    HierarchyFormatError,
    imagenet1k_wnids,
    read_class_list,
)
from tests.conftest import SMALL_CLASSES


def test_imagenet_summary(imagenet_hierarchy):
    assert imagenet_hierarchy.summary() == {
        "classes": 1000,
        "synsets": 1860,
        "multi_path_classes": 304,
    }


def test_class_index_is_sorted_wnid_order(imagenet_hierarchy):
    wnids = [c.wnid for c in imagenet_hierarchy.classes]
    assert wnids == sorted(wnids) == imagenet1k_wnids()
    assert imagenet_hierarchy.class_index["n01440764"] == 0  # tench
    assert imagenet_hierarchy.class_index["n02119789"] == 278  # kit fox


def test_dalmatian_chain_merges_both_paths(imagenet_hierarchy):
    h = imagenet_hierarchy
    dalmatian = h.image_class("n02110341")
    names = [h.synsets[e.wnid].name for e in dalmatian.chain]
    assert dalmatian.n_paths == 2
    assert names[0] == "entity.n.01" and names[-1] == "dalmatian.n.02"
    assert "domestic_animal.n.01" in names and "dog.n.01" in names
    assert len(names) == len(set(names))
    by_name = {h.synsets[e.wnid].name: e.paths for e in dalmatian.chain}
    assert by_name["domestic_animal.n.01"] == (0,)
    assert by_name["mammal.n.01"] == (1,)
    assert by_name["dog.n.01"] == (0, 1)
    # Root to leaf: every synset comes after all of its ancestors on the chain.
    position = {e.wnid: i for i, e in enumerate(dalmatian.chain)}
    for wnid, place in position.items():
        for ancestor in h.ancestors(wnid):
            assert position[ancestor] < place


def test_names_are_not_keys(imagenet_hierarchy):
    h = imagenet_hierarchy
    by_name: dict[str, list[str]] = {}
    for c in h.classes:
        by_name.setdefault(h.label(c.wnid), []).append(c.wnid)
    assert len(by_name["crane"]) == 2
    assert len(by_name["maillot"]) == 2


def test_descendants_and_ancestry(imagenet_hierarchy):
    h = imagenet_hierarchy
    dog = next(w for w, s in h.synsets.items() if s.name == "dog.n.01")
    assert "n02110341" in h.descendants[dog]
    assert len(h.descendants[dog]) >= 110
    assert h.is_ancestor(dog, "n02110341")
    assert not h.is_ancestor("n02110341", dog)
    # No ImageNet-1k class is an ancestor of another.
    class_set = set(h.class_index)
    assert all(not (h.ancestors(c) & class_set) for c in class_set)


def test_json_round_trip(tmp_path, small_hierarchy):
    path = tmp_path / "h.json"
    small_hierarchy.save(path)
    loaded = Hierarchy.load(path)
    assert loaded.to_dict() == small_hierarchy.to_dict()
    assert loaded.version == small_hierarchy.version
    assert loaded.descendants == small_hierarchy.descendants


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    # the message names the file, which a command given several cannot leave out
    with pytest.raises(HierarchyFormatError, match=r"bad\.json: not a hierarchy file"):
        Hierarchy.load(bad)
    bad.write_text("{not json")
    with pytest.raises(HierarchyFormatError, match="not valid JSON"):
        Hierarchy.load(bad)
    bad.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(HierarchyFormatError, match=r"bad\.json is not valid JSON"):
        Hierarchy.load(bad)
    bad.write_text("[1]")
    with pytest.raises(
        HierarchyFormatError, match=r"bad\.json: not a hierarchy file \(a JSON list"
    ):
        Hierarchy.load(bad)


def test_class_list_sources(tmp_path):
    assert len(read_class_list(None)) == 1000
    listing = tmp_path / "classes.txt"
    listing.write_text("# my classes\nn02110341\n\n449 n01440764\n")
    assert read_class_list(listing) == ["n01440764", "n02110341"]
    dataset = tmp_path / "data"
    for wnid in ("n02110341", "n01440764"):
        (dataset / "train" / wnid).mkdir(parents=True)
    (dataset / "train" / "README").mkdir()
    assert read_class_list(dataset) == ["n01440764", "n02110341"]


def test_class_list_errors(tmp_path, wordnet):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "not-a-wnid").mkdir()
    with pytest.raises(ClassListError, match="no subfolders named by wnid"):
        read_class_list(empty)
    listing = tmp_path / "bad.txt"
    listing.write_text("n02110341\ndog\n")
    with pytest.raises(ClassListError, match="line 2"):
        read_class_list(listing)
    listing.write_text("n02110341\nn02110341\n")
    with pytest.raises(ClassListError, match="listed on lines 1 and 2"):
        read_class_list(listing)
    with pytest.raises(ClassListError, match="n99999999"):
        Hierarchy.from_wordnet(["n02110341", "n99999999"], wordnet)


def test_cli_summary_and_out(tmp_path, session_wordnet, small_hierarchy, capsys):
    listing = tmp_path / "classes.txt"
    listing.write_text("\n".join(SMALL_CLASSES) + "\n")
    out = tmp_path / "h.json"
    assert main(["hierarchy", "--classes", str(listing), "--summary", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "classes: 10",
        "synsets: 46",
        "multi_path_classes: 2",
    ]
    assert Hierarchy.load(out).to_dict() == small_hierarchy.to_dict()


def test_cli_reports_bad_class_list(tmp_path, session_wordnet, capsys):
    listing = tmp_path / "bad.txt"
    listing.write_text("n99999999\n")
    assert main(["hierarchy", "--classes", str(listing)]) == 2  # an answer, not a traceback
    assert "n99999999" in capsys.readouterr().err


def test_cli_runs_as_a_module(toy_hierarchy_file):
    result = subprocess.run(
        [sys.executable, "-m", "clustering", "hierarchy", "--hierarchy", toy_hierarchy_file],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == ["classes: 8", "synsets: 14", "multi_path_classes: 0"]
