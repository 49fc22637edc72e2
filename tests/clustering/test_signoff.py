"""The published human labels signed off through the pipeline: the default CIL is
people's labels made sound, every choice a recorded decision."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clustering.cil import read_cil
from clustering.cli import main
from clustering.hierarchy import Hierarchy
from clustering.signoff import labels_as_votes, signed_off
from clustering.validate import validate_cil, validate_file

from .wnids import DOG, PUG

DEFAULT_CIL = Path(__file__).resolve().parents[2] / "trainer" / "data" / "default_cil.json"


@pytest.fixture(scope="module")
def signoff(imagenet_hierarchy):
    return signed_off(imagenet_hierarchy)


def test_labels_become_unanimous_votes():
    votes = labels_as_votes({PUG: DOG}, voters=3)
    assert [(v.annotator, v.wnid, v.label) for v in votes] == [
        ("voter-1", PUG, DOG),
        ("voter-2", PUG, DOG),
        ("voter-3", PUG, DOG),
    ]
    with pytest.raises(ValueError, match="at least 1"):
        labels_as_votes({PUG: DOG}, voters=0)


def test_the_signed_off_labels_are_the_published_ones_made_sound(signoff, imagenet_hierarchy):
    result, human = signoff
    assert len(human.labels) == 978 and len(human.off_chain) == 22
    assert validate_cil(result.cil, imagenet_hierarchy).ok
    assert not result.resolution.broken
    assert all(group.settled for group in result.resolution.groups)
    assert not any(re.search(r"n\d{8}", label.name) for label in result.cil.labels)
    final = result.resolution.assignment
    changed = {wnid for wnid, label in human.labels.items() if final[wnid] != label}
    # Only a label decision moves or merges a class, and the class says which.
    assert len(changed) <= 10
    assert all("label decision" in result.reasons[wnid] for wnid in changed)
    reasons = {c.wnid: c.reason for c in result.cil.classes}
    for wnid in human.off_chain:
        assert final[wnid] == wnid and "no synset on its chain" in reasons[wnid]
    provenance = result.cil.provenance
    assert provenance["signoff"]["accepted_proposals"] == len(result.resolution.groups)
    assert len(provenance["label_decisions"]) == len(result.resolution.groups)


def test_the_shipped_default_cil_is_the_signed_off_one(signoff):
    result, _ = signoff
    shipped = read_cil(DEFAULT_CIL)
    labels = shipped.label_by_index()
    assert {c.wnid: labels[c.label_index].wnid for c in shipped.classes} == (
        result.resolution.assignment
    )
    assert shipped.provenance["signoff"]["labels"] == "clustering/data/published_cil_v3.json"


def test_the_signoff_command_writes_a_valid_cil(tmp_path, small_hierarchy_file, capsys):
    labels = tmp_path / "labels.json"
    # The pug and the dalmatian named "dog", the ostrich "bird" above the brambling's
    # "brambling": one conflict, kept; the school bus's "car" is off its chain.
    labels.write_text(
        '{"n02110958": "dog", "n02110341": "dog", "n01518878": "bird", '
        '"n01530575": "brambling", "n04146614": "car"}'
    )
    out = tmp_path / "cil.json"
    run = ["signoff", "--labels", str(labels), "--hierarchy", small_hierarchy_file]
    assert main([*run, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 conflict(s) settled by accepted proposals" in printed
    assert "4 classes with a label on their chain, 1 with a label off it" in printed
    cil = read_cil(out)
    assert cil.provenance["signoff"]["off_chain"] == ["n04146614"]
    assert len(cil.provenance["label_decisions"]) == 1
    assert validate_file(out, Hierarchy.load(small_hierarchy_file)).ok
    with pytest.raises(SystemExit):  # argparse refuses it, naming the option
        main([*run, "--voters", "0", "--out", str(out)])
    assert "--voters" in capsys.readouterr().err
