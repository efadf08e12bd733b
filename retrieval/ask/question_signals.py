"""What a question says about itself, before anything is searched: whether it leans on the previous
turn of a conversation, the names it turns on, and whether it tells a case of its own.

Follow-up rule (a question that answers confidently on its own stands alone, see `answer.Answerer.ask`):
a question that is short and leans on the previous turn — it opens with a
connective ("and", "but", "also", "what about", "how about"), refers back ("that", "this",
"they", "those", "there", "it", "itself", "afterwards", "the social one", "the ones") or is a
fragment of a question ("in which language?", "for how long?", "by when?"), and has at most 12
words — is searched together with the previous turn's question: "and for people who return?" after
"What support do integration policies offer?" searches "What support do integration policies
offer? and for people who return?".

Pure functions on strings, so each rule is testable on its own; `answer.Answerer` weighs them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz.distance import OSA

from retrieval.text.chunking import split_sentences

_CONNECTIVE = re.compile(r"^(and|but|also|so|then|what about|how about|what of|same for|and what about|and for|or)\b", re.IGNORECASE)
_BACK_REFERENCE = re.compile(
    r"\b(that|this|these|those|they|them|their|it|its|there|he|she|his|her|such|itself|themselves|afterwards)\b"
    # "one" standing for a noun of the last turn: "the social one", "the simpler one", "the ones
    # beyond ..." (not the numeral: "one year", "the one-month period")
    r"|\bones\b|\bthe\s+[a-z]+\s+one\b(?!-)",
    re.IGNORECASE,
)
#: a fragment that only the last turn makes a question: a preposition and a question word, in at
#: most FRAGMENT_WORDS words ("in which language?", "on which route?", "for how long?", "by when?");
#: "In which Member State must an asylum claim be examined?" is a question of its own
_FRAGMENT = re.compile(
    r"^(in|on|by|for|from|at|to|with|under|within|until|after|before|since|during)\s+(which|what|whom|how|when|where)\b",
    re.IGNORECASE,
)
FRAGMENT_WORDS = 6


def opens_with_connective(question: str) -> bool:
    """Whether a question opens with a connective ("and for returnees?"): it always leans on the last turn."""
    return bool(_CONNECTIVE.match(question.strip()))


def is_followup(question: str) -> bool:
    words = question.split()
    if not words or len(words) > 12:
        return False
    fragment = len(words) <= FRAGMENT_WORDS and bool(_FRAGMENT.match(question.strip()))
    return opens_with_connective(question) or fragment or bool(_BACK_REFERENCE.search(question))


def resolve_followup(question: str, history: Sequence[str] = ()) -> str:
    """The search query for a question in a conversation (see the module docstring for the rule)."""
    question = " ".join(question.split())
    if history and is_followup(question):
        return f"{history[-1]} {question}"
    return question


_WORD = re.compile(r"[A-Za-z\u00c0-\u024f][\w'\u2019-]*|\d[\d.,/]*\w*")


#: month and day names are capitalised but name no one
_CALENDAR_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
#: lower-case words that may stand inside a name ("Court of Justice", "Trust Fund for Africa")
_NAME_CONNECTORS = frozenset("of for on the de".split())


def key_names(question: str) -> list[list[str]]:
    """Names, numbers and acronyms of a question (capitalised words not opening a sentence, digits),
    words of one name together: "Court of Justice" is one name of two key words."""
    names: list[list[str]] = []
    before = ""  # the last character before this word that is not a space ("" at the start)
    last_end = 0
    joinable = False  # only spaces and connectors since the last key word
    for m in _WORD.finditer(question):
        word = m.group(0)
        gap = question[last_end : m.start()]
        if gap.strip():
            before = gap.rstrip()[-1]
            joinable = False
        last_end = m.end()
        opens_sentence = before == "" or before in ".?!:;"
        before = word[-1]
        if "-" in word and not word[0].isdigit():
            # "EU-wide": the lower-case part is no name
            word = "-".join(part for part in word.split("-") if part[:1].isupper()) or word
        if word.lower() in _CALENDAR_WORDS:
            joinable = False  # "1 January 2013": a date, not a name
            continue
        if word[0].isdigit() or (word.isupper() and len(word) > 1) or (word[0].isupper() and not opens_sentence):
            if joinable and names:
                names[-1].append(word)
            else:
                names.append([word])
            joinable = True
        elif word.lower() not in _NAME_CONNECTORS:
            joinable = False
    return names


#: "I'm" before "I": the longer form wins, so "I'm a reintegration officer in Hargeisa" is a case
_FIRST_PERSON = re.compile(r"\b(I['\u2019](m|ve|d|ll)|I|we|we're|we've|our|ours|us|my|me|We|Our|My)\b")


#: a case told in the third person opens with someone indefinite: "A Syrian man has claimed asylum in
#: Austria.", "Someone slipped into Greece ...", "An NHS trust is hiring a nurse from Kenya ..."
_SOMEONE = re.compile(r"\s*(A|An|Someone|Somebody)\s")


def describes_a_case(question: str) -> bool:
    """Whether the question tells of a case of its own, in the first person ("We run a care home and
    want to bring in a care worker who is still living in the Philippines. Can we sponsor her?") or
    in the third, as a story of someone indefinite in a sentence before the ask ("A Brazilian man
    married to a Spanish citizen living in Vienna has applied for his residence card. What's the
    maximum time ...?"): its names are the case's details, not what it asks about, and a passage
    need not mention them. "I" counts only as a word of its own before a lower-case word, not as a
    numeral ("Annex I says")."""
    if _SOMEONE.match(question) and len(split_sentences(question)) >= 2:
        return True
    for m in _FIRST_PERSON.finditer(question):
        if m.group(0) != "I":
            return True
        words_before, after = question[: m.start()].split(), question[m.end() :].split()[:1]
        # "Annex I", "Title I": a numeral after a capitalised word that does not open a sentence
        numeral = len(words_before) >= 2 and words_before[-1][0].isupper() and words_before[-2][-1] not in ".?!:"
        if after and after[0][0].islower() and not numeral:
            return True
    return False


def key_words(question: str) -> list[str]:
    """Names, numbers and acronyms of a question: capitalised words not opening a sentence, digits."""
    return [word for name in key_names(question) for word in name]


#: countries whose people or adjective is not a longer or shorter form of the country's name (stemmed)
_COUNTRY_FORMS = (
    ("franc", "french"), ("spain", "spanish", "spaniard"), ("netherland", "dutch", "holland"), ("switzerland", "swiss"),
    ("britain", "british", "uk"), ("turkey", "turkish", "turk", "türkiy"), ("poland", "polish", "pole"),
    ("sweden", "swedish", "swede"), ("denmark", "danish", "dane"), ("finland", "finnish", "finn"),
    ("norway", "norwegian"), ("ireland", "irish"), ("greec", "greek"), ("philippin", "filipino"),
    ("wale", "welsh"), ("scotland", "scottish", "scot"), ("england", "english"), ("china", "chines"),
    ("lebanon", "lebanes"), ("peru", "peruvian"), ("madagascar", "malagasi"), ("cyprus", "cypriot"),
)


#: countries whose name begins another's: "niger" is not "nigeria" nor "nigerian"
_OTHER_COUNTRY = (("niger", "nigeria"), ("dominica", "dominican"))


def _country_group(term: str) -> int | None:
    for i, forms in enumerate(_COUNTRY_FORMS):
        if any(term == form or (len(form) >= 5 and term.startswith(form)) for form in forms):
            return i
    return None


def same_stem(a: str, b: str, min_common: int = 5) -> bool:
    """Whether two stemmed terms are one word's forms: a country and its people or adjective
    ("ethiopia" / "ethiopian", "somalia" / "somali", "sudan" / "sudanes", "afghan" / "afghanistan",
    "mexico" / "mexican": all but the shorter one's last letter in common; "franc" / "french" from a
    table of irregular forms)."""
    short, long_ = sorted((a, b), key=len)
    if any(short.startswith(x) and not short.startswith(y) and long_.startswith(y) for x, y in _OTHER_COUNTRY):
        return False
    if len(short) >= min_common and long_.startswith(short[:-1] if len(short) > min_common else short):
        return True
    group = _country_group(a)
    return group is not None and group == _country_group(b)


def misspelt_as(unknown: str, known: str) -> bool:
    """Whether a stemmed term no document holds reads as a misspelling of one they do: one edit apart
    (a letter added, dropped, changed, or two swapped: "convnet" / "convent" for "Convnetion"), two
    in a term of eight letters or more; terms under five letters are too short to tell."""
    if min(len(unknown), len(known)) < 5:
        return False
    allowed = 2 if len(unknown) >= 8 else 1
    return OSA.distance(unknown, known, score_cutoff=allowed) <= allowed

