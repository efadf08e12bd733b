"""The real documents: the ten PDFs of ../shared/pdfs and the two seed Markdown documents of
../shared/corpus, parsed with the real loader and chunked with the real tokenizer.

Each document is parsed and chunked once (a session cache); the checks are properties every document
must have, plus section paths read off the documents' own numbering.
"""

from __future__ import annotations

import functools
import re

import pytest

from retrieval import chunk_document, load_document
from retrieval.text.sections import heading_number

# every shared PDF read, cleaned and chunked at length (minutes on two cores)
pytestmark = pytest.mark.real_pdfs

PDFS = [
    "bmwk-fast-track-procedure-skilled-workers-2024.pdf",
    "eu-commission-notice-free-movement-guidance-2023.pdf",
    "eu-regulation-2024-1347-qualification-international-protection.pdf",
    "eu-regulation-604-2013-dublin-iii.pdf",
    "iom-eu-ji-case-management-return-reintegration-study-2023.pdf",
    "iom-eu-ji-horn-of-africa-evaluation-brief-2023.pdf",
    "iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf",
    "iom-eu-ji-horn-of-africa-management-response-matrix-2023.pdf",
    "uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf",
    "unhcr-1951-convention-1967-protocol-status-of-refugees.pdf",
]
SEEDS = ["budapest-process-integration-reintegration-2016.md", "interact-expert-survey-2015.md"]
ALL = PDFS + SEEDS

MAX_TOKENS = 200
OVERLAP = 40


@pytest.fixture(scope="session")
def shared_doc(shared_pdfs, seed_docs):
    """name -> (Document, chunks), each parsed and chunked once per session."""
    paths = {p.name: p for p in [*shared_pdfs, *seed_docs]}
    cache: dict[str, tuple] = {}

    def get(name: str, embedder=None):
        if name not in cache:
            assert name in paths, f"{name} missing from the shared folders"
            cache[name] = (load_document(paths[name]), None)
        doc, chunks = cache[name]
        if embedder is not None and chunks is None:
            chunks = chunk_document(doc, embedder.count_tokens, MAX_TOKENS, OVERLAP)
            cache[name] = (doc, chunks)
        return doc if embedder is None else (doc, chunks)

    return get


def test_shared_folders_hold_the_expected_documents(shared_pdfs, seed_docs):
    assert sorted(p.name for p in shared_pdfs) == sorted(PDFS)
    assert sorted(p.name for p in seed_docs) == sorted(SEEDS)


# --------------------------------------------------------------------------- per document


@functools.cache
def _auto_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def transformers_tokenizer(embedder):
    """transformers' own tokenizer of the model: an independent count to check the chunker against."""
    return _auto_tokenizer(embedder.path)


@pytest.mark.parametrize("name", ALL)
def test_chunks_fit_the_model_and_the_budget(name, shared_doc, embedder):
    _doc, chunks = shared_doc(name, embedder)
    assert chunks, "no chunks"
    assert MAX_TOKENS <= embedder.max_seq_length == 256
    real = transformers_tokenizer(embedder)([c.embed_text for c in chunks])["input_ids"]  # special tokens included
    real = [len(ids) for ids in real]
    over = [(c.chunk_id, n) for c, n in zip(chunks, real) if n > MAX_TOKENS]
    assert not over, f"chunks over {MAX_TOKENS} word pieces: {over[:5]}"


@pytest.mark.parametrize("name", ALL)
def test_each_chunk_is_a_slice_inside_exactly_one_section(name, shared_doc, embedder):
    doc, chunks = shared_doc(name, embedder)
    for chunk in chunks:
        assert chunk.text.strip(), f"{chunk.chunk_id} is empty"
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.doc_id == name
        holders = [s for s in doc.sections if s.start <= chunk.start and chunk.end <= s.end]
        assert len(holders) == 1, f"{chunk.chunk_id} lies in {len(holders)} sections"
        assert chunk.section == holders[0].label
    assert [c.chunk_id for c in chunks] == [f"{name}#{i}" for i in range(len(chunks))]


@pytest.mark.parametrize("name", ALL)
def test_sections_are_ordered_and_disjoint(name, shared_doc):
    doc = shared_doc(name)
    assert doc.sections
    for a, b in zip(doc.sections, doc.sections[1:]):
        assert 0 <= a.start < a.end <= b.start < b.end <= len(doc.text)


@pytest.mark.parametrize("name", PDFS)
def test_pdf_chunks_have_pages_in_order(name, shared_doc, embedder):
    doc, chunks = shared_doc(name, embedder)
    assert doc.pages >= 2
    pages = [p for p, _ in doc.page_starts]
    assert pages == sorted(set(pages)) and 1 <= pages[0] and pages[-1] <= doc.pages
    for chunk in chunks:
        assert chunk.page_start is not None and chunk.page_end is not None
        assert 1 <= chunk.page_start <= chunk.page_end <= doc.pages
    starts = [c.page_start for c in chunks]
    assert starts == sorted(starts), "pages go backwards along the chunk order"
    # the chunks run through the document: the last one is on one of its last pages
    assert chunks[-1].page_end >= doc.pages - 3


@pytest.mark.parametrize("name", SEEDS)
def test_markdown_chunks_have_no_pages(name, shared_doc, embedder):
    doc, chunks = shared_doc(name, embedder)
    assert doc.pages == 0
    assert all(c.page_start is None and c.page_end is None and c.pages_label == "" for c in chunks)


@pytest.mark.parametrize("name", ALL)
def test_clean_text(name, shared_doc):
    text = shared_doc(name).text
    assert "\u00ad" not in text, "soft hyphen left in the text"
    assert not re.search("[\ufb00-\ufb06\uf0b7\x00\ufffd]", text), "ligature, private-use bullet or control character left"
    assert "\n\n\n" not in text


@pytest.mark.parametrize("name", ALL)
def test_numbered_sections_nest_under_their_own_numbers(name, shared_doc):
    """In a path, a numbered heading sits under a numbered one only if it extends its number ("4." > "4.2")."""
    for section in shared_doc(name).sections:
        numbers = [(part, heading_number(part)) for part in section.path]
        for i, (parent, parent_number) in enumerate(numbers):
            for child, child_number in numbers[i + 1 :]:
                if parent_number and child_number:
                    assert len(child_number) > len(parent_number) and child_number[: len(parent_number)] == parent_number, (
                        f"{child!r} nested under {parent!r}"
                    )


# --------------------------------------------------------------------------- section paths from the numbering


def labels(doc) -> list[str]:
    return [s.label for s in doc.sections]


def paths(doc) -> list[tuple[str, ...]]:
    return [s.path for s in doc.sections]


def test_interact_survey_sections(shared_doc):
    found = labels(shared_doc("interact-expert-survey-2015.md"))
    assert "4. The role of the country of origin > 4.2 Pre-departure role" in found
    assert "5. Dimensions of integration, areas of cooperation > 5.1 Labour market and education" in found
    assert "6. Levels at which cooperation works best" in found
    assert found.index("4. The role of the country of origin > 4.1 Institutional role") < found.index(
        "4. The role of the country of origin > 4.2 Pre-departure role"
    )


def test_budapest_numbered_list_under_its_plain_heading(shared_doc):
    found = labels(shared_doc("budapest-process-integration-reintegration-2016.md"))
    assert "Main trends of reintegration policies > 2. Tailor-made approach" in found
    assert "Integration Policies" in found


def test_qualification_regulation_article_30_under_section_iii(shared_doc):
    doc = shared_doc("eu-regulation-2024-1347-qualification-international-protection.pdf")
    article_30 = [p for p in paths(doc) if any(part.startswith("Article 30 ") for part in p)]
    assert len(article_30) == 1
    path = article_30[0]
    assert path == (
        "CHAPTER VII CONTENT OF INTERNATIONAL PROTECTION RIGHTS AND OBLIGATIONS OF BENEFICIARIES OF INTERNATIONAL PROTECTION",
        "SECTION III Rights related to integration",
        "Article 30 Access to procedures for recognition of qualifications and validation of skills",
    )
    assert ("CHAPTER I GENERAL PROVISIONS", "Article 3 Definitions") in paths(doc)


def test_dublin_articles_under_their_chapters(shared_doc):
    doc = shared_doc("eu-regulation-604-2013-dublin-iii.pdf")
    found = paths(doc)
    assert (
        "CHAPTER II GENERAL PRINCIPLES AND SAFEGUARDS",
        "Article 3 Access to the procedure for examining an application for international protection",
    ) in found
    assert ("CHAPTER II GENERAL PRINCIPLES AND SAFEGUARDS", "Article 4 Right to information") in found
    assert ("CHAPTER III CRITERIA FOR DETERMINING THE MEMBER STATE RESPONSIBLE", "Article 8 Minors") in found
    assert (
        "CHAPTER VI PROCEDURES FOR TAKING CHARGE AND TAKING BACK",
        "SECTION IV Procedural safeguards",
        "Article 27 Remedies",
    ) in found
    # an article's text starts with its first paragraph, not with the end of its wrapped title
    article_3 = next(s for s in doc.sections if s.path and s.path[-1].startswith("Article 3 "))
    assert doc.text[article_3.start : article_3.end].startswith("1. Member States shall examine any application")
    # every article of the body sits under a chapter, never under a numbered paragraph
    for path in found:
        if any(part.startswith("Article ") for part in path):
            assert path[0].startswith("CHAPTER "), path
    assert not any(heading_number(part) for path in found for part in path)


def test_free_movement_guidance_nested_numbering(shared_doc):
    found = paths(shared_doc("eu-commission-notice-free-movement-guidance-2023.pdf"))
    spouses = [p for p in found if p and p[-1] == "2.2.2.1 Spouses"]
    assert len(spouses) == 1
    assert spouses[0][-3:-1] == ("2.2 Family members and other beneficiaries", "2.2.2 Core family members")
    assert spouses[0][0].startswith("2 Beneficiaries")


def test_a_sentence_going_on_after_a_line_break_before_article_is_no_heading(shared_doc):
    """"... or based directly on" / "Article 21 TFEU, as a matter of law ...": the line goes on with the
    sentence, so it neither opens a section nor cuts the sentence in two."""
    notice = shared_doc("eu-commission-notice-free-movement-guidance-2023.pdf")
    text = " ".join(notice.text.split())
    assert "or based directly on Article 21 TFEU, as a matter of law if they meet" in text
    assert "a Member State under Article 20 TFEU cannot be regarded as constituting residence" in text
    assert not [label for label in labels(notice) if label.split(" > ")[-1].startswith("Article 2")]
    dublin = shared_doc("eu-regulation-604-2013-dublin-iii.pdf")
    assert "in connection with the personal interview as referred to in Article 5." in " ".join(dublin.text.split())


def test_a_numbered_heading_wrapped_over_three_lines_is_not_glued_to_its_first_sentence(shared_doc):
    notice = shared_doc("eu-commission-notice-free-movement-guidance-2023.pdf")
    heading = (
        "12.1 Registration certificates and documents certifying permanent residence issued to EU citizens (Articles 8 "
        "and 19 of Directive 2004/38/EC and Article 6 of Regulation 2019/1157): format, minimum information and validity period"
    )
    assert any(label.endswith(heading) for label in labels(notice))
    assert heading + "\n\nArticle 8(1) of Directive" in notice.text  # a paragraph of its own


def test_footnote_references_are_not_glued_to_words(shared_doc):
    """The final evaluation sets its footnote references as superscripts that extraction glues to the
    word before ("climate change96."): taken off, the word and the sentence end are the text's again."""
    text = " ".join(shared_doc("iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf").text.split())
    assert "lacked sufficient emphasis on climate change. Under the current evaluation" in text
    assert "recycle plastic bottles into pavements or bricks." in text
    assert not re.search(r"\b(change96|bricks97|sustainability98)\b", text)


def test_case_management_study_footnotes_never_split_a_sentence(shared_doc):
    """Its pages carry their number in body type below the footnotes: the footnotes are still found,
    and kept out of the sentence they fell into."""
    text = shared_doc("iom-eu-ji-case-management-return-reintegration-study-2023.pdf").text
    assert "(developed under the COMPASS initiative funded by" in " ".join(text.split())
    assert "\n\n3 In this report, pre-return is considered as the host country" in text


def test_numbered_lists_are_text_and_numbered_headings_nest(shared_doc):
    """The brief's recommendations and the case management study's key questions are numbered lists:
    their items are text, not sections, so the study's "1.3 Methodology" nests under "1. Introduction"."""
    brief = shared_doc("iom-eu-ji-horn-of-africa-evaluation-brief-2023.pdf")
    assert "1. Enhance efforts with national, regional, and local stakeholders to build capacity and ownership" in " ".join(brief.text.split())
    assert not [label for label in labels(brief) if label]
    study = paths(shared_doc("iom-eu-ji-case-management-return-reintegration-study-2023.pdf"))
    assert ("1. Introduction", "1.3 Methodology") in study
    assert not [path for path in study if path and path[0].startswith(("2. What are promising", "5. To what extent"))]
    evaluation = paths(shared_doc("iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf"))
    assert ("2. Background to the JI-HoA", "2.2. External factors affecting the implementation of the JI-HoA") in evaluation


def test_uk_guidance_lettered_sections(shared_doc):
    found = labels(shared_doc("uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf"))
    assert "SK4. Skill level requirement for Skilled Workers" in found
    assert [label for label in found if re.match(r"SK\d+\. ", label)] == [
        label for label in found if label
    ], "every section of the guidance is one of its SKn. parts"
    assert len([label for label in found if label.startswith("SK")]) == 13


def test_refugee_convention_articles(shared_doc):
    found = labels(shared_doc("unhcr-1951-convention-1967-protocol-status-of-refugees.pdf"))
    assert any(label.startswith("Article 33 prohibition of expulsion or return") for label in found)
    assert "Article 1 definition of the term \u201crefugee\u201d" in found
    # numbered paragraphs of an article ("1. A refugee shall have free access ...") are body text
    assert not any(re.match(r"\d+\. ", label) for label in found)


def test_case_management_study_sections(shared_doc):
    found = labels(shared_doc("iom-eu-ji-case-management-return-reintegration-study-2023.pdf"))
    assert "2. Implementation of pre-return case management in the JI programme > 2.2. Standard Operating Procedures" in found
    # the works cited and the annexes after the conclusion are sections of their own
    assert found[-3:] == ["References", "Annex 1: Standard Operating Procedures Reviewed", "Annex 3: Case Worker to Beneficiary Ratio Planning Tool"]


# --------------------------------------------------------------------------- page furniture


def test_dublin_running_header_removed(shared_doc):
    text = shared_doc("eu-regulation-604-2013-dublin-iii.pdf").text
    # the running header "EN 29.6.2013 Official Journal of the European Union L 180/31" was on all 29 pages
    assert not re.search(r"L 180/\d+", text)
    # what is left are the regulation's own references to the Official Journal
    assert text.count("Official Journal of the European Union") <= 3
    for m in re.finditer("Official Journal of the European Union", text):
        assert re.search(r"(in|of) the\s+$", text[m.start() - 12 : m.start()]), text[m.start() - 60 : m.end() + 20]


def test_qualification_regulation_footers_removed(shared_doc):
    text = shared_doc("eu-regulation-2024-1347-qualification-international-protection.pdf").text
    assert "OJ L, 22.5.2024" not in text
    # the ELI footer was on all 34 pages; one citation of the regulation itself remains
    assert text.count("http://data.europa.eu/eli/reg/2024/1347/oj") <= 1
    assert not re.search(r"\b\d{1,2}/34 ELI", text)


def test_uk_guidance_page_footer_removed(shared_doc):
    text = shared_doc("uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf").text
    assert not re.search(r"Page \d+ of 73", text)
    assert "Sponsor a Skilled Worker \u2013 version 07/25" not in text


def test_evaluation_running_title_removed(shared_doc):
    text = shared_doc("iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf").text
    assert "Final Evaluation for EU-IOM Joint Initiative for Migrant Protection and Reintegration in the Horn of Africa" not in text


def test_dublin_hyphenation(shared_doc):
    text = shared_doc("eu-regulation-604-2013-dublin-iii.pdf").text
    # "guar\u00ad" / "anteed" over a line end
    assert "free movement of persons is guaranteed" in text
    assert "third-country national" in text
    assert "thirdcountry" not in text


def test_refugee_convention_drop_caps_rejoined(shared_doc):
    text = shared_doc("unhcr-1951-convention-1967-protocol-status-of-refugees.pdf").text
    assert "T he Contracting States" not in text and "The Contracting States" in text
    for opening in ("(1) Has been considered", "2. After a period of three years", "(2) Any Contracting State", "2. In any case"):
        assert opening in text
    assert "(1) Ensuring that the unity" in text and "III. With respect to" in text
    assert not re.findall(r"\n(\(?\d+[.)]|[IVX]+\.)? ?[B-HJ-Z] [a-z]{3,}", text)


def test_bmwk_ligature_residue_repaired(shared_doc):
    text = shared_doc("bmwk-fast-track-procedure-skilled-workers-2024.pdf").text
    assert "/f_" not in text


def test_bmwk_words_broken_with_a_spaced_hyphen_rejoined(shared_doc):
    """The brochure breaks words over lines as "demo -" / "graphic": rejoined, a dash before a
    capital ("3 - Somewhat" in a survey scale) left alone."""
    text = shared_doc("bmwk-fast-track-procedure-skilled-workers-2024.pdf").text
    assert "increasing demographic change" in text and "subject to a charge" in text
    assert not re.search(r"\b[a-z]+ - [a-z]+\b", text)
    assert "3 - Somewhat" in " ".join(shared_doc("iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf").text.split())


def test_footnotes_never_split_a_sentence(shared_doc):
    """Footnotes (small type below the body text) become paragraphs of their own, placed where no
    sentence runs across them."""
    text = shared_doc("iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf").text
    assert "Those returnees considered to be most vulnerable are unattended children" in " ".join(text.split())
    assert "\n\n269 Multiple FGDs with returnees in Somalia, Sudan and Ethiopia." in text
    notice = shared_doc("eu-commission-notice-free-movement-guidance-2023.pdf").text
    assert "\n\n(72) C-200/02, Zhu and Chen, ECLI:EU:C:2004:639, paragraph 20 and case law cited." in notice


def test_a_table_of_contents_with_wrapped_entries_is_dropped(shared_doc):
    doc = shared_doc("bmwk-fast-track-procedure-skilled-workers-2024.pdf")
    labels = [s.label for s in doc.sections]
    # each question is a section once, where its answer is, not also where the contents list it
    assert sum(label.startswith("5. Which documents are required") for label in labels) == 1
    assert "Contents" not in doc.text[:2000]


@pytest.mark.parametrize("name", ["eu-commission-notice-free-movement-guidance-2023.pdf", "iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf"])
def test_contents_pages_leave_no_sections_behind(name, shared_doc):
    """Entries whose dot leaders extraction lost ("... objectives? . 83") go with their contents page."""
    doc = shared_doc(name)
    first_pages = {doc.page_at(s.start) for s in doc.sections[1:4]}
    assert min(first_pages) >= 4, [(s.label, doc.page_at(s.start)) for s in doc.sections[:4]]


def test_the_evaluation_matrix_is_told_from_answers_under_question_headings(shared_doc, embedder):
    """The final evaluation's annex tables of evaluation questions (from p. 112) ask rather than
    answer; the brochure's and the report's body text under question headings does not."""
    from retrieval.ask.sentence_signals import is_questionnaire, may_answer_nothing
    from retrieval.text.chunking import split_sentences

    def asking(name):
        _, chunks = shared_doc(name, embedder)
        return [c for c in chunks if is_questionnaire(c.section, [c.text[s:e] for s, e in split_sentences(c.text)])]

    matrix = asking("iom-eu-ji-horn-of-africa-final-evaluation-2023.pdf")
    assert len(matrix) >= 20
    assert all(c.page_start >= 112 for c in matrix), [(c.page_start, c.section) for c in matrix if c.page_start < 112]
    assert all(may_answer_nothing(c.text) for c in matrix)
    assert asking("bmwk-fast-track-procedure-skilled-workers-2024.pdf") == []


def test_reference_lists_are_told_from_body_text(shared_doc, embedder):
    """The Regulation's references to the Official Journal answer nothing; its articles, the one on
    when it applies among them, do."""
    from retrieval.ask.sentence_signals import is_reference_list, may_answer_nothing
    from retrieval.text.chunking import split_sentences

    _, chunks = shared_doc("eu-regulation-2024-1347-qualification-international-protection.pdf", embedder)
    refs = [c for c in chunks if is_reference_list([c.text[s:e] for s, e in split_sentences(c.text)])]
    assert any("(OJ L" in c.text for c in refs)
    assert all("This Regulation shall apply from 1 July 2026" not in c.text for c in refs)
    assert len(refs) <= 0.1 * len(chunks)
    assert all(may_answer_nothing(c.text) for c in refs)  # search's quick test lets every one through


def test_refugee_convention_small_caps_residue_written_plainly(embedder):
    """Issue 29, item 15: a small-capitals font (its name ends "-SC700") gave "The ConferenCe" and
    "the StAteS pArtieS to the preSent protocol" in passages. Read from corpus/ (no shared folder
    needed), every word of such a font comes out plainly, in the passages too."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "corpus" / "unhcr-1951-convention-1967-protocol-status-of-refugees.pdf"
    doc = load_document(path)
    for residue in ("ConferenCe", "StAteS", "pArtieS", "preSent", "ConTraCTing", "parTies"):
        assert residue not in doc.text, residue
    assert "The Conference, having considered the draft Protocol" in doc.text
    assert "the States parties to the present protocol, considering" in doc.text
    assert "The high Contracting parties, considering" in doc.text
    chunks = chunk_document(doc, embedder.count_tokens, MAX_TOKENS, OVERLAP)
    assert not [c.chunk_id for c in chunks if re.search(r"\b(ConferenCe|StAteS|pArtieS)\b", c.text)]
    # words that are mixed case on purpose, in ordinary fonts, stay as written
    uk = load_document(path.parent / "uk-home-office-sponsor-a-skilled-worker-guidance-2025.pdf")
    assert "CoS" in uk.text and "PhD" in uk.text


def test_bmwk_running_section_heads_with_page_numbers_removed(shared_doc, embedder):
    """Issue 29, item 15: "10 6.  WHAT DO EMPLOYERS HAVE TO DO UNDER THE FAST-TRACK PROCEDURE FOR
    SKILLED WORKERS?" (the page number and the section's title in capitals, over the section's
    second page) was read into the passages. Gone, and the sections themselves stay."""
    doc, chunks = shared_doc("bmwk-fast-track-procedure-skilled-workers-2024.pdf", embedder)
    for head in ("WHAT DO EMPLOYERS HAVE TO DO", "WHICH DOCUMENTS ARE REQUIRED"):
        assert head not in doc.text and not [c.chunk_id for c in chunks if head in c.text]
    labels = [s.label for s in doc.sections]
    assert "5. Which documents are required to use the fast-track procedure for skilled workers?" in labels
    assert "6. What do employers have to do under the fast-track procedure for skilled workers?" in labels


def test_a_numbered_heading_in_capitals_is_only_a_running_head_when_its_section_is_elsewhere():
    from retrieval.text.cleaning import strip_section_heads

    pages = [
        ["3", "6. What do employers have to do", "under the procedure?", "Body text of the section."],
        ["4 6. WHAT DO EMPLOYERS HAVE TO DO UNDER THE PROCEDURE?", "More body text.", "5"],
        ["12 3. SCOPE AND DEFINITIONS OF TERMS", "The scope of this guide is narrow."],  # said nowhere else: a heading
        ["Body text that goes on.", "7. WHAT DO EMPLOYERS HAVE TO DO UNDER THE PROCEDURE? 8"],
    ]
    out = strip_section_heads(pages)
    assert out[0] == pages[0] and out[1] == ["More body text.", "5"] and out[2] == pages[2]
    assert out[3] == pages[3]  # another section's number: "7." is not "6."
