"""The database, migrations, seeding, the count cache and the first pages."""

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from survey_app.counts import cached_counts, fill_search_counts
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import ChainEntry, ImageClass, SearchCount, Synset, SynsetEdge
from survey_app.seeding import SeedError, seed_hierarchy

from .conftest import make_app

TABLES = {
    "meta",
    "synsets",
    "synset_edges",
    "classes",
    "chain_entries",
    "search_counts",
    "users",
    "invitations",
    "votes",
    "decisions",
}


def row_counts():
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Synset, SynsetEdge, ImageClass, ChainEntry, SearchCount)
    }


def test_migrations_round_trip(unmigrated_app, small_hierarchy):
    with unmigrated_app.app_context():
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        seed_hierarchy(small_hierarchy)
        first = row_counts()
        assert first["classes"] == len(small_hierarchy.classes)
        assert seed_hierarchy(small_hierarchy) == {
            "synsets": 0,
            "edges": 0,
            "classes": 0,
            "chain_entries": 0,
            "word_facts": 0,
        }
        assert row_counts() == first
        db.session.remove()
        downgrade(revision="base")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        db.session.remove()


def test_seeded_hierarchy_reads_back(app, small_hierarchy):
    with app.app_context():
        assert hierarchy_from_db().to_dict() == small_hierarchy.to_dict()


def test_the_hierarchy_read_back_carries_its_recorded_version(app, small_hierarchy):
    """Its version is the one the seeding recorded, taken without digesting the structure
    again (0.7 s at ImageNet-21k's size), and it is the structure's own."""
    from clustering.hierarchy import Hierarchy

    with app.app_context():
        hierarchy = hierarchy_from_db()
        assert "version" in vars(hierarchy)  # remembered, not computed on asking
        assert hierarchy.version == small_hierarchy.version
        digested = Hierarchy(hierarchy.synsets, hierarchy.parents, hierarchy.classes)
        assert digested.version == hierarchy.version


def test_seed_refuses_a_different_hierarchy(app, wordnet):
    from clustering.hierarchy import Hierarchy

    other = Hierarchy.from_wordnet(["n02110341"], wordnet)
    with app.app_context():
        before = row_counts()
        with pytest.raises(SeedError, match="different class list"):
            seed_hierarchy(other)
        assert row_counts() == before


def test_fill_counts_resumes(app):
    with app.app_context():
        # Forget a few counts, as if the run had stopped early.
        gone = db.session.scalars(select(SearchCount).limit(3)).all()
        terms = {row.term for row in gone}
        for row in gone:
            db.session.delete(row)
        db.session.commit()
        result = fill_search_counts("wordfreq", progress=False)
        assert result["fetched"] == 3 and result["failed"] == 0
        assert terms <= set(cached_counts())


def test_fill_counts_records_failures(app, tmp_path):
    counts_file = tmp_path / "counts.json"
    counts_file.write_text(json.dumps({"dog": 5000}))
    with app.app_context():
        # Every lemma is a term now, so "dog" comes after more than 20 misses in a row.
        result = fill_search_counts("json", progress=False, give_up_after=10_000, path=counts_file)
        assert result["fetched"] == 1
        assert result["failed"] > 0
        failed = db.session.scalars(
            select(SearchCount).where(SearchCount.provider == "json", SearchCount.count.is_(None))
        ).all()
        assert len(failed) == result["failed"] and all(row.error for row in failed)
        # A retry asks only for the failed terms, and a web count wins over wordfreq's.
        assert (
            fill_search_counts("json", progress=False, give_up_after=10_000, path=counts_file)[
                "fetched"
            ]
            == 0
        )
        assert cached_counts(["dog"])["dog"] == (5000, "json")


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "classes": 10}


def test_health_reports_unreachable_database(tmp_path):
    app = make_app(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_class_list_page(client):
    page = client.get("/classes").get_data(as_text=True)
    assert page.count("<tr>") == 11  # header + 10 classes
    assert "dalmatian" in page and "domestic animal" in page
    found = client.get("/classes?q=crane").get_data(as_text=True)
    assert found.count("n02012849") == 1 and found.count("n03126707") == 1
    assert "dalmatian" not in found


def test_class_list_pages_keep_the_search(client, monkeypatch):
    monkeypatch.setattr("survey_app.browse.PER_PAGE", 3)
    assert "page 1 of 4" in client.get("/classes").text
    first = client.get("/classes?q=e").text
    assert "page 1 of 2" in first and 'href="/classes?q=e&amp;page=2"' in first
    second = client.get("/classes?q=e&page=2").text
    assert "page 2 of 2" in second and 'href="/classes?q=e&amp;page=1"' in second


def test_class_search_compares_the_classes_once_per_query(client, monkeypatch):
    """A query's matches are kept (comparing every class's names took 30 ms a request
    at ImageNet-21k's size): its next page, or the same page again, compares nothing;
    another query does, and the oldest kept query goes once KEPT_SEARCHES are kept."""
    from survey_app import browse

    compared = []

    def counting(hierarchy, query):
        compared.append(query)
        return matches(hierarchy, query)

    matches = browse._matches
    monkeypatch.setattr(browse, "_matches", counting)
    monkeypatch.setattr(browse, "PER_PAGE", 3)
    monkeypatch.setattr(browse, "KEPT_SEARCHES", 2, raising=False)
    first = client.get("/classes?q=e").text
    assert client.get("/classes?q=e").text == first
    assert "page 2 of 2" in client.get("/classes?q=e&page=2").text
    assert compared == ["e"]
    crane = client.get("/classes?q=crane").text
    assert crane.count("n02012849") == 1 and "dalmatian" not in crane
    client.get("/classes?q=dog")  # a third query: "e", the oldest, is forgotten
    client.get("/classes?q=crane")
    client.get("/classes?q=e")
    assert compared == ["e", "crane", "dog", "e"]


def test_the_kept_hierarchy_is_out_of_the_collectors_walks(app):
    """The hierarchy a process keeps is frozen out of the garbage collector's full
    collections, which walked all of it (pauses up to 200 ms at ImageNet-21k's size);
    garbage made before it was read is still collected."""
    import gc
    import weakref

    from survey_app.database import hierarchy_from_db

    class Cycle:
        pass

    garbage = Cycle()
    garbage.itself = garbage  # only the collector frees it
    probe = weakref.ref(garbage)
    del garbage
    with app.app_context():
        hierarchy = hierarchy_from_db()
    alive = {id(o) for o in gc.get_objects()}
    assert id(hierarchy.classes) not in alive and id(hierarchy.synsets) not in alive
    assert probe() is None


def test_cli_seed_and_setup(tmp_path, small_hierarchy):
    hierarchy_file = tmp_path / "h.json"
    small_hierarchy.save(hierarchy_file)
    app = make_app(tmp_path)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["setup", "--hierarchy", str(hierarchy_file)])
    assert result.exit_code == 0, result.output
    assert "added" in result.output and "fetched" in result.output
    again = runner.invoke(args=["setup", "--hierarchy", str(hierarchy_file)])
    assert again.exit_code == 0
    assert "added 0 synsets, 0 edges, 0 classes, 0 chain_entries" in again.output
    assert "0 fetched, 0 failed" in again.output


def test_cli_setup_unreachable_database(tmp_path, small_hierarchy):
    app = make_app(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none")
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 1
    assert "cannot reach the database" in result.output
    assert "Traceback" not in result.output


def test_cli_seed_reports_bad_class_list(tmp_path, wordnet, monkeypatch):
    # The session's WordNet, not a reader loaded again (seconds) by the command.
    monkeypatch.setattr("clustering.wordnet.ensure_wordnet", lambda *args, **kwargs: wordnet)
    bad = tmp_path / "classes.txt"
    bad.write_text("n99999999\n")
    app = make_app(tmp_path)
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["seed", "--classes", str(bad)])
    assert result.exit_code == 1 and "n99999999" in result.output


def test_cli_seed_names_a_file_that_is_not_a_hierarchy(tmp_path):
    bad = tmp_path / "votes.json"
    bad.write_text('{"format": "cil"}')
    app = make_app(tmp_path)
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["seed", "--hierarchy", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{bad}: not a hierarchy file" in result.output


def test_cli_fill_counts_reports_a_provider_that_cannot_start(runner, tmp_path):
    result = runner.invoke(args=["fill-counts", "--provider", "nonsense"])
    assert result.exit_code == 1 and "nonsense" in result.output
    assert "Traceback" not in result.output


def test_fill_counts_gives_up_on_an_unreachable_service(app):
    with app.app_context():
        result = fill_search_counts(
            "wikipedia",
            progress=False,
            give_up_after=3,
            base_url="http://127.0.0.1:1",
            retries=0,
            min_interval=0,
            timeout=0.5,
        )
        assert result["failed"] == 3 and result["fetched"] == 0 and result["stopped"] > 0
