"""Extractive answers: sentences taken verbatim from the retrieved passages, each with its citation.

Nothing is reworded: an answer sentence is a span of its passage's text, so it is always a
substring of the passage it cites. When the best evidence is too weak, the answer says the
documents do not cover the question and lists the closest passages as related reading.

A question that leans on the previous turn is searched together with it
(`question_signals.resolve_followup`), unless it answers confidently on its own (`Answerer.ask`);
its sentences are then chosen for its own words (`Answerer.draft`).
What a chosen sentence brings along (a list's items, what it announces) is sentence_companions.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from retrieval.ask.cited_answer import Answer, AnswerSentence, citation_for, not_covered
from retrieval.ask.compound import compound_parts
from retrieval.ask.language import other_language
from retrieval.ask.question_signals import (
    describes_a_case,
    key_names,
    misspelt_as,
    opens_with_connective,
    resolve_followup,
    same_stem,
)
from retrieval.ask.search import Hit, Retriever, shorten_question
from retrieval.ask.sentence_companions import Candidate, after_a_short_best, list_items, what_follows
from retrieval.ask.sentence_signals import (
    expected_kind,
    holds_kind,
    in_note_run,
    is_quotable,
    lists_cited_works,
    novelty,
)
from retrieval.ask.weighing import (
    COVERAGE_FEATURES,
    SENTENCE_FEATURES,
    Weights,
    inverse_document_frequency,
    load_weights,
    rare_term_share,
    signal_row,
)
from retrieval.config import MAX_QUESTION_CHARS

#: How sure the answer is that the documents answer, and which sentence answers best, are the two
#: learned models of weighing.py (fitted on the blind dev splits; answer_weights.json holds their
#: coefficients and the threshold below which a question counts as not covered). Their signals
#: include what hand-set penalties weighed before: a key term of the question (a name, a number, a
#: rare word) in neither of the passages the answer leans on (the first, and the one of its best
#: sentence), unless the question tells a case in the first person ("We run a care home and want to
#: bring in a care worker who is still living in the Philippines": its names are the case's details);
#: a figure or a date asked for that no passage gives; countries or organisations asked for that
#: the answer names none of.
#: a term in more than this share of all chunks is too common to be a key term
KEY_TERM_MAX_SHARE = 0.05
#: the kinds of answer that name things (`sentence_signals.expected_kind`)
NAMING_KINDS = frozenset({"countries", "names"})
#: when no chosen sentence gives the figure or date asked for, the best one that does joins the
#: answer if its similarity is within this much of the best sentence of its passage ("... is subject
#: to a charge." then "... charges a €411 fee ...": the figure reads less like the question)
KIND_REACH = 0.25
#: a line with fewer new content terms than this share of its document's title terms only says the title
MIN_NOVELTY = 0.34
#: a follow-up-looking question answered on its own with at least threshold + this margin stands alone
STANDALONE_MARGIN = 0.1
#: sentences scoring within this margin of the best one (the sentence model's score: a log-ratio of
#: two sentences' chances) may join the answer, up to MAX_SENTENCES. Swept on the blind dev splits:
#: margins 1.0 / 1.5 / 1.75 / 2.0 gave answers holding a gold quote 0.606 / 0.613 / 0.635 / 0.642 (blind
#: set 1) and 0.380 / 0.437 / 0.437 / 0.437 (blind set 2) at 81 / 94 / 102 / 108 and 81 / 96 / 106 / 111
#: words: the gain is bought with length; 1.5 is the widest no longer than the answers before (104, 105).
SENTENCE_MARGIN = 1.5
#: a sentence whose cosine to a chosen one is above this says again what that one says (the same
#: sentence in a summary and in the body) and does not join. Not lower: a legal text's parallel
#: paragraphs read alike and say different things ("1. ... the same treatment as nationals with
#: respect to elementary education." / "2. ... with respect to education other than elementary
#: education"; a permit's first period / its renewal), and at 0.85 the second was dropped
SAYS_AGAIN = 0.95
MAX_SENTENCES = 4
PASSAGES = 5


@dataclass(frozen=True)
class Draft:
    """An answer before it is decided: the passages found, the candidate sentences and those chosen
    (the best first), the answer's signals for the coverage model (`weighing.COVERAGE_FEATURES`),
    the kind of answer asked for that no chosen sentence gives, and each candidate's signals."""

    hits: tuple[Hit, ...]
    top: tuple[Hit, ...]
    candidates: tuple[Candidate, ...]
    chosen: tuple[int, ...]
    coverage: np.ndarray
    lacks: str
    sentence_features: np.ndarray


class Answerer:
    def __init__(self, retriever: Retriever, threshold: float | None = None, max_sentences: int = MAX_SENTENCES, passages: int = PASSAGES,
                 weights: Weights | None = None) -> None:
        self.retriever = retriever
        self.weights = weights or load_weights()
        self.threshold = self.weights.threshold if threshold is None else threshold
        self.max_sentences = max_sentences
        self.passages = passages
        lexical = retriever.index.lexical
        #: each document's title terms: a line that only says its title ("COMMISSION NOTICE Guidance on
        #: the right of free movement ... (C/2023/1392)") names the document and answers nothing
        self._terms_of_title = {
            e.get("doc", ""): set(lexical.query_terms(f"{e.get('title', '')} {e.get('short_title', '')}"))
            for e in retriever.index.document_entries()
        }
        #: every document's title terms: a question's word that names a document is no key term
        self._title_terms = set().union(*self._terms_of_title.values())

    def key_terms(self, question: str) -> set[str]:
        """Stemmed key terms of the question that are rare in the corpus and don't name a document."""
        return set().union(*self._name_terms(question))

    def _name_terms(self, question: str) -> list[set[str]]:
        """The key terms (see `key_terms`) of each name of the question that has any."""
        lexical = self.retriever.index.lexical
        limit = KEY_TERM_MAX_SHARE * max(1, lexical.n_docs)
        out = []
        for name in key_names(question):
            terms = {term for word in name for term in lexical.query_terms(word) if term not in self._title_terms and lexical.document_frequency(term) < limit}
            if terms:
                out.append(terms)
        return out

    def missing_key_terms(self, question: str, hits: Sequence[Hit]) -> set[str]:
        """The key terms of the names that the passages never mention: a name counts as mentioned
        when one of its key terms is ("Lee" for "Jin Sook Lee"), a country when its people or
        adjective is (`same_stem`)."""
        names = self._name_terms(question)
        if not names:
            return set()
        lexical = self.retriever.index.lexical
        seen = set(lexical.query_terms(" ".join(f"{h.chunk.section} {h.chunk.text}" for h in hits)))
        missing: set[str] = set()
        for terms in names:
            if not any(key in seen or any(same_stem(key, term) for term in seen) or self._misspelt(key, seen) for key in terms):
                missing |= terms
        return missing

    def _misspelt(self, key: str, seen: set[str]) -> bool:
        """A key term no passage of the index holds that reads as a misspelling of a term these
        passages hold ("Convnetion"): the name is mentioned, misspelt in the question."""
        return self.retriever.index.lexical.document_frequency(key) == 0 and any(misspelt_as(key, term) for term in seen)

    def says_title(self, sentence: str, doc_id: str) -> bool:
        """Whether a sentence is (almost) only its document's title, a cover's or a running header's
        line: no full stop ends it ("The fast-track procedure for skilled workers is subject to a
        charge." says something of the title's subject)."""
        title = self._terms_of_title.get(doc_id)
        if not title or sentence.rstrip().endswith((".", "!", "?")):
            return False
        return novelty(set(self.retriever.index.lexical.query_terms(sentence)), title) < MIN_NOVELTY

    def candidates(self, hits: Sequence[Hit]) -> tuple[list[Candidate], np.ndarray]:
        """The sentences of the passages, each once, with their stored vectors; a line of a page's
        run of numbered notes (`sentence_signals.in_note_run`) or one that only says the document's
        title (`says_title`) is none, nor any of a list of the works cited (`lists_cited_works`)."""
        index = self.retriever.index
        seen: set[str] = set()
        out: list[Candidate] = []
        rows: list[int] = []
        for i, hit in enumerate(hits):
            if lists_cited_works(hit.chunk.section):
                continue  # the titles of the works a document cites say nothing of their own
            for j in index.sentences_of(index.row_of[hit.chunk.chunk_id]):
                _, start, end = (int(x) for x in index.sentence_spans[j])
                sentence = hit.chunk.text[start:end]
                key = " ".join(sentence.lower().split())
                if key in seen or in_note_run(hit.chunk.text, start) or self.says_title(sentence, hit.doc_id):
                    continue  # the same sentence in the overlap of two passages, a page's note, the title
                seen.add(key)
                out.append(Candidate(i, start, end, sentence))
                rows.append(j)
        vectors = np.asarray(index.sentence_vectors[rows], dtype=np.float32) if rows else np.zeros((0, 0), dtype=np.float32)
        return out, vectors

    def _similarities(self, vectors: np.ndarray, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate sentence's cosine to the question, and to the question moved by the
        sentences' query adapter (the retriever's; the plain cosine again where it has none)."""
        q = self.retriever.embedder.embed_query(query, kind="sentence")
        adapter = self.retriever.sentence_adapter
        return vectors @ q, (vectors @ adapter.adapt(q) if adapter is not None else vectors @ q)

    def sentence_scores(self, question: str, query: str, candidates: list[Candidate], sims: np.ndarray, adapted: np.ndarray, top: Sequence[Hit],
                        by_passage: bool = True) -> tuple[np.ndarray, list[bool], list[bool], np.ndarray]:
        """How well each candidate sentence answers: the sentence model of weighing.py over its
        signals (`weighing.SENTENCE_FEATURES`); sentences that are never quoted (headings, footnotes,
        captions) score -inf. Also returns which are quotable, which hold the kind of answer asked
        for, and the signals (one row per candidate). Without `by_passage`, every passage counts as
        the first (the passages were ranked for another question: the whole of a compound one)."""
        lexical = self.retriever.index.lexical
        kind = expected_kind(question)
        q_terms = set(lexical.query_terms(query))
        idf = {t: inverse_document_frequency(lexical.document_frequency(t), lexical.n_docs) for t in q_terms}
        quotable = [is_quotable(c.text) for c in candidates]
        has_kind = [holds_kind(c.text, kind, question) for c in candidates]
        top_dense = float(top[0].dense_score or 0.0)
        top_fused = float(top[0].score) or 1.0
        rows = []
        for i, c in enumerate(candidates):
            hit = top[c.hit_index]
            terms = set(lexical.query_terms(c.text))
            rank, dense, fused = (float(c.hit_index), float(hit.dense_score or 0.0) - top_dense, float(hit.score) / top_fused) if by_passage else (0.0, 0.0, 1.0)
            rows.append(signal_row({
                "similarity": float(sims[i]), "adapted_similarity": float(adapted[i]), "gives_kind": float(bool(kind) and has_kind[i]), "passage_rank": rank, "passage_dense": dense,
                "passage_fused": fused, "rare_terms": rare_term_share(terms, q_terms, idf), "novelty": novelty(terms, q_terms),
                "log_words": math.log(max(3, len(c.text.split()))),
            }, SENTENCE_FEATURES))
        features = np.array(rows, dtype=np.float64).reshape(len(candidates), len(SENTENCE_FEATURES))
        scores = self.weights.sentence.scores(features)
        if any(quotable):
            scores[~np.asarray(quotable)] = -np.inf
        return scores, quotable, has_kind, features

    def ask(self, question: str, history: Sequence[str] = (), docs: Sequence[str] | None = None) -> Answer:
        """The answer to a question in a conversation. A question that looks like a follow-up but
        does not open with a connective ("Can he work?" is, "And for returnees?" is not) is first
        asked on its own: when that answers it confidently, it stands alone."""
        shortened = len(question) > MAX_QUESTION_CHARS and len(" ".join(question.split())) > MAX_QUESTION_CHARS
        if len(question) > MAX_QUESTION_CHARS:
            question = shorten_question(question)
        language = other_language(question)
        if language:
            answer = Answer(question, " ".join(question.split()), False, 0.0, language=language)
        else:
            answer = self._in_conversation(question, history, docs)
        return replace(answer, shortened=True) if shortened else answer

    def _in_conversation(self, question: str, history: Sequence[str], docs: Sequence[str] | None) -> Answer:
        alone = " ".join(question.split())
        query = resolve_followup(question, history)
        if query != alone and not opens_with_connective(alone):
            answer = self._answer(question, alone, docs)
            if answer.answerable and answer.confidence >= self.threshold + STANDALONE_MARGIN:
                return answer
        return self._answer(question, query, docs)

    def draft(self, question: str, query: str, docs: Sequence[str] | None = None) -> Draft:
        """What an answer to `query` would say and the evidence for it, before it is decided whether
        the documents answer (no candidates when no passage has a sentence to quote)."""
        hits = self.retriever.search(query, k=max(self.passages, 10), docs=docs)
        top = hits[: self.passages]
        candidates, vectors = self.candidates(top)
        if not candidates:
            return Draft(tuple(hits), tuple(top), (), (), np.zeros(len(COVERAGE_FEATURES)), "", np.zeros((0, len(SENTENCE_FEATURES))))
        sims, adapted = self._similarities(vectors, query)
        # a follow-up read with the last turn ("and for a new entrant?"): the conversation finds the
        # passages, and what is asked now chooses their sentences (the coverage stays the whole reading's)
        asked = " ".join(question.split())
        read_with_last_turn = query != asked and query.endswith(asked)  # resolve_followup's "<last turn> <question>"
        choice_sims, choice_adapted = self._similarities(vectors, asked) if read_with_last_turn else (sims, adapted)
        scores, quotable, has_kind, sentence_rows = self.sentence_scores(question, query, candidates, choice_sims, choice_adapted, top)
        best = int(np.argmax(scores))
        # a compound question ("Why ..., and when ...?"): the best sentence for each half answers it
        part_bests = []
        for part in compound_parts(query):
            part_sims, part_adapted = self._similarities(vectors, part)
            part_scores, *_ = self.sentence_scores(part, part, candidates, part_sims, part_adapted, top, by_passage=False)
            part_best = int(np.argmax(part_scores))
            if np.isfinite(part_scores[part_best]):
                part_bests.append(part_best)
        # a question that names several documents ("How do the INTERACT report and the Budapest
        # Process note compare on ...?") is answered from each: each one's best quotable sentence
        named_bests = self.named_document_bests(query, docs, candidates, scores, quotable, top)
        # the figure or date asked for counts where the answer is: in the documents of its best
        # sentence and of each half's ("a €411 fee" in a German brochure does not say what an EU
        # registration costs)
        answer_docs = {top[candidates[i].hit_index].doc_id for i in [best, *part_bests, *named_bests]}
        gives_kind = [has_kind[i] and quotable[i] and top[c.hit_index].doc_id in answer_docs for i, c in enumerate(candidates)]

        chosen: list[int] = [best]
        for i in np.argsort(-scores):
            i = int(i)
            if len(chosen) >= self.max_sentences or scores[i] < scores[best] - SENTENCE_MARGIN or not quotable[i]:
                break
            if i in chosen:
                continue
            if max(float(vectors[i] @ vectors[j]) for j in chosen) > SAYS_AGAIN:
                continue  # says again what a chosen sentence says
            chosen.append(i)
        chosen += [i for i in dict.fromkeys(part_bests) if i not in chosen]

        kind = expected_kind(question)
        if kind and not any(has_kind[i] for i in chosen):
            # asked how much / how long / when: the best sentence that gives a figure or date joins
            passage_best: dict[int, float] = {}
            for i, c in enumerate(candidates):
                passage_best[c.hit_index] = max(passage_best.get(c.hit_index, -1.0), float(sims[i]))
            with_kind = [i for i in range(len(candidates)) if gives_kind[i] and sims[i] >= passage_best[candidates[i].hit_index] - KIND_REACH]
            if with_kind:
                chosen.append(max(with_kind, key=lambda i: scores[i]))
        chosen += list_items(candidates, chosen, top)
        quotable = quotable + [True] * (len(candidates) - len(quotable))  # list items read from the passage
        chosen += what_follows(candidates, chosen, quotable)
        chosen += after_a_short_best(candidates, chosen, quotable, top)
        # each named document that no chosen sentence quotes yet gives its best one
        chosen_docs = {top[candidates[i].hit_index].doc_id for i in chosen}
        chosen += [i for i in named_bests if top[candidates[i].hit_index].doc_id not in chosen_docs]
        # the kind asked for, when no chosen sentence of the answer's documents gives it (a fee in
        # another document's sentence does not say what the Trust Fund spent)
        gives = [gives_kind[i] if i < len(gives_kind) else holds_kind(candidates[i].text, kind, question) and top[candidates[i].hit_index].doc_id in answer_docs
                 for i in chosen]  # list items read from the passage come after the candidates
        lacks = kind if kind and not any(gives) else ""

        # the passages the answer leans on: the first one and the one of its best sentence
        leaned_on = [top[0]] + ([top[candidates[best].hit_index]] if candidates[best].hit_index else [])
        case = describes_a_case(question)
        quotable_sims = [float(sims[i]) for i in range(len(sims)) if quotable[i]] or [float(np.max(sims))]
        dense = [float(h.dense_score or 0.0) for h in top]
        coverage_row = signal_row({
            "best_similarity": max(quotable_sims), "top_dense": dense[0], "max_dense": max(dense),
            "log_lexical": math.log1p(float(top[0].lexical_score or 0.0)),
            "missing_names": float(bool(self.missing_key_terms(question, leaned_on)) and not case),
            "missing_figure": float(bool(kind) and not any(gives_kind)),  # asks "how much" and no passage names an amount
            "tells_a_case": float(case), "log_terms": math.log1p(len(self.retriever.index.lexical.query_terms(query))),
            # "Which Member States require ...?" answered by "Some Member States require ...": the
            # documents know there are some and name none where the answer is
            "names_none_asked": float(lacks in NAMING_KINDS),
        }, COVERAGE_FEATURES)
        return Draft(tuple(hits), tuple(top), tuple(candidates), tuple(chosen), coverage_row, lacks, sentence_rows)

    def named_document_bests(self, query: str, docs: Sequence[str] | None, candidates: list[Candidate], scores: np.ndarray,
                             quotable: list[bool], top: Sequence[Hit]) -> list[int]:
        """The best quotable candidate of each document the question names, when it names two or
        more and no document filter is set (the search then looks inside each, `Retriever.search`)."""
        if docs:
            return []
        named = [d for d in dict.fromkeys(self.retriever.names.find(query).docs) if d in self.retriever.index.rows_by_doc]
        if len(named) < 2:
            return []
        bests = []
        for doc in named:
            own = [i for i, c in enumerate(candidates) if top[c.hit_index].doc_id == doc and quotable[i] and np.isfinite(scores[i])]
            if own:
                bests.append(max(own, key=lambda i: scores[i]))
        return bests

    def _answer(self, question: str, query: str, docs: Sequence[str] | None) -> Answer:
        if not re.search(r"\w", query):
            return Answer(question, query, False, 0.0)
        draft = self.draft(question, query, docs)
        hits, top, candidates, chosen = draft.hits, draft.top, draft.candidates, draft.chosen
        if not candidates:
            return not_covered(question, query, 0.0, hits, top)
        confidence = self.weights.confidence(draft.coverage)
        if confidence < self.threshold:
            return not_covered(question, query, confidence, hits, top)

        # the best sentence first, then the rest of its passage's in text order; then the other
        # passages in the order of their best chosen sentence, each one's sentences in text order
        passage_order: list[int] = []
        for i in chosen:
            if candidates[i].hit_index not in passage_order:
                passage_order.append(candidates[i].hit_index)
        numbers = {hit_index: n for n, hit_index in enumerate(passage_order, start=1)}
        sentences = []
        for hit_index in passage_order:
            ordered = sorted((i for i in chosen if candidates[i].hit_index == hit_index), key=lambda i: candidates[i].start)
            if hit_index == candidates[chosen[0]].hit_index:
                ordered = [chosen[0]] + [i for i in ordered if i != chosen[0]]
            sentences += [AnswerSentence(candidates[i].text, numbers[hit_index]) for i in ordered]
        citations = tuple(
            citation_for(top[h], numbers[h], [(candidates[i].start, candidates[i].end) for i in chosen if candidates[i].hit_index == h])
            for h in passage_order
        )
        return Answer(question, query, True, confidence, tuple(sentences), citations, hits=tuple(hits), lacks=draft.lacks)
