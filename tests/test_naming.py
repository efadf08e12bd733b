"""Finding the documents a question names."""

from __future__ import annotations

from retrieval.ask.naming import DocumentNames, names_from_entry

DUBLIN = "eu-regulation-604-2013-dublin-iii.pdf"
QUALIFICATION = "eu-regulation-2024-1347-qualification-international-protection.pdf"
CONVENTION = "unhcr-1951-convention-1967-protocol-status-of-refugees.pdf"


def names() -> DocumentNames:
    return DocumentNames({
        DUBLIN: ["Dublin III", "Dublin Regulation", "Dublin", "Regulation"],
        QUALIFICATION: ["Qualification Regulation", "2024/1347", "Regulation"],
        CONVENTION: ["Refugee Convention", "1951 Refugee Convention"],
    })


def test_a_named_document_is_found_and_the_name_taken_out():
    found = names().find("Under the Dublin III Regulation, who pays for a transfer?")
    assert found.docs == (DUBLIN,)
    assert found.query == "who pays for a transfer?"
    assert found.names == ("Dublin III",)


def test_two_documents_in_the_order_named_and_the_longest_name_wins():
    found = names().find("How do the 1951 Refugee Convention and the Qualification Regulation define a refugee?")
    assert found.docs == (CONVENTION, QUALIFICATION)
    assert found.query == "How do and define a refugee?"


def test_generic_and_shared_names_name_nothing():
    # "Regulation" is every regulation's word, and both documents claim it
    assert names().find("What does the Regulation say about minors?").docs == ()
    assert names().find("What is a refugee?").docs == ()
    assert names().find("Which rules apply in Dubliner pubs?").docs == ()  # whole words only


def test_names_from_a_catalogue_entry():
    entry = {
        "doc": DUBLIN,
        "aliases": ["Dublin III"],
        "catalogue_short_title": "Dublin III Regulation (EU) No 604/2013",
        "catalogue_title": "Regulation (EU) No 604/2013 establishing the criteria (Dublin III)",
    }
    got = names_from_entry(entry)
    assert "Dublin III" in got and "604/2013" in got and "EU" not in got
    assert DocumentNames.from_entries([entry]).find("What does 604/2013 say?").docs == (DUBLIN,)


def test_the_corpus_catalogue_sends_questions_about_iom_management_to_its_response():
    """The management response is IOM management's reply to the final evaluation: a question about
    what "IOM management" said or committed to is searched there, not in the evaluation it answers."""
    from pathlib import Path

    from retrieval.text.documents import load_catalogue

    corpus = Path(__file__).resolve().parent.parent / "corpus"
    entries = [
        {"doc": doc, "aliases": entry.get("aliases", []), "catalogue_short_title": entry.get("short_title", ""), "catalogue_title": entry.get("title", "")}
        for doc, entry in load_catalogue(corpus).items()
    ]
    found = DocumentNames.from_entries(entries).find("What was IOM management's overall comment on the final evaluation?")
    assert found.docs[0] == "iom-eu-ji-horn-of-africa-management-response-matrix-2023.pdf"
    assert "IOM management" in found.names


def described_names() -> DocumentNames:
    """Entries as the index holds them: the catalogue's aliases for some, only the title read from
    the file for an uploaded report."""
    return DocumentNames.from_entries([
        {"doc": "bmwk.pdf", "aliases": ["fast-track procedure", "BMWK brochure"], "title": "Questions and answers about the fast-track procedure for skilled workers",
         "author": "German Federal Ministry for Economic Affairs and Climate Action (BMWK)"},
        {"doc": "uk.pdf", "aliases": ["sponsor guidance"], "title": "Workers and Temporary Workers: guidance for sponsors. Sponsor a Skilled Worker", "author": "UK Home Office"},
        {"doc": "final.pdf", "aliases": ["JI-HoA final evaluation"], "title": "Final Evaluation of the EU-IOM Joint Initiative for Migrant Protection and Reintegration in the Horn of Africa"},
        {"doc": "brief.pdf", "aliases": ["evaluation brief"], "title": "Evaluation Brief: Final Evaluation for EU-IOM Joint Initiative for Migrant Protection and Reintegration"},
        {"doc": "uploaded.pdf", "title": "Study of Case Management Practice in the context of the EU-IOM Joint Initiative"},
    ])


def test_a_document_described_in_words_of_its_own_names_title_and_author_is_found():
    """People name a document by what it is and whose it is ("the German fast-track brochure", "the
    JI-HoA evaluation"), not by its catalogue aliases; an uploaded report has none at all."""
    names = described_names()
    found = names.find("What do the German fast-track brochure and the UK skilled worker guidance say about fees?")
    assert found.docs == ("bmwk.pdf", "uk.pdf") and found.names == ("German fast-track brochure", "UK skilled worker guidance")
    assert found.query == "What do and say about fees?"
    assert names.find("What did the JI-HoA evaluation recommend?").docs == ("final.pdf",)
    assert names.find("What does the case management study recommend?").docs == ("uploaded.pdf",)


def test_a_description_names_a_document_only_when_its_words_fit_that_one_alone():
    names = described_names()
    # the last kind word says what it is: a brief, not the evaluation it summarises
    assert names.find("What was the first recommendation in the JI-HoA evaluation brief?").docs == ("brief.pdf",)
    assert names.find("What does the evaluation say about reintegration?").docs == ()  # no word but the kind
    assert names.find("How busy were the migrant response centres?").docs == ()  # "response" is no kind of document
    assert names.find("Which skilled worker report applies?").docs == ()  # "skilled worker" is both guides', "report" neither's
    assert names.find("What does the French guidance say?").docs == ()  # a word of no document stops it
