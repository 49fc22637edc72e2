"""Find WordNet 3.0 for nltk, or set it up from Debian's packages.

nltk ships no data, and its downloader needs a host that may be out of reach.
Debian's `wordnet-base` and `wordnet-sense-index` hold the same WordNet 3.0
database; nltk reads it once the files are copied (not linked: nltk refuses
links leaving its data root) into `<nltk_data>/corpora/wordnet/` together with
the `lexnames` table that Debian leaves out.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import warnings
from pathlib import Path

from clustering.errors import ClusteringError

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_VERSION = "3.0"

# WordNet's fixed table of lexicographer files: number, name, part of speech
# (1 noun, 2 verb, 3 adjective, 4 adverb), as in lexnames(5WN).
LEXNAMES = [
    "adj.all 3",
    "adj.pert 3",
    "adv.all 4",
    "noun.Tops 1",
    "noun.act 1",
    "noun.animal 1",
    "noun.artifact 1",
    "noun.attribute 1",
    "noun.body 1",
    "noun.cognition 1",
    "noun.communication 1",
    "noun.event 1",
    "noun.feeling 1",
    "noun.food 1",
    "noun.group 1",
    "noun.location 1",
    "noun.motive 1",
    "noun.object 1",
    "noun.person 1",
    "noun.phenomenon 1",
    "noun.plant 1",
    "noun.possession 1",
    "noun.process 1",
    "noun.quantity 1",
    "noun.relation 1",
    "noun.shape 1",
    "noun.state 1",
    "noun.substance 1",
    "noun.time 1",
    "verb.body 2",
    "verb.change 2",
    "verb.cognition 2",
    "verb.communication 2",
    "verb.competition 2",
    "verb.consumption 2",
    "verb.contact 2",
    "verb.creation 2",
    "verb.emotion 2",
    "verb.motion 2",
    "verb.perception 2",
    "verb.possession 2",
    "verb.social 2",
    "verb.stative 2",
    "verb.weather 2",
    "adj.ppl 3",
]

NEEDED_FILES = ["data.noun", "index.noun", "noun.exc", "index.sense", "cntlist.rev"]


class WordNetUnavailable(ClusteringError, RuntimeError):
    """Neither route to WordNet 3.0 worked; the message says what to do."""


def default_data_dir() -> Path:
    """Where to set WordNet up: $NLTK_DATA's first entry, else `<sys.prefix>/nltk_data`,
    which is on nltk's search path (inside the project's virtualenv when run from it)."""
    env = os.environ.get("NLTK_DATA")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path(sys.prefix) / "nltk_data"


def _open_reader():
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = nltk.data.find("corpora/wordnet")
    with warnings.catch_warnings():
        # Without the multilingual data nltk warns once; we use English only.
        warnings.filterwarnings("ignore", "The multilingual functions", UserWarning)
        return WordNetCorpusReader(root, None)


def _find_existing():
    """The reader for a WordNet 3.0 already on nltk's path, or None."""
    try:
        reader = _open_reader()
    except (LookupError, OSError):
        return None
    return reader if reader.get_version() == WORDNET_VERSION else None


def install_from_debian(target: Path, source: Path = DEBIAN_WORDNET_DIR) -> Path:
    """Copy Debian's WordNet files into `target/corpora/wordnet` and add `lexnames`."""
    missing = [name for name in NEEDED_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{source} lacks {', '.join(missing)}")
    dest = target / "corpora" / "wordnet"
    dest.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file():
            shutil.copyfile(item, dest / item.name)
    (dest / "lexnames").write_text(
        "".join(
            f"{number:02d}\t{entry.split()[0]}\t{entry.split()[1]}\n"
            for number, entry in enumerate(LEXNAMES)
        )
    )
    return dest


def _add_to_path(target: Path) -> None:
    import nltk

    if str(target) not in nltk.data.path:
        nltk.data.path.insert(0, str(target))


def _try_download(target: Path) -> bool:
    import nltk

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        return bool(nltk.download("wordnet", download_dir=str(target), quiet=True))
    except Exception:  # noqa: BLE001 (the downloader raises many kinds when offline)
        return False
    finally:
        socket.setdefaulttimeout(previous)


def ensure_wordnet(
    target: Path | None = None, debian_dir: Path = DEBIAN_WORDNET_DIR, allow_download: bool = True
):
    """Return an nltk WordNet 3.0 reader, setting the data up if needed.

    Tries, in order: nltk's data path; Debian's packages; nltk's downloader.
    Raises WordNetUnavailable naming both routes when none works.
    """
    target = target or default_data_dir()
    _add_to_path(target)
    reader = _find_existing()
    if reader is not None:
        return reader
    errors = []
    try:
        install_from_debian(target, debian_dir)
        reader = _find_existing()
        if reader is not None:
            return reader
        errors.append(f"the files copied from {debian_dir} did not load as WordNet 3.0")
    except (FileNotFoundError, PermissionError) as exc:
        errors.append(f"Debian packages: {exc}")
    if allow_download and _try_download(target):
        reader = _find_existing()
        if reader is not None:
            return reader
    errors.append("nltk.download('wordnet') failed (no network?)")
    raise WordNetUnavailable(
        "WordNet 3.0 for nltk was not found and could not be set up ("
        + "; ".join(errors)
        + "). Either install Debian's packages (`apt-get install wordnet-base "
        "wordnet-sense-index`) and run `python -m clustering wordnet` again, or, on a "
        'machine with network access, run `python -c "import nltk; '
        f"nltk.download('wordnet', download_dir='{target}')\"`."
    )
