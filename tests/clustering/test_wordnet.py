import pytest

from clustering.wordnet import WordNetUnavailable, ensure_wordnet, install_from_debian


def test_wordnet_is_3_0(wordnet):
    assert wordnet.get_version() == "3.0"
    assert wordnet.synset_from_pos_and_offset("n", 2110341).name() == "dalmatian.n.02"


def test_install_from_debian_files(tmp_path):
    dest = install_from_debian(tmp_path)
    lexnames = (dest / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45
    assert lexnames[3] == "03\tnoun.Tops\t1"
    assert not (dest / "index.sense").is_symlink()


def test_no_route_gives_one_clear_message(tmp_path, monkeypatch):
    import clustering.wordnet as module

    monkeypatch.setattr(module, "_find_existing", lambda: None)
    with pytest.raises(WordNetUnavailable) as info:
        ensure_wordnet(tmp_path / "nltk", debian_dir=tmp_path / "nothing", allow_download=False)
    message = str(info.value)
    assert "apt-get install wordnet-base wordnet-sense-index" in message
    assert "nltk.download('wordnet'" in message
