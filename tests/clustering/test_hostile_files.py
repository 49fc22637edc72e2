"""Hostile CIL files: each one was accepted by the validator, or ended it in a
traceback, before names were compared normalised, read back through the flat
reader, and the reader refused duplicates and files it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clustering.cil import CILFormatError, build_cil, read_cil, unique_names, write_cil
from clustering.cli import main
from clustering.hierarchy import Hierarchy
from clustering.validate import validate_file

from .test_validate import renamed
from .wnids import CRANE_BIRD, CRANE_MACHINE, DALMATIAN, DOG, OSTRICH, PUG, TENCH

PRINTER, PRINTING_MACHINE = "n04004767", "n04004475"  # the computer printer, below the machine
GROCERY_STORE, MARKETPLACE = "n03461385", "n03722288"  # "market" is a lemma of both
CAR_WHEEL, PADDLEWHEEL = "n02974003", "n03874293"  # under simple machine, first lemma "machine"
CASH_MACHINE, CHAIN_SAW = "n02977058", "n03000684"  # under machine.n.01
SIMPLE_MACHINE, MACHINE = "n03700963", "n03699975"
DEFAULT_CIL = Path(__file__).resolve().parents[2] / "trainer" / "data" / "default_cil.json"


def own_labels(hierarchy: Hierarchy) -> dict[str, str]:
    """The flat CIL of every class as its own label, names made unique."""
    return build_cil(hierarchy, {c.wnid: c.wnid for c in hierarchy.classes}).to_flat()


def write_text(tmp_path, text: str) -> str:
    path = tmp_path / "cil.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def write(tmp_path, data) -> str:
    return write_text(tmp_path, json.dumps(data, ensure_ascii=False))


# --- 1. names compared normalised: case, Unicode spaces, NFC ------------------------------
@pytest.mark.parametrize(
    ("bird_name", "machine_name"),
    [
        ("Crane", "crane"),
        ("crane ", "crane"),
        ("crane\u00a0", "crane"),  # a non-breaking space
        ("CRANE", "crane\u2003"),  # an em space
    ],
)
def test_two_cranes_named_alike_fail(small_hierarchy, tmp_path, bird_name, machine_name):
    flat = own_labels(small_hierarchy)
    flat.update({CRANE_BIRD: bird_name, CRANE_MACHINE: machine_name})
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    messages = [f.message for f in report.failed("names")]
    assert len(messages) == 1, report.format()
    assert "stand for 2 labels" in messages[0]
    assert f"({CRANE_BIRD})" in messages[0] and f"({CRANE_MACHINE})" in messages[0]


def test_names_in_two_unicode_forms_are_one_name(tmp_path):
    # "café" precomposed (NFC) and as "e" and a combining accent (NFD): one name.
    flat = {DALMATIAN: "caf\u00e9", PUG: "cafe\u0301"}
    report = validate_file(write(tmp_path, flat))
    assert [f.check for f in report.failures] == ["names"], report.format()


@pytest.fixture(scope="module")
def machine_hierarchy(wordnet):
    return Hierarchy.from_wordnet([CAR_WHEEL, PADDLEWHEEL, CASH_MACHINE, CHAIN_SAW], wordnet)


@pytest.mark.parametrize(
    ("plain", "other"),
    [("Machine", "other machine"), ("machine", "other  machine"), ("machine", "Other machine")],
)
def test_x_and_other_x_written_differently_still_pair(machine_hierarchy, tmp_path, plain, other):
    flat = {CAR_WHEEL: plain, PADDLEWHEEL: plain, CASH_MACHINE: other, CHAIN_SAW: "chain saw"}
    report = validate_file(write(tmp_path, flat), machine_hierarchy)
    assert [f.message for f in report.failures] == [
        f"{plain!r} ({SIMPLE_MACHINE}) and {other!r} ({MACHINE}) are different synsets"
    ]


def test_a_flat_file_cannot_write_two_names_read_as_one(small_hierarchy, tmp_path):
    cil = read_cil(
        write(
            tmp_path, {**own_labels(small_hierarchy), CRANE_BIRD: "Crane", CRANE_MACHINE: "crane"}
        ),
        small_hierarchy,
    )
    with pytest.raises(ValueError, match="'Crane'.*'crane'|'crane'.*'Crane'"):
        cil.to_flat()


def test_names_made_unique_are_unique_normalised(small_hierarchy):
    # Names a caller gives (a decision's lemma, a curated tree's node) in two cases.
    names = unique_names(small_hierarchy, {CRANE_BIRD: "Crane", CRANE_MACHINE: "crane"})
    assert names == {CRANE_BIRD: "Crane (wading bird)", CRANE_MACHINE: "crane (lifting device)"}


# --- 2. every name reads back to its own synset, as the flat reader reads it ---------------
@pytest.fixture(scope="module")
def store_hierarchy(wordnet):
    return Hierarchy.from_wordnet([PRINTER, GROCERY_STORE], wordnet)


@pytest.fixture
def stores(store_hierarchy):
    return build_cil(store_hierarchy, {PRINTER: PRINTER, GROCERY_STORE: GROCERY_STORE})


@pytest.mark.parametrize(
    ("wnid", "name", "reads_as", "synset"),
    [
        (PRINTER, "printer (printing machine)", PRINTING_MACHINE, "printer, printing machine"),
        (GROCERY_STORE, "market (mart)", MARKETPLACE, "marketplace, market place, mart, market"),
    ],
)
def test_a_name_read_as_another_synset_fails(
    store_hierarchy, stores, tmp_path, wnid, name, reads_as, synset
):
    path = write(tmp_path, renamed(stores, wnid, name))
    report = validate_file(path, store_hierarchy)
    messages = [f.message for f in report.failures]
    assert len(messages) == 1 and report.failures[0].check == "lemmas", report.format()
    assert messages[0].startswith(
        f"label {name!r} ({wnid}) reads as {reads_as} ({synset}) on the chain of {wnid}"
    )
    # ... and it does: the flat file of that rich file reads the other synset.
    flat = read_cil(path).to_flat()
    back = read_cil(write(tmp_path, flat), store_hierarchy)
    assert {label.name: label.wnid for label in back.labels}[name] == reads_as


def test_a_name_the_flat_reader_refuses_fails(store_hierarchy, stores, tmp_path):
    report = validate_file(write(tmp_path, renamed(stores, PRINTER, "printer")), store_hierarchy)
    assert [f.message for f in report.failures] == [
        (
            f"label 'printer' ({PRINTER}) can mean {PRINTING_MACHINE} (printer, printing machine) "
            f"or {PRINTER} (printer) on the chain of {PRINTER} (printer), as the flat format "
            "reads it: call it 'printer (peripheral)'"
        )
    ]


def test_the_default_cil_reads_back(imagenet_hierarchy):
    report = validate_file(DEFAULT_CIL, imagenet_hierarchy)
    assert report.ok, report.format()


# --- 3. a class listed twice among its label's members --------------------------------------
def test_a_member_listed_many_times_is_refused(small_hierarchy, tmp_path):
    cil = build_cil(
        small_hierarchy,
        {c.wnid: DOG if c.wnid in (DALMATIAN, PUG) else c.wnid for c in small_hierarchy.classes},
    )
    data = cil.to_dict()
    dog = next(label for label in data["labels"] if label["wnid"] == DOG)
    dog["members"] += [DALMATIAN] * 50
    report = validate_file(write(tmp_path, data), small_hierarchy)
    assert [f.message for f in report.failures] == [
        f"label {dog['index']} ('dog') lists {DALMATIAN} 51 times"
    ]


# --- 4. duplicate JSON keys -----------------------------------------------------------------
def test_a_flat_file_with_a_wnid_twice_is_refused(small_hierarchy, tmp_path):
    text = json.dumps(own_labels(small_hierarchy))
    text = text.replace("{", f'{{"{TENCH}": "crane", ', 1)  # tench first as "crane", then as itself
    with pytest.raises(CILFormatError) as caught:
        read_cil(write_text(tmp_path, text), small_hierarchy)
    assert caught.value.problems == [
        f"the key {TENCH!r} appears 2 times in one object; JSON keeps only the last, so write it once"
    ]
    report = validate_file(write_text(tmp_path, text), small_hierarchy)
    assert [f.check for f in report.failures] == ["format"]


def test_a_rich_file_with_a_key_twice_is_refused(small_hierarchy, tmp_path):
    text = json.dumps(
        build_cil(small_hierarchy, {c.wnid: c.wnid for c in small_hierarchy.classes}).to_dict()
    )
    # the ostrich class and its label: two objects, each with two names
    text = text.replace('"name": "ostrich"', '"name": "bird", "name": "ostrich"')
    with pytest.raises(
        CILFormatError, match="the key 'name' appears 2 times in one object \\(in 2 objects\\)"
    ):
        read_cil(write_text(tmp_path, text))


# --- a name long enough to make the qualifier's pattern backtrack for minutes ---------------
def test_a_name_longer_than_any_label_name_is_refused(small_hierarchy, tmp_path):
    from clustering.cil import MAX_NAME_CHARS

    long_name = "a (" * 20_000  # 60,000 characters; quadratic to split as "X (Y)"
    flat = {**own_labels(small_hierarchy), TENCH: long_name}
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    assert [f.message for f in report.failures] == [
        (
            f"{TENCH}: the label name is {len(long_name):,} characters long, more than the "
            f"{MAX_NAME_CHARS} a display name may be"
        )
    ]
    rich = build_cil(small_hierarchy, {c.wnid: c.wnid for c in small_hierarchy.classes})
    report = validate_file(write(tmp_path, renamed(rich, TENCH, long_name)), small_hierarchy)
    assert [f.message for f in report.failures] == [
        (
            f"labels[{rich.label_of(TENCH)}].name is {len(long_name):,} characters long, more "
            f"than the {MAX_NAME_CHARS} a display name may be"
        )
    ]


# --- 5. unreadable and hostile files: exit 2, one line, no traceback --------------------------
def deep_provenance(depth: int) -> str:
    return (
        json.dumps({"format": "cil", "format_version": 1, "classes": [], "labels": []})[:-1]
        + ', "provenance": '
        + '{"a": ' * depth
        + "{}"
        + "}" * depth
        + "}"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 200_000, "nested too deep"),
        (deep_provenance(100_000), "nested too deep"),
        ('{"' + OSTRICH + '": ' + "9" * 5000 + "}", "a number of 5000 digits"),
        ("{", "not JSON"),
        ('{"' + OSTRICH + '": "caf\u00e9"}', "not UTF-8"),  # written in Latin-1 below
    ],
    ids=["brackets", "provenance", "integer", "truncated", "latin-1"],
)
def test_unreadable_files_exit_2_with_one_line(toy_hierarchy_file, tmp_path, capsys, text, problem):
    path = tmp_path / "cil.json"
    path.write_bytes(text.encode("latin-1"))
    assert main(["validate", str(path), "--hierarchy", toy_hierarchy_file]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: ") and captured.err.count("\n") == 1
    assert problem in captured.err


@pytest.mark.parametrize(
    ("where", "problem"),
    [("missing.json", "the file does not exist"), (".", "cannot read it: Is a directory")],
)
def test_a_file_that_cannot_be_opened_exits_2(toy_hierarchy_file, tmp_path, capsys, where, problem):
    path = tmp_path / where
    assert main(["validate", str(path), "--hierarchy", toy_hierarchy_file]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"error: {path}: {problem}\n")


def test_a_file_over_the_size_limit_is_not_read(toy_hierarchy_file, tmp_path, capsys):
    from clustering.cil import MAX_FILE_BYTES

    path = tmp_path / "huge.json"
    with path.open("wb") as sparse:  # no disk used: the reader must not read it
        sparse.truncate(MAX_FILE_BYTES + 1)
    assert main(["validate", str(path), "--hierarchy", toy_hierarchy_file]) == 2
    err = capsys.readouterr().err
    assert f"{MAX_FILE_BYTES + 1:,} bytes" in err and "--max-bytes" in err
    assert err.count("\n") == 1


def test_the_size_limit_holds_where_the_size_is_unknown(toy_hierarchy_file, capsys):
    # A device reports no size and never ends: the reader stops at the limit.
    assert (
        main(["validate", "/dev/zero", "--max-bytes", "1000", "--hierarchy", toy_hierarchy_file])
        == 2
    )
    assert "holds more, over the 1,000-byte limit" in capsys.readouterr().err


def test_the_size_limit_is_a_setting(small_hierarchy, small_hierarchy_file, tmp_path, capsys):
    path = tmp_path / "cil.json"
    write_cil(build_cil(small_hierarchy, {c.wnid: c.wnid for c in small_hierarchy.classes}), path)
    size = path.stat().st_size
    assert (
        main(
            [
                "validate",
                str(path),
                "--max-bytes",
                str(size - 1),
                "--hierarchy",
                small_hierarchy_file,
            ]
        )
        == 2
    )
    assert (
        main(["validate", str(path), "--max-bytes", str(size), "--hierarchy", small_hierarchy_file])
        == 0
    )
    with pytest.raises(CILFormatError, match="over the .*-byte limit"):
        read_cil(path, max_bytes=size - 1)
