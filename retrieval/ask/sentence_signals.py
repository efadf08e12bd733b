"""What a sentence offers as an answer: whether it is quotable at all, what kind of answer a question
expects (an amount, a count, a date, a duration, the names of countries, of organisations or people), whether a sentence holds one, and how much of a
sentence only says again what the question says.

Pure functions on strings, so each rule is testable on its own; `answer.Answerer` weighs them.
"""

from __future__ import annotations

import functools
import re

from retrieval.ask.question_signals import key_names, same_stem
from retrieval.text.sections import heads_cited_works

# --------------------------------------------------------------------------- quotable sentences

_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
#: "246 Hall, S. & IOM (2017) ...", "(72) C-200/02, Zhu and Chen, ECLI:EU:C:2004:639": a footnote
_FOOTNOTE = re.compile(r"^(\(\d{1,3}\)|\d{1,3})\s+(?=\S)(?=.*(\(\d{4}\)|\d{4}\.|ECLI|OJ [LC]|[Ii]bid|[Ss]ee |p\. \d|C-\d+/\d+|Interview|FGD|[Ss]urvey))")
_CAPTION = re.compile(r"^(figure|table|chart|graph|box|source|note)s?\s*[\d.:]", re.IGNORECASE)
_CITATION = re.compile(r"ECLI:|\bOJ [LC] \d|\bC-\d{1,3}/\d{2}\b")
#: a cross-reference: "See also C-292/89, Antonissen ...", "See section SK6 for further information.",
#: "(See Finding 3 and 7)": it sends the reader elsewhere and answers nothing itself
_CROSS_REFERENCE = re.compile(r"^\(?See\b")
#: an act's signature block: "For the European Parliament The President R. METSOLA For the Council ..."
_SIGNATURE = re.compile(r"\bFor the (European Parliament|Council|Commission)\s+The President\b|\bThe President\s+(?:[A-Z]\.\s*)+[A-Z]{2,}")


def is_quotable(sentence: str) -> bool:
    """False for what should never be quoted as an answer: headings and questions, footnotes,
    figure and table captions, links, cross-references ("See section ..."), signature blocks, lines in
    capitals, digit soup from charts and tables."""
    text = " ".join(sentence.split())
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 15:
        return False
    if text.endswith("?") or not re.search(r"[.!:;)\u201d\"']$", text):
        return False  # a heading, a question heading ("How much do you have to pay a Skilled Worker?")
    if is_note(text) or _URL.search(text) or _CAPTION.match(text) or _SIGNATURE.search(text) or _CROSS_REFERENCE.match(text):
        return False
    if sum(c.isupper() for c in letters) > 0.6 * len(letters):
        return False
    if is_table_row(text):
        return False
    digits = sum(c.isdigit() for c in text)
    return digits <= 0.25 * len(text.replace(" ", ""))


#: three single digits or tick marks in a row: a grading scale's header ("ELEMENT 1 2 3 4 5") or a chart's
#: axis run into the text
_SCALE = re.compile(r"(?:^|\s)[\dX](?:\s+[\dX]){2,}(?=\s|$)")


def is_table_row(text: str) -> bool:
    """A table's or a chart's text read as a sentence: a scale of single digits, or cells ticked
    with "X" ("Performance towards Result 1.3   X Performance towards SO 1   X ...")."""
    return bool(_SCALE.search(text)) or text.split().count("X") >= 2


# --------------------------------------------------------------------------- list items

_LIST_ITEM = re.compile(r"^(?:(?P<number>\d{1,2}[.)])|(?P<letter>\(?[a-z]\))|(?P<bullet>[-\u2022\u2013\u2014]))\s")


def list_marker(sentence: str) -> str | None:
    """The kind of list item a sentence opens: "number" ("2. "), "letter" ("(b) ") or "bullet"; None
    for a sentence that is no list item. A list's items share one kind: "(d) the views of the minor"
    is followed by "4. For the purpose of ...", the next paragraph, not a fifth item."""
    m = _LIST_ITEM.match(sentence)
    return m.lastgroup if m else None


# --------------------------------------------------------------------------- expected answer kinds

#: a word that may stand between "what (is the)" and the amount asked for ("what is the maximum fee")
_LIMIT = r"((maximum|minimum|total|average|annual|monthly|current|exact|standard|overall|final|initial) )?"
#: how a question asks for a figure or a date; a word may stand before the count or share asked for
#: ("what response rate", "what is the maximum number"). A share is answered by a percentage or a
#: proportion, not by any number ("3." numbering a list, a note's number)
_KINDS = (
    ("duration", re.compile(r"\b(how much time|how long|how many (days|weeks|months|years|hours)|within what (period|time)|time limit|deadline|by when)\b", re.IGNORECASE)),
    ("amount", re.compile(r"\b(how much|what (is|are|was|were) the " + _LIMIT + r"(fee|fees|cost|costs|charge|salary|amount|budget)|what " + _LIMIT + r"(fee|salary|amount|sum|budget)|(fee|cost|charge|salary|amount|price) of|(total|overall) value|minimum salary|in euros|in pounds)\b", re.IGNORECASE)),
    ("date", re.compile(r"\b(when (was|were|did|does|will|is)|which year|what year|what date|since when|from what date|as of when)\b", re.IGNORECASE)),
    ("share", re.compile(r"\b(what ((is|was|are|were) the )?([a-z]+ )?(share|percentage|proportion|rate)|(what|how many) per ?cent)\b", re.IGNORECASE)),
    ("count", re.compile(r"\b(how many|what ((is|was|are|were) the )?([a-z]+ )?number)\b", re.IGNORECASE)),
    #: "which States still keep ...", "in which other Khartoum Process countries", "which country is
    #: cited": answered by naming countries ("which Member State is responsible", "which country
    #: should deal with his claim", "which country must examine it" are answered by a rule, not a
    #: name, and are not this kind). Only where the question asks it, not in a clause inside ("Can
    #: someone be detained while it is decided which EU country handles the claim?")
    #: "which regional organisations", "which intergovernmental body", "which regulator", "who devised":
    #: answered by naming an organisation or a person
    ("names", re.compile(r"(^|[.?!:;,]\s*)((in|on|from|for|to|with|by|of|at|under|and) )?(which|what)( of the)?( (?!(do|does|did|must|can|could|should|shall|may|might|will|would|are|is|were|was|have|has|had|the|a|an)\b)[\w-]+){0,3} (organi[sz]ations?|agenc(y|ies)|bod(y|ies)|institutions?|regulators?|authorit(y|ies)|networks?|units?|donors?|airlines?|compan(y|ies)|ministr(y|ies)|NGOs?|commissioners?|scholars?|instruments?)\b|(^|[.?!:;]\s*)who (\w+ed|wrote|led|ran|made|gave|founded|chaired|signed)\b", re.IGNORECASE)),
    ("countries", re.compile(r"(^|[.?!:;,]\s*)((in|on|from|for|to|with|by|of|at|under|beyond|between|and) )?(which|what)( of the)?( (?!(do|does|did|must|can|could|should|shall|may|might|will|would|are|is|were|was|have|has|had|the|a|an)\b)[\w-]+){0,3} (countries|country(?! (must|should|shall|has to|is responsible|takes responsib\w*|is to)\b)|states|nations)\b", re.IGNORECASE)),
)
#: what each kind is called when an answer says it lacks one
KIND_NAMES = {"amount": "an amount", "duration": "a time limit or duration", "date": "a date", "share": "a percentage or share", "count": "a number", "countries": "the names of countries", "names": "the names of organisations or people"}
_NUMBER_WORDS = r"(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundred|thousand|million|billion|half|a third|a quarter|a fifth)"
_MONTHS = r"(january|february|march|april|may|june|july|august|september|october|november|december)"
_HAS = {
    "amount": re.compile(r"[£€$]\s?\d|\d\s?(euro|eur|gbp|pounds?|dollars?|usd|birr)\b|\b(euro|eur|gbp)\s?\d|\bfree of charge\b|\bno fee\b|\bnot exceed(ing)?\b|\bno (more|higher) than\b", re.IGNORECASE),
    "duration": re.compile(r"\b(\d+|" + _NUMBER_WORDS + r")[\s-]+(calendar |working |consecutive )?(days?|weeks?|months?|years?|hours?)\b|\bwithout delay\b|\bimmediately\b", re.IGNORECASE),
    "date": re.compile(r"\b(1[89]|20)\d{2}\b|\b" + _MONTHS + r"\b", re.IGNORECASE),
    "share": re.compile(r"\d\s?(%|per ?cent\b|percent\b)|\b(half|a third|a quarter|a fifth|two thirds|three quarters|all|none|most|majority|minority)\b", re.IGNORECASE),
    "count": re.compile(r"\d|\b" + _NUMBER_WORDS + r"\b|\b(all|none|most|majority|minority)\b", re.IGNORECASE),
}


#: a number that counts nothing: a year, a reference ("Article 18", "section L6", "Regulation (EC) No
#: 343/2003", "SK13.1", a note's "(18)"), an ordinal ("60th"), a day of a date ("4 August 2020") or a
#: list item's number ("2. After a period ..."). A range counts nothing either: "12-13 Dec ember 2001"
#: (a letter-spaced date) outweighs "6-8 individuals per focus group"
_NOT_A_COUNT = re.compile(
    r"(?<![\d.,])(1[89]|20)\d{2}(?!\d|,\d)"
    r"|\b(article|articles|art\.|paragraph|paragraphs|para\.|point|section|part|no\.?|annex|chapter|title|page|p\.|pp\.|"
    r"regulation|directive|recommendation|resolution|decision|table|figure|box|pillar|result|outcome|level|phase|step|priority|case|c-)\s*\(?\d[\w.()/-]*"
    r"|[A-Z]{1,3}\d+(\.\d+)*"
    r"|\(\s*\d{1,3}\s*\)"
    r"|\d+(st|nd|rd|th)\b"
    r"|\d+[/-]\d+"
    r"|\b\d{1,2}\s+" + _MONTHS + r"\b"
    r"|^\s*\d{1,2}[.)]\s",
    re.IGNORECASE,
)


#: names of countries as documents write them that ISO 3166's names and common names miss
_COUNTRY_ALIASES = ("UK", "Britain", "Great Britain", "Russia", "Turkey", "Türkiye", "Vietnam", "Laos", "Ivory Coast", "Kosovo", "Palestine", "USA", "Czech Republic")


@functools.cache
def _country_pattern() -> re.Pattern:
    """Country names (ISO 3166 names and common names from pycountry, "Iran, Islamic Republic of" as
    "Iran", plus `_COUNTRY_ALIASES`), longest first, as whole words with their capitals."""
    import pycountry

    names = set(_COUNTRY_ALIASES)
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", None)):
            if name:
                names.add(name.split(",")[0].split(" (")[0])
    # "Lake Chad" is a region: the countries around it are named elsewhere, if at all
    return re.compile(r"(?<!Lake )\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")


def expected_kind(question: str) -> str | None:
    """The kind of answer a question asks for: "amount", "duration", "date", "share" (a rate, a
    percentage), "count", "names" (which organisation, body, regulator; who wrote), "countries" (which
    countries or States) or None."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def holds_kind(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether a sentence holds an answer of that kind that the question does not already give
    ("after 3 years" does not answer "what happens after 3 years?")."""
    if kind is None:
        return True
    if kind == "names":
        return bool(new_names(sentence, question))
    if kind == "count":
        sentence = _NOT_A_COUNT.sub(" ", sentence)
        counted = counted_words(question)
        if counted:
            return counts_what_is_asked(sentence, counted, question)
    has = _country_pattern() if kind == "countries" else _HAS[kind]
    asked = {m.group(0).lower() for m in has.finditer(question)}
    return any(m.group(0).lower() not in asked for m in has.finditer(sentence))


#: capitalised words that name no organisation or person: a reference's or a document part's
_NOT_A_NAME = frozenset(
    "article articles member state states directive regulation section annex paragraph chapter title part figure table "
    "page question recommendation convention protocol i ii iii iv v vi vii viii ix x".split()
)


def new_names(sentence: str, question: str) -> list[str]:
    """The names in a sentence (capitalised words not opening it, acronyms: `question_signals.key_names`)
    that the question does not already have, each as its key words ("Council Europe", "African Union"
    for "Which regional organisations have recommended accession?"). A name of only reference words
    ("Article 8", "Member States") is none."""
    asked = {w.lower().rstrip("s") for w in re.findall(r"[\w-]+", question)}
    out = []
    for name in key_names(sentence):
        words = [w for w in name if w[:1].isalpha() and w.lower() not in _NOT_A_NAME]
        if words and not all(w.lower().rstrip("s") in asked for w in words):
            out.append(" ".join(name))
    return out


#: words that end what "how many ..." counts: "How many Health and Care visas were granted" counts visas
_COUNT_ENDS = frozenset(
    "do does did is are was were will would can could must should shall may might have has had been be "
    "in on at for to from by with under of per or than that who which whose when where a an the each every".split()
)
#: words for people that a count of one may use for another ("How many returnees does each mentor
#: follow?" "Each mentor follows 24 beneficiaries")
_PEOPLE = frozenset("people person persons individuals participants respondents interviewees beneficiaries returnees migrants".split())
_COUNT_WORD = re.compile(r"[\w'\u2019-]+")
#: how many words may stand between a number and what it counts: "24 migration and integration
#: experts" after it, "the number of participants was 45" before it
COUNT_WORDS_AFTER = 4
COUNT_WORDS_BEFORE = 6


@functools.lru_cache(maxsize=256)
def counted_words(question: str) -> frozenset[str]:
    """What a "how many" or "number of" question counts, as lower-case words: {"visas"} for "How many
    Health and Care visas were granted?"; empty where the question does not say. Read once per
    question, not once per candidate sentence that `holds_kind` weighs."""
    words: set[str] = set()
    for m in re.finditer(r"\b(how many|number of)\s+(.*?)(?=\bhow many\b|\bnumber of\b|\?|$)", question, re.IGNORECASE):
        phrase = []
        for word in _COUNT_WORD.findall(m.group(2))[:5]:
            word = word.lower().strip("'\u2019")
            if word in _COUNT_ENDS:
                break
            if word != "and" and len(word) > 2:
                phrase.append(word)
        # what is counted is plural ("Health and Care visas", "refugees worldwide"), unless it is "people"
        words.update([w for w in phrase if w.endswith("s")] or phrase)
    return frozenset(words)


def _counts(word: str, counted: frozenset[str]) -> bool:
    word = word.lower().strip("'\u2019\u2018")
    if word in _PEOPLE and counted & _PEOPLE:
        return True
    return any(word.rstrip("s") == c.rstrip("s") or (len(word) > 4 and len(c) > 4 and same_stem(word, c)) for c in counted)


def counts_what_is_asked(sentence: str, counted: frozenset[str], question: str = "") -> bool:
    """Whether a number in the sentence (not in the question) counts what the question counts: the
    counted word stands a few words after the number ("24 migration and integration experts") or
    before it ("the number of participants was 45"). "233 people" answers "how many people", "19
    countries" does not."""
    asked = {m.group(0).lower() for m in _HAS["count"].finditer(question)}
    words = [(m.group(0), m.start()) for m in _COUNT_WORD.finditer(sentence)]
    for i, (word, at) in enumerate(words):
        is_number = bool(_HAS["count"].fullmatch(word) or re.fullmatch(r"\d[\d.,]*", word))
        if not is_number or word.lower() in asked:
            continue
        after = words[i + 1 : i + 1 + COUNT_WORDS_AFTER]
        # before it only in the same clause: "Psychiatrists are scarce: 2 hospitals" counts hospitals
        before = [(w, start) for w, start in words[max(0, i - COUNT_WORDS_BEFORE) : i] if not re.search(r"[,:;()]", sentence[start:at])]
        if any(_counts(w, counted) for w, _ in after + before):
            return True
    return False


def opens_quotation(sentence: str) -> bool:
    """A sentence that opens a quotation and does not close it: the quotation goes on after it."""
    return sentence.count("\u201c") > sentence.count("\u201d")


# --------------------------------------------------------------------------- restating the question

def novelty(sentence_terms: set[str], question_terms: set[str]) -> float:
    """Share of a sentence's content terms that the question does not already have: a sentence
    that only restates the question ("The principle of non-refoulement shall be respected") says
    little, however similar it reads."""
    if not sentence_terms:
        return 0.0
    return len(sentence_terms - question_terms) / len(sentence_terms)


# --------------------------------------------------------------------------- passages that do not answer

#: a passage with at least this share of questions, under a heading that asks one too, is a questionnaire
QUESTIONNAIRE_SHARE = 0.3
#: a passage with at least this share of its text in notes (footnotes, case citations, links) is a reference list
REFERENCE_SHARE = 0.8
_QUESTION_HEADING = re.compile(
    r"^[\d.\s]*(what|how|why|when|who|which|where|whether|to what extent|do|does|did|is|are|was|were|can|could|should|has|have)\b",
    re.IGNORECASE,
)


def is_questionnaire(heading: str, sentences: list[str]) -> bool:
    """Whether a passage asks rather than tells: an evaluation matrix's or terms of reference's
    questions ("1.6. To what extent were needs properly identified and monitored? - Desk research
    - Interviews with IOM staff"). Its heading asks a question and so do many of its sentences; a
    passage of answers under a question heading (a brochure's "What does the Foreigners Authority
    do?") has few."""
    if not sentences:
        return False
    last = heading.split(" > ")[-1].strip()
    if not (last.endswith("?") or _QUESTION_HEADING.match(last)):
        return False
    asked = sum(s.strip().endswith("?") for s in sentences)
    return asked >= QUESTIONNAIRE_SHARE * len(sentences)


def is_note(sentence: str) -> bool:
    """A footnote ("246 Hall, S. & IOM (2017) ..."), a short case citation or a line that opens with a link."""
    text = " ".join(sentence.split())
    return bool(_FOOTNOTE.match(text) or (_CITATION.search(text) and len(text.split()) < 40) or _URL.match(text))


#: a note's number opening a line: "334 Mid Term Review of ..." (no "." or ")" after it, unlike a list item)
_NOTE_NUMBER = re.compile(r"(?m)^(\d{1,3}) (?=\S)")
#: a note longer than this says something and is left to `is_note`
NOTE_RUN_WORDS = 20


def in_note_run(text: str, start: int) -> bool:
    """Whether the short line opening at `start` in a passage is one of a page's run of numbered
    notes: it opens with a number and a line next to it with the number before or after it ("333
    Multiple FGDs with returnees." / "334 Mid Term Review of EU-IOM Joint Initiative ..." / "335
    JI-HoA Interim Narrative Report #4 to the European Union."). A source named in a note answers
    nothing, yet reads like the question's topic."""
    m = _NOTE_NUMBER.match(text, start)
    if not m or (start and text[start - 1] != "\n"):
        return False
    line_end = text.find("\n", start)
    if len(text[start : line_end if line_end >= 0 else len(text)].split()) > NOTE_RUN_WORDS:
        return False
    n = int(m.group(1))
    neighbours = [text[:start].rstrip().rpartition("\n")[2], text[line_end:].lstrip() if line_end >= 0 else ""]
    return any(re.match(rf"{k} \S", line) for line in neighbours for k in (n - 1, n + 1) if k > 0)


def is_reference_list(sentences: list[str]) -> bool:
    """Whether a passage is (almost) all notes: a page's footnotes, an act's references to the
    Official Journal, a brochure's list of links."""
    total = sum(len(s) for s in sentences)
    return total > 0 and sum(len(s) for s in sentences if is_note(s)) >= REFERENCE_SHARE * total


#: what any passage that answers nothing holds: a question mark, a citation, a link, or a note's
#: number opening a line or a sentence (a sentence starts where `chunking.split_sentences` starts one)
_MAY_ANSWER_NOTHING = re.compile(
    r"\?|ECLI:|\bOJ [LC]\b|\bC-\d{1,3}/\d{2}\b|https?://|www\.|(?:^|\n|[.!?][\"'\u201d\u2019)\]]*\s)\s*\(?\d{1,3}\)?\s+\S"
)


def may_answer_nothing(text: str) -> bool:
    """A quick test that passes every passage `answers_nothing` might flag, so most are never split."""
    return bool(_MAY_ANSWER_NOTHING.search(text))


def lists_cited_works(heading: str) -> bool:
    """Whether a passage is in a document's list of the works it cites, by its section's heading
    ("References", "7. Bibliography"): "Mental health care management in Canada: Job Description
    Analyses." is the title of a work cited, not something the document says."""
    return heads_cited_works(heading.split(" > ")[-1])


def answers_nothing(heading: str, sentences: list[str]) -> bool:
    """A passage that asks (`is_questionnaire`), only refers (`is_reference_list`) or lists the works
    cited (`lists_cited_works`): search ranks it behind the passages that answer."""
    return lists_cited_works(heading) or is_questionnaire(heading, sentences) or is_reference_list(sentences)
