"""Class lists with a wrong line are refused, naming the line, before a hierarchy is built."""

from __future__ import annotations

import pytest

from clustering.hierarchy import ClassListError, Hierarchy, read_class_list

DOG, BEAGLE = "n02084071", "n02088364"


def write(tmp_path, text: str):
    path = tmp_path / "classes.txt"
    path.write_text(text)
    return path


def test_duplicates_name_their_lines(tmp_path):
    listing = write(tmp_path, f"{DOG}\n{BEAGLE}\n# a comment\n{DOG}\n")
    with pytest.raises(ClassListError, match=rf"{DOG} is listed on lines 1 and 4"):
        read_class_list(listing)


def test_a_non_noun_id_names_its_line(tmp_path):
    listing = write(tmp_path, f"{DOG}\nv01168486\n")
    with pytest.raises(ClassListError, match=r"line 2: v01168486 is a verb's id"):
        read_class_list(listing)


def test_every_bad_line_is_reported_at_once(tmp_path):
    listing = write(tmp_path, f"dog\n{DOG}\na00001740\n{DOG}\n")
    with pytest.raises(ClassListError) as caught:
        read_class_list(listing)
    message = str(caught.value)
    assert "line 1: expected one wnid" in message
    assert "line 3: a00001740 is an adjective's id" in message
    assert f"{DOG} is listed on lines 2 and 4" in message


def test_unknown_wnid_names_its_line(tmp_path, wordnet):
    listing = write(tmp_path, f"{DOG}\nn99999999\n{BEAGLE}\n")
    with pytest.raises(ClassListError, match=r"classes\.txt, line 2: n99999999 is not"):
        Hierarchy.from_class_list(listing, wordnet)


def test_a_verb_offset_written_as_a_noun_is_named(tmp_path, wordnet):
    # 01168486 is "eat.v.01": its offset read as a noun lands in no noun synset.
    listing = write(tmp_path, f"{DOG}\nn01168486\n")
    with pytest.raises(ClassListError, match=r"line 2: n01168486 .*verb synset eat\.v\.01"):
        Hierarchy.from_class_list(listing, wordnet)


def test_a_good_list_builds_with_a_class_above_another(tmp_path, wordnet):
    hierarchy = Hierarchy.from_class_list(write(tmp_path, f"{BEAGLE}\n{DOG}\n"), wordnet)
    assert [c.wnid for c in hierarchy.classes] == [DOG, BEAGLE]
    assert DOG in hierarchy.chain_wnids(BEAGLE)
