"""Loading PDFs made here with known text per page, and the pure repairs behind it.

The PDFs are written with fpdf2, so every line end, running header and footer is known: the tests
check that pages, sections, hyphenation and furniture come out of the real pypdf-based loader as the
source says.
"""

from __future__ import annotations

import re

import pytest

from retrieval import DocumentError, chunk_document, load_document
from retrieval.text import cleaning
from retrieval.text.chunking import split_sentences
from retrieval.text.sections import Heading, SectionTracker, back_matter_heading, heading_number, legal_heading, numbered_heading

HEADER = "Journal of Migration Policy"

REPORT_PAGES = [
    [
        "1. Introduction",
        "This report examines how host countries support the integra-",
        "tion of migrants in the labour market and in schools.",
        "Third-country nationals face particular barriers in access to work.",
        "The first page ends with this sentence about language courses.",
    ],
    [
        "2. Access to rights",
        "2.1 Labour market access",
        "Work permits for third-",
        "country nationals are issued by the regional labour office.",
        "Employers report that recognition of diplomas takes many months.",
    ],
    [
        "2.2 Housing",
        "Municipal housing offices allocate flats to recognised refugees.",
        "Emergency shelters in the capital are often full during the",
    ],
    [
        "winter months, so cities open additional temporary beds.",
        "3. Conclusions",
        "Local authorities need stable funding for integration services.",
    ],
]

#: a sentence from each page, as it must read in the cleaned text
SENTENCE_ON_PAGE = {
    1: "The first page ends with this sentence about language courses.",
    2: "Employers report that recognition of diplomas takes many months.",
    3: "Municipal housing offices allocate flats to recognised refugees.",
    4: "Local authorities need stable funding for integration services.",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory, pdf_factory):
    path = pdf_factory(tmp_path_factory.mktemp("pdf") / "migration-report.pdf", REPORT_PAGES, header=HEADER)
    return load_document(path)


def section_of(doc, offset):
    matches = [s for s in doc.sections if s.start <= offset < s.end]
    assert len(matches) == 1, f"offset {offset} lies in {len(matches)} sections"
    return matches[0]


# --------------------------------------------------------------------------- the loaded PDF


def test_pages_counted_and_kind(report):
    assert report.kind == "pdf"
    assert report.pages == 4
    assert [page for page, _ in report.page_starts] == [1, 2, 3, 4]
    assert report.doc_id == "migration-report.pdf"
    assert len(report.sha256) == 64


@pytest.mark.parametrize("page", sorted(SENTENCE_ON_PAGE))
def test_page_at_finds_the_page_of_a_sentence(report, page):
    sentence = SENTENCE_ON_PAGE[page]
    offset = report.text.index(sentence)
    assert report.page_at(offset) == page
    assert report.page_at(offset + len(sentence) - 1) == page


def test_paragraph_continued_on_next_page_keeps_both_pages(report):
    # one paragraph starts at the bottom of page 3 and ends at the top of page 4
    joined = "Emergency shelters in the capital are often full during the winter months, so cities open additional temporary beds."
    offset = report.text.index(joined)
    assert report.page_at(offset) == 3
    assert report.page_at(offset + joined.index("winter")) == 4


def test_running_header_and_page_footer_removed(report):
    assert HEADER not in report.text
    assert "Journal" not in report.text
    assert not re.search(r"Page \d+ of \d+", report.text)
    assert not re.search(r"(?m)^\s*\d+\s*$", report.text), "a bare page number survived"


def test_typographic_hyphenation_joined(report):
    assert "support the integration of migrants" in report.text
    assert "integra-" not in report.text
    assert "integra " not in report.text


def test_hyphenated_compound_keeps_its_hyphen_across_a_line_end(report):
    # the document spells "Third-country" with a hyphen elsewhere, so the line-end hyphen is kept
    assert "Work permits for third-country nationals are issued" in report.text
    assert "thirdcountry" not in report.text.lower()


def test_numbered_headings_give_section_paths(report):
    labels = [s.label for s in report.sections]
    assert labels == [
        "1. Introduction",
        "2. Access to rights > 2.1 Labour market access",
        "2. Access to rights > 2.2 Housing",
        "3. Conclusions",
    ]
    work = report.text.index("Work permits")
    assert section_of(report, work).path == ("2. Access to rights", "2.1 Labour market access")
    shelters = report.text.index("winter months")
    assert section_of(report, shelters).path == ("2. Access to rights", "2.2 Housing")


def test_chunks_carry_section_and_page(report, embedder):
    chunks = chunk_document(report, embedder.count_tokens, 200, 40)
    work = next(c for c in chunks if "Work permits" in c.text)
    assert work.section == "2. Access to rights > 2.1 Labour market access"
    assert (work.page_start, work.page_end) == (2, 2)
    assert work.pages_label == "p. 2"
    housing = next(c for c in chunks if "Municipal housing" in c.text)
    assert (housing.page_start, housing.page_end) == (3, 4)
    assert housing.pages_label == "pp. 3\u20134"
    for chunk in chunks:
        assert chunk.text and chunk.text == report.text[chunk.start : chunk.end]


def test_title_from_pdf_metadata_then_catalogue(tmp_path, pdf_factory):
    path = pdf_factory(tmp_path / "titled.pdf", REPORT_PAGES, title="Integration Outcomes Report")
    assert load_document(path).title == "Integration Outcomes Report"
    catalogue = {"titled.pdf": {"title": "Catalogued title", "year": 2021, "author": "A. Author"}}
    doc = load_document(path, catalogue)
    assert (doc.title, doc.year, doc.author) == ("Catalogued title", "2021", "A. Author")


def test_numbered_paragraphs_inside_an_article_are_not_headings(tmp_path, pdf_factory):
    pages = [
        [
            "CHAPTER II",
            "GENERAL PRINCIPLES AND SAFEGUARDS",
            "Article 3",
            "Access to the procedure",
            "1. Member States shall examine any application for international",
            "protection by a third-country national on their territory.",
            "2. Where no Member State responsible can be designated on the basis",
            "Member State with which the application was lodged shall examine it.",
        ],
        [
            "Article 4",
            "Right to information for applicants for",
            "international protection",
            "1. As soon as an application is lodged the applicant shall be informed.",
            "2. The information shall be provided in writing in a language the applicant understands.",
        ],
        [
            "CHAPTER III",
            "CRITERIA FOR DETERMINING THE MEMBER STATE RESPONSIBLE",
            "Article 7",
            "Hierarchy of criteria",
            "The criteria shall be applied in the order in which they are set out.",
        ],
    ]
    doc = load_document(pdf_factory(tmp_path / "regulation.pdf", pages, header="Official Journal of the European Union"))
    assert [s.path for s in doc.sections] == [
        ("CHAPTER II GENERAL PRINCIPLES AND SAFEGUARDS", "Article 3 Access to the procedure"),
        ("CHAPTER II GENERAL PRINCIPLES AND SAFEGUARDS", "Article 4 Right to information for applicants for international protection"),
        ("CHAPTER III CRITERIA FOR DETERMINING THE MEMBER STATE RESPONSIBLE", "Article 7 Hierarchy of criteria"),
    ]
    # the numbered paragraph is body text of Article 3, indexed with it
    offset = doc.text.index("2. Where no Member State responsible")
    assert section_of(doc, offset).label.endswith("Article 3 Access to the procedure")
    assert "Official Journal" not in doc.text
    # the wrapped title's second line is part of the heading, not the start of the article's text
    article_4 = doc.sections[1]
    assert doc.text[article_4.start : article_4.end].startswith("1. As soon as an application is lodged")


def test_markdown_and_text_have_no_pages(tmp_path):
    md = tmp_path / "note.md"
    md.write_text("# 1. Scope\n\nThis note covers the reception of asylum seekers in detail.\n\n## 1.1 Housing\n\nHousing is provided by the municipalities of the region.\n", encoding="utf-8")
    doc = load_document(md)
    assert doc.kind == "markdown" and doc.pages == 0 and doc.page_starts == ()
    assert doc.page_at(5) is None
    assert [s.label for s in doc.sections] == ["1. Scope", "1. Scope > 1.1 Housing"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"  \n\n ", "empty file"),
        ("random.pdf", b"\x8f\x01garbage" * 200, "not a PDF"),
        ("truncated.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "unreadable PDF"),
        ("letter.docx", b"PK\x03\x04 some zip content here", "unsupported file type '.docx'"),
        ("binary.txt", b"text with a \x00 null byte inside, long enough", "binary content"),
        ("short.md", b"# Hi\n\nok", "no text content"),
    ],
)
def test_unloadable_files_raise_document_error_with_a_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=re.escape(reason)):
        load_document(path)


def test_pdf_without_text_is_reported_as_scanned(tmp_path, pdf_factory):
    path = pdf_factory(tmp_path / "scan.pdf", [[], [], []], header=None, footer=False)
    with pytest.raises(DocumentError, match="no extractable text"):
        load_document(path)


# --------------------------------------------------------------------------- cleaning: hyphenation


@pytest.mark.parametrize(
    ("left", "right", "vocabulary", "expected"),
    [
        # typographic hyphenation: the next line goes on in lower case
        ("the integra-", "tion of migrants", set(), ("the integration of migrants", True)),
        # the document spells the compound with a hyphen elsewhere, never whole
        ("for third-", "country nationals", {"third-country"}, ("for third-country nationals", False)),
        # the document spells the word whole elsewhere
        ("the identifi-", "cation of needs", {"identification"}, ("the identification of needs", True)),
        # capitalised continuation, unknown word: a real hyphen
        ("the Euro-", "Mediterranean area", set(), ("the Euro-Mediterranean area", False)),
        # a soft hyphen is always dropped
        ("free movement is guar \u00ad", "anteed", set(), ("free movement is guaranteed", True)),
        # numbers are not words: ranges stay as they are
        ("in 2013-", "2015 the", set(), ("in 2013-2015 the", False)),
    ],
)
def test_join_hyphenated(left, right, vocabulary, expected):
    assert cleaning.join_hyphenated(left, right, vocabulary) == expected


def test_document_vocabulary_keeps_compounds_whole():
    vocab = cleaning.document_vocabulary(["Third-country nationals and self-employed persons", "identi\u00adfication"])
    assert {"third-country", "self-employed", "nationals", "identification"} <= vocab
    assert "third" not in vocab


def test_normalise_characters():
    text = "e\ufb03cient \ufb01nal\u00a0step\tand \uf0b7 bullet\x07"
    assert cleaning.normalise_characters(text) == "efficient final step and \u2022 bullet"


# --------------------------------------------------------------------------- cleaning: page furniture


def _page(n: int, total: int, body: list[str]) -> list[str]:
    return [HEADER, *body, f"Page {n} of {total}"]


BODY = [f"Body line {i} about the reception of applicants." for i in range(10)]


def test_find_furniture_finds_repeating_header_and_footer():
    # body lines differ by more than their digits, so only the header and footer repeat
    pages = [_page(n, 5, [f"Paragraph {'abcdefghij'[i]}{'vwxyz'[n - 1]} says something different." for i in range(10)]) for n in range(1, 6)]
    assert cleaning.find_furniture(pages) == {"journal of migration policy", "page # of #"}


def test_find_furniture_needs_three_pages_and_enough_repeats():
    two = [_page(n, 2, BODY) for n in (1, 2)]
    assert cleaning.find_furniture(two) == set()
    # a line at the top of only one page in five is not furniture
    pages = [[f"Unique opening line {n} of the page", *BODY[n:]] for n in range(5)]
    pages[0].insert(0, "Published by the Ministry")
    assert "published by the ministry" not in cleaning.find_furniture(pages)


def test_structure_lines_are_never_furniture():
    pages = [["Article 12", f"Text of page {n} about rights.", *BODY] for n in range(6)]
    assert "article #" not in cleaning.find_furniture(pages)


def test_footer_above_footnotes_is_found_and_stripped():
    footer = "EN L 180/{} Official Journal of the European Union 29.6.2013"
    footnotes = [f"( {i} ) OJ L {100 + i}, 1.1.2003, p. {i}." for i in range(1, 7)]
    pages = []
    for n in range(1, 7):
        body = [f"Recital {'abcdefgh'[i]}{'uvwxyz'[n - 1]}: Member States should cooperate closely." for i in range(8)]
        # on even pages the footer sits above six footnote lines, far from the page's bottom edge
        pages.append(body + [footer.format(30 + n)] + (footnotes if n % 2 == 0 else []))
    furniture = cleaning.find_furniture(pages)
    assert "en l #/# official journal of the european union #.#.#" in furniture
    for lines in pages:
        kept = cleaning.strip_furniture(lines, furniture)
        assert not any("Official Journal" in line for line in kept)
        assert [line for line in kept if line.startswith("Recital")] == [line for line in lines if line.startswith("Recital")]


def test_repeated_table_labels_inside_pages_are_not_furniture():
    pages = []
    for n in range(1, 6):
        body = [f"Recommendation {n} text line {i}" for i in range(6)]
        pages.append(body[:5] + ["Priority level (1 to 3):", str(n % 3 + 1)] + body[5:] + [f"More text {n}" for n in range(5)])
    assert "priority level (# to #):" not in cleaning.find_furniture(pages)


def test_strip_furniture_only_near_the_edges():
    middle = BODY[:5] + ["42"] + BODY[5:]
    lines = [HEADER, "12", *middle, "Page 3 of 9", "7"]
    kept = cleaning.strip_furniture(lines, {"journal of migration policy", "page # of #"})
    assert kept == middle  # the bare "42" in the middle of the page is a table cell: kept
    # a short furniture key is stripped at the edges only
    lines = ["Contents", *BODY[:5], "Contents", *BODY[5:], "Contents"]
    assert cleaning.strip_furniture(lines, {"contents"}) == [*BODY[:5], "Contents", *BODY[5:]]


def test_toc_lines():
    assert cleaning.is_toc_line("2.1 Labour market access ........................ 12")
    assert cleaning.is_toc_line("Housing \u2026\u2026\u2026 7")
    assert not cleaning.is_toc_line("The office opens at 9. Applicants wait 12")


# --------------------------------------------------------------------------- sentences


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_sentences_plain():
    assert sentences("Migrants need housing. They also need work! Do they get it? Often not at all.") == [
        "Migrants need housing.",
        "They also need work!",
        "Do they get it?",
        "Often not at all.",
    ]


def test_split_sentences_abbreviations_do_not_split():
    text = "Member States shall apply Art. 3 of the Directive. Other rules apply, e.g. the Dublin rules. Some countries, e.g. Germany and Italy, do this. See K. Strauss et al. 2010 for details."
    assert sentences(text) == [
        "Member States shall apply Art. 3 of the Directive.",
        "Other rules apply, e.g. the Dublin rules.",
        "Some countries, e.g. Germany and Italy, do this.",
        "See K. Strauss et al. 2010 for details.",
    ]


def test_split_sentences_keeps_a_paragraph_number_with_its_sentence():
    assert sentences("SK1.8. You must check that the worker is eligible. The worker must then apply for a visa.") == [
        "SK1.8. You must check that the worker is eligible.",
        "The worker must then apply for a visa.",
    ]
    assert sentences("1. The applicant shall be informed. 2. The information shall be in writing.") == [
        "1. The applicant shall be informed.",
        "2. The information shall be in writing.",
    ]


def test_split_sentences_paragraph_breaks_always_split():
    assert sentences("A heading without a full stop\n\nThe body of the section follows here.") == [
        "A heading without a full stop",
        "The body of the section follows here.",
    ]


def test_split_sentences_offsets_are_absolute_and_trimmed():
    text = "Ignored prefix. First real sentence here.  Second real sentence here.  Ignored suffix."
    start = text.index("First")
    end = text.index("Ignored suffix")
    spans = split_sentences(text, start, end)
    assert [text[s:e] for s, e in spans] == ["First real sentence here.", "Second real sentence here."]
    assert spans[0][0] == start


# --------------------------------------------------------------------------- headings and nesting


def test_numbered_heading_recognition():
    assert numbered_heading("4.2 Pre-departure role") == Heading("4.2 Pre-departure role", 2)
    assert numbered_heading("SK3. Immigration requirements for Skilled Workers") == Heading("SK3. Immigration requirements for Skilled Workers", 1)
    assert numbered_heading("2. The applicant shall be informed.") is None  # a numbered sentence
    assert numbered_heading("2. Where no Member State responsible can be designated on the") is None  # dangling stopword
    assert numbered_heading("4.2 Pre-departure role", next_line="continues in lower case") is None
    assert numbered_heading("2013/32/EU Directive on procedures") is None


def test_legal_heading_recognition():
    assert legal_heading("Article 30 Access to procedures") == ("Article 30", "Access to procedures")
    assert legal_heading("CHAPTER II") == ("CHAPTER II", "")
    assert legal_heading("Article 11 of Regulation (EU) No 604/2013") is None  # a reference, not a heading
    assert legal_heading("Chapter 2 of this report") is None


def test_back_matter_heading_recognition():
    assert back_matter_heading("References") == Heading("References", 1)
    assert back_matter_heading("Bibliography:") == Heading("Bibliography", 1)
    assert back_matter_heading("Annex 1: Standard Operating Procedures Reviewed") == Heading("Annex 1: Standard Operating Procedures Reviewed", 1)
    assert back_matter_heading("Annex 4. Assessment of indicators") == Heading("Annex 4. Assessment of indicators", 1)
    assert back_matter_heading("Appendix B") == Heading("Appendix B", 1)
    assert back_matter_heading("Annex 2 of the Regulation lists the documents required") is None  # a sentence
    assert back_matter_heading("Annex 3: Forms to be completed by the") is None  # a wrapped sentence
    assert back_matter_heading("References to Member States include Denmark.") is None
    assert back_matter_heading("Sources") is None  # "Sources" alone heads a table's notes as often as a list of works


def test_a_report_s_references_and_annexes_are_sections_of_their_own(tmp_path, pdf_factory):
    """An unnumbered "References" line ends the conclusion: the works cited are a section of their
    own, not the conclusion's text ("References Forchuk, C., ... (2002). Mental health care
    management in Canada ..." was quoted as an answer), and an annex ends the list."""
    pages = [
        [
            "10 Conclusion",
            "Caseworkers need training and supervision to manage complex cases.",
            "References",
            "Forchuk, C., Ouwerkerk, A., Yamashita, M., & Martin, M.-L. (2002). Mental health care",
            "management in Canada: Job Description Analyses. Issues in Mental Health Nursing, 23(5), 477-496.",
            "Annex 1: Standard Operating Procedures Reviewed",
            "Djibouti: standard operating procedures for assisted voluntary return.",
        ]
    ]
    doc = load_document(pdf_factory(tmp_path / "study.pdf", pages))
    sections = [s for s in doc.sections if s.label]  # the page's running header before the first heading has none
    assert [s.label for s in sections] == ["10 Conclusion", "References", "Annex 1: Standard Operating Procedures Reviewed"]
    conclusion, cited, _ = sections
    assert doc.text[cited.start : cited.end].startswith("Forchuk, C.")
    assert "References" not in doc.text[conclusion.start : conclusion.end]


def test_heading_number():
    assert heading_number("4.2 Pre-departure role") == (4, 2)
    assert heading_number("7.1.3. To what extent") == (7, 1, 3)
    assert heading_number("Article 3 Definitions") is None


def test_section_tracker_nests_by_numbering():
    tracker = SectionTracker()
    assert tracker.push(Heading("4. The role of the country of origin", 1)) == ("4. The role of the country of origin",)
    assert tracker.push(Heading("4.2 Pre-departure role", 2)) == ("4. The role of the country of origin", "4.2 Pre-departure role")
    assert tracker.push(Heading("5. Dimensions", 1)) == ("5. Dimensions",)
    # an evaluation question "1.6." is not a subsection of "10. Recommendations"
    tracker.push(Heading("10. Recommendations", 1))
    assert tracker.push(Heading("1.6. To what extent were needs identified?", 2)) == ("1.6. To what extent were needs identified?",)
    # legal ranks: CHAPTER (1) > SECTION (2) > Article (3)
    tracker = SectionTracker()
    tracker.push(Heading("CHAPTER VII CONTENT", 1))
    tracker.push(Heading("SECTION III Rights related to integration", 2))
    assert tracker.push(Heading("Article 30 Access", 3)) == ("CHAPTER VII CONTENT", "SECTION III Rights related to integration", "Article 30 Access")
    assert tracker.push(Heading("CHAPTER VIII COOPERATION", 1)) == ("CHAPTER VIII COOPERATION",)


def test_drop_caps_and_unmapped_ligatures_are_repaired():
    from retrieval.text import cleaning

    vocabulary = {"the", "he", "has", "for", "where", "here", "letter", "a"}
    assert cleaning.repair_drop_cap("2. T he Contracting States", vocabulary) == "2. The Contracting States"
    assert cleaning.repair_drop_cap("(1) H as been considered", vocabulary) == "(1) Has been considered"
    assert cleaning.repair_drop_cap("A. F or the purposes", vocabulary) == "A. For the purposes"
    assert cleaning.repair_drop_cap("W here a refugee", vocabulary) == "Where a refugee"
    assert cleaning.repair_drop_cap("A letter from the employer", vocabulary) == "A letter from the employer"
    assert cleaning.repair_drop_cap("Member State B and C", vocabulary) == "Member State B and C"
    assert cleaning.repair_drop_cap("(1) E nsuring that the unity", vocabulary) == "(1) Ensuring that the unity"  # "nsuring" is no word
    assert cleaning.repair_drop_cap("III. W ith respect to", vocabulary | {"with"}) == "III. With respect to"
    assert cleaning.repair_drop_cap("(2) B and C agree", vocabulary | {"and"}) == "(2) B and C agree"
    assert cleaning.repair_drop_cap("L series 2024/1347", vocabulary) == "L series 2024/1347"  # no paragraph number
    assert cleaning.normalise_characters("of/f_icial and quali/f_ied") == "official and qualified"


def test_footnote_numbers_glued_to_words_are_taken_off():
    """A superscript footnote number extracted glued to the word or punctuation before it is a
    reference, when the page has a footnote with that number; codes and figures keep their digits."""
    from retrieval.text.cleaning import strip_note_markers

    notes = {96, 97, 350, 233, 3, 20, 2, 19}
    assert strip_note_markers("lacked emphasis on climate change96. Under the current", notes) == "lacked emphasis on climate change. Under the current"
    assert strip_note_markers("services in Obock,350 and were", notes) == "services in Obock, and were"
    assert strip_note_markers("in a FGD in Sudan.233 A FGD with", notes) == "in a FGD in Sudan. A FGD with"
    for kept in ("SK3. Immigration", "the G20 summit", "CO2 emissions", "COVID-19 pandemic", "1,350 migrants", "see p.233 and", "Article 3(2)", "in 2019 and 3 more"):
        assert strip_note_markers(kept, notes) == kept
    assert strip_note_markers("climate change96.", {12}) == "climate change96."  # no footnote 96 on the page


def test_footnotes_are_found_above_a_page_number_set_in_body_type():
    """Footnotes sit below every line of body text; the page's number, set in body type under them,
    is not body text ("14" at the foot of the case management study's pages hid all its footnotes)."""
    from retrieval.text.pdf import footnote_lines

    body = [(12.0, 700.0 - 18 * i, f"Body text line {i} of the page, set in the document's body type.") for i in range(30)]
    page = body + [(9.9, 104.0, "3 In this report, pre-return is considered as the host country"), (12.0, 39.0, "14")]
    notes = footnote_lines([page])[0]
    assert "3inthisreportprereturnisconsideredasthehostcountry" in notes
    below_body = body + [(9.9, 104.0, "3 In this report, pre-return is considered as the host country"), (12.0, 39.0, "A closing sentence in body type.")]
    assert footnote_lines([below_body])[0] == set()  # small type above body text is no footnote


def test_a_numbered_list_is_not_read_as_headings():
    """"1. Enhance efforts ..." straight before "2. Strengthen ..." (and "3. ..." right after "2.") is a
    numbered list: its items stay text, where search finds them, and a real heading keeps its number."""
    from retrieval.text.pdf import pdf_blocks

    page = [
        "KEY RECOMMENDATIONS",
        "1. Enhance efforts with national, regional, and local stake-",
        "holders to build capacity and ownership",
        "2. Strengthen community-based reintegration efforts.",
        "3. Explore opportunities to extend the scope of support",
        "4 Findings",
        "The programme met most of its targets by the end of the implementation period.",
    ]
    blocks = pdf_blocks(["\n".join(page)])
    headings = [b.text for b in blocks if b.kind == "heading"]
    assert headings == ["4 Findings"], headings
    text = " ".join(b.text for b in blocks)
    assert "1. Enhance efforts with national, regional, and local stakeholders to build capacity and ownership" in text
    assert "3. Explore opportunities to extend the scope of support" in text


def test_a_markdown_bulleted_list_is_one_paragraph_per_item():
    """A Markdown "- item" list is read as a PDF's list is: each item its own paragraph and sentence
    (an item's continuation line joined to it, nested items apart), the lead sentence before it
    apart, so one item can be quoted and a lead ending in ':' brings its items."""
    from retrieval.text.markdown import markdown_blocks

    text = (
        "The meeting will discuss the following **questions**:\n\n"
        "- Integration vs. reintegration and their similarities\n"
        "- Measurement of (re)integration and development\n  of related indicators\n"
        "  - Nested: local indicators\n"
        "- Good practices in integration\n\n"
        "- A paragraph of one item stays as it was\n"
    )
    blocks = [b.text for b in markdown_blocks(text)]
    assert blocks == [
        "The meeting will discuss the following questions:",
        "- Integration vs. reintegration and their similarities",
        "- Measurement of (re)integration and development of related indicators",
        "- Nested: local indicators",
        "- Good practices in integration",
        "- A paragraph of one item stays as it was",
    ], blocks
    body = "\n\n".join(blocks)
    sentences = [body[s:e] for s, e in split_sentences(body)]
    assert "- Integration vs. reintegration and their similarities" in sentences
    assert markdown_blocks("- not a list in plain text\n- second line", markdown=False)[0].text == "- not a list in plain text - second line"


def test_text_after_a_table_s_last_row_of_figures_starts_a_paragraph():
    """"Total 19 25 26 ... 154" has no full stop, yet the sentence after it is not part of the table."""
    from retrieval.text.pdf import pdf_blocks

    page = [
        "Table 1: Overview of the interviews conducted in each mission",
        "Project Manager 1 1 1 1 6",
        "Total   19 25 26 12 13 24 11 12 12 154",
        "An online survey was developed in KoBo Toolbox and distributed to IOM caseworker staff in",
        "the nine target missions of the research.",
    ]
    texts = [b.text for b in pdf_blocks(["\n".join(page)])]
    assert "An online survey was developed in KoBo Toolbox and distributed to IOM caseworker staff in the nine target missions of the research." in texts, texts
