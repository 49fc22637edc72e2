"""Label spaces: the original classes, a CIL's labels, and CILs that cannot be trained."""

from __future__ import annotations

import pytest
import torch

from clustering.cil import CIL, CILFormatError, ClassEntry, Label, read_cil, write_cil
from tests.trainer.synthetic import ORDER, WNIDS, pair_cil, write_flat_cil
from trainer.labels import (
    DEFAULT_CIL,
    MissingClassesError,
    checkpoint_labels,
    cil_labels,
    label_spaces,
    original_labels,
)

CLASSES = tuple(sorted(ORDER))


def test_cil_maps_every_class_to_its_label(cil_file):
    trained, merged = label_spaces(CLASSES, cil_file, original=False)
    assert merged is None
    assert trained.names == ("alpha", "beta", "rest")  # clustering orders labels by name
    assert trained.num_labels == 3
    mapped = {CLASSES[i]: trained.names[label] for i, label in enumerate(trained.class_to_label)}
    assert [mapped[w] for w in WNIDS] == ["alpha", "alpha", "beta", "beta"]
    assert list(mapped.values()).count("rest") == 996


def test_original_labels_with_a_cil_train_classes_and_score_the_cil(cil_file):
    trained, merged = label_spaces(CLASSES, cil_file, original=True)
    assert trained.num_labels == 1000 and trained.class_to_label == tuple(range(1000))
    assert trained.source == "original" and merged is not None and merged.num_labels == 3


def test_no_cil_means_the_shipped_default_cil():
    trained, merged = label_spaces(CLASSES, None, original=False)
    default = read_cil(DEFAULT_CIL)
    assert merged is None and trained.source == str(DEFAULT_CIL)
    assert trained.num_labels == default.num_labels < 1000
    assert trained.names == tuple(label.name for label in default.labels)


def test_original_labels_are_named_and_scored_by_the_default_cil():
    trained, merged = label_spaces(CLASSES, None, original=True)
    assert trained.num_labels == 1000 and merged is not None and merged.num_labels < 1000
    kit_fox = CLASSES.index("n02119789")
    assert trained.wnids[kit_fox] == "n02119789" and trained.names[kit_fox] == "kit fox"


def test_classes_the_default_cil_lacks_train_only_with_original_labels():
    trained, merged = label_spaces(("n00000001", "n00000002"), None, original=True)
    assert trained.names == ("n00000001", "n00000002") and merged is None
    with pytest.raises(MissingClassesError, match="--original-labels"):
        label_spaces(("n00000001", "n00000002"), None, original=False)


def test_a_cil_missing_classes_is_refused_with_their_wnids(tmp_path):
    path = write_flat_cil(tmp_path / "cil.json", {wnid: "x" for wnid in CLASSES[2:]})
    with pytest.raises(MissingClassesError) as error:
        label_spaces(CLASSES, path, original=False)
    assert f"2 of the data's 1000 classes: {CLASSES[0]}, {CLASSES[1]}" in str(error.value)


def test_labels_without_a_class_in_the_data_get_no_output(tmp_path):
    # "rest" holds 996 classes, none of them in this data: an output that never sees an image
    path = pair_cil(tmp_path / "cil.json")
    trained, _ = label_spaces(tuple(sorted(WNIDS)), path, original=False)
    assert trained.names == ("alpha", "beta") and trained.unused == ("rest",)
    assert sorted(trained.class_to_label) == [0, 0, 1, 1]


def test_rich_cil_is_read_through_clustering(tmp_path):
    classes = sorted(WNIDS)
    labels = [
        Label(0, "n01440000", "fish", (classes[0],)),
        Label(1, None, "others", tuple(classes[1:])),
    ]
    entries = [ClassEntry(i, w, w, 0 if i == 0 else 1) for i, w in enumerate(classes)]
    write_cil(CIL(entries, labels), tmp_path / "rich.json")
    trained, _ = label_spaces(tuple(classes), tmp_path / "rich.json", original=False)
    assert trained.wnids == ("n01440000", None)
    assert trained.class_to_label == (0, 1, 1, 1)


def test_a_cil_with_label_index_gaps_cannot_be_trained():
    cil = CIL([ClassEntry(0, WNIDS[0], "a", 2)], [Label(2, None, "a", (WNIDS[0],))])
    with pytest.raises(CILFormatError, match="without gaps"):
        cil_labels((WNIDS[0],), cil, "gappy.json")


def test_broken_cil_file_reports_clustering_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    with pytest.raises(CILFormatError):
        label_spaces(CLASSES, path, original=False)


def test_merge_matrix_and_lookup(cil_file):
    trained = cil_labels(CLASSES, read_cil(cil_file), "pairs")
    matrix = trained.merge_matrix()
    assert matrix.shape == (1000, 3) and torch.equal(matrix.sum(dim=1), torch.ones(1000))
    assert torch.equal(matrix.argmax(dim=1), trained.lookup())


def test_original_labels_take_class_names_from_a_cil(cil_file):
    space = original_labels(CLASSES, read_cil(cil_file))
    assert space.names == CLASSES  # a flat CIL read without a hierarchy names classes by wnid


def test_class_outputs_are_the_same_whichever_cil_named_them(cil_file):
    by_pairs = original_labels(CLASSES, read_cil(cil_file))  # named by wnid
    by_default = original_labels(CLASSES, read_cil(DEFAULT_CIL))  # named in words
    assert by_pairs.names != by_default.names
    assert by_pairs.same_outputs(by_default.describe())
    assert not by_pairs.same_outputs(original_labels(CLASSES[::-1]).describe())  # other order
    cil = cil_labels(CLASSES, read_cil(cil_file), str(cil_file))
    assert not by_pairs.same_outputs(cil.describe()) and not cil.same_outputs(by_pairs.describe())


def test_a_cil_model_evaluated_with_another_cil_is_refused(cil_file, tmp_path):
    """Its outputs are its own CIL's labels: no other CIL can be read from them."""
    trained, _ = label_spaces(CLASSES, cil_file, original=False)
    other = write_flat_cil(tmp_path / "other.json", {wnid: "all" for wnid in CLASSES})
    with pytest.raises(MissingClassesError, match=r"trained on the labels of .*pairs\.json.*"):
        checkpoint_labels(trained.describe(), CLASSES, other)


def test_a_cil_model_evaluated_with_its_own_cil_or_none_scores_its_labels(cil_file, tmp_path):
    trained, _ = label_spaces(CLASSES, cil_file, original=False)
    copy = tmp_path / "same-labels.json"
    copy.write_bytes(cil_file.read_bytes())
    for labels in (None, cil_file, copy):
        space, merged = checkpoint_labels(trained.describe(), CLASSES, labels)
        assert merged is None and space.names == trained.names
        assert space.class_to_label == trained.class_to_label
