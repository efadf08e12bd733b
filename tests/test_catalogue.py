"""corpus/catalogue.toml written from the app's upload form (retrieval.text.documents.set_catalogue_entry):
the maintainer's comments and header forms kept, any title written, the file's permissions kept."""

from __future__ import annotations

import os
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from retrieval import CatalogueError, set_catalogue_entry
from retrieval.text.documents import load_catalogue

REPO = Path(__file__).resolve().parents[1]

HAND_WRITTEN = '''
# Entries a maintainer wrote by hand, in the other forms TOML allows.
[ "spaced.md" ]   # a header with spaces inside the brackets
title = "Spaced"

['single-quoted.md']
title = 'Single quoted'  # a literal string and a trailing comment
aliases = ["SQ"]
'''


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A copy of the real catalogue (mode 644) with hand-written entries added."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copyfile(REPO / "corpus" / "catalogue.toml", folder / "catalogue.toml")
    with (folder / "catalogue.toml").open("a", encoding="utf-8") as fh:
        fh.write(HAND_WRITTEN)
    os.chmod(folder / "catalogue.toml", 0o644)
    return folder


def test_hand_written_headers_comments_and_a_del_character_survive_a_description(corpus):
    """Issue 29, item 7: a DEL character (U+007F) in a title, or a header written `[ "x.md" ]` or
    `['x.md']`, or a trailing comment, crashed the upload page with a TOMLDecodeError and the
    description was lost. Written with tomlkit now: every entry reads back, nothing else moves."""
    before = (corpus / "catalogue.toml").read_text(encoding="utf-8")
    original = load_catalogue(corpus)
    title = "Delete\x7fcharacter, \"quotes\", a back\\slash and a tab\tin a title"
    for name in ("spaced.md", "single-quoted.md", "new.md"):
        set_catalogue_entry(corpus, name, {"title": title, "short_title": "", "author": "", "year": "2026"})
    after = (corpus / "catalogue.toml").read_text(encoding="utf-8")
    catalogue = tomllib.loads(after)
    for name in ("spaced.md", "single-quoted.md", "new.md"):
        assert catalogue[name]["title"] == title and catalogue[name]["year"] == "2026"
    assert catalogue["single-quoted.md"]["aliases"] == ["SQ"]  # fields the form does not show stay
    # every other entry is as it was, and so is every comment and header the maintainer wrote
    assert {k: v for k, v in catalogue.items() if k not in ("spaced.md", "single-quoted.md", "new.md")} == {
        k: v for k, v in original.items() if k not in ("spaced.md", "single-quoted.md")}
    kept_lines = [line for line in before.splitlines() if line.lstrip().startswith(("#", "[")) or "# a literal" in line]
    for line in kept_lines:
        if "# a literal" in line:
            assert "# a literal string and a trailing comment" in after
        else:
            assert line in after, line
    assert load_catalogue(corpus)["new.md"]["title"] == title  # the build's reader


def test_writing_the_catalogue_keeps_its_permissions(corpus):
    """Issue 29, item 13: catalogue.toml went from 644 to 600 when the app wrote it (a temporary
    file's mode); readers such as a build run by another user lost it."""
    set_catalogue_entry(corpus, "new.md", {"title": "New"})
    assert stat.S_IMODE((corpus / "catalogue.toml").stat().st_mode) == 0o644
    os.chmod(corpus / "catalogue.toml", 0o664)
    set_catalogue_entry(corpus, "new.md", {"title": "Newer"})
    assert stat.S_IMODE((corpus / "catalogue.toml").stat().st_mode) == 0o664
    fresh = corpus.parent / "fresh"
    fresh.mkdir()
    set_catalogue_entry(fresh, "a.md", {"title": "A"})  # a new file gets the umask's mode, never 600
    assert stat.S_IMODE((fresh / "catalogue.toml").stat().st_mode) == 0o666 & ~_umask()
    assert not [p for p in corpus.iterdir() if p.name.startswith(".catalogue-")]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_broken_catalogue_is_one_line_and_is_left_as_it_is(corpus):
    broken = (corpus / "catalogue.toml").read_text(encoding="utf-8") + '\n["unclosed.md"\ntitle = "x"\n'
    (corpus / "catalogue.toml").write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        set_catalogue_entry(corpus, "new.md", {"title": "New"})
    assert "\n" not in str(caught.value) and "catalogue.toml is not valid TOML" in str(caught.value)
    assert (corpus / "catalogue.toml").read_text(encoding="utf-8") == broken


def test_other_names_typed_in_one_line_are_written_as_a_list_and_name_the_document(tmp_path, embedder):
    """The upload form's "other names people use" (issue 28, item 3: an uploaded report has no
    catalogue aliases): typed as one line, written as the catalogue's `aliases` list, and after a
    build a question that uses one is searched in that document."""
    from retrieval import Retriever, Settings, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bikes.md").write_text("# Bicycles\n\nEvery newly arrived refugee may borrow a bicycle for a year.\n", encoding="utf-8")
    (corpus / "trams.md").write_text("# Trams\n\nA monthly tram pass is free for the first year after arrival.\n", encoding="utf-8")
    set_catalogue_entry(corpus, "bikes.md", {"title": "Bicycle lending", "aliases": " Pedal Pact ,  the bike scheme; Pedal Pact,, "})
    assert load_catalogue(corpus)["bikes.md"]["aliases"] == ["Pedal Pact", "the bike scheme"]
    set_catalogue_entry(corpus, "bikes.md", {"title": "Bicycle lending for newcomers", "aliases": ""})
    assert load_catalogue(corpus)["bikes.md"]["aliases"] == ["Pedal Pact", "the bike scheme"]  # nothing typed: kept

    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder=embedder, progress=False)
    found = Retriever.open(settings, embedder=embedder).names.find("What does the Pedal Pact say about the first year?")
    assert found.docs == ("bikes.md",) and found.names == ("Pedal Pact",)

    set_catalogue_entry(corpus, "bikes.md", {"aliases": "Two Wheels"})  # retyped: replaced
    assert load_catalogue(corpus)["bikes.md"]["aliases"] == ["Two Wheels"]
    build_index(settings, embedder=embedder, progress=False)
    names = Retriever.open(settings, embedder=embedder).names
    assert names.find("What does the Two Wheels guidance say?").docs == ("bikes.md",)
    assert names.find("What does the Pedal Pact say?").docs == ()
