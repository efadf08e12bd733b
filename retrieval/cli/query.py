"""The query subcommands: search, ask, eval, compare. JSON field names here are a contract other tools read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from retrieval.ask.answer import Answerer
from retrieval.ask.search import MODES, Retriever
from retrieval.cli.common import UserError, settings_from
from retrieval.config import MAX_QUESTION_CHARS
from retrieval.evaluation.compare import AnswersFileError, compare_runs, comparison_json, format_comparison, read_answers
from retrieval.evaluation.jsonl import JsonLinesError, read_jsonl
from retrieval.evaluation.report import format_report
from retrieval.evaluation.run import EvaluationSetError, evaluate_sets, evaluation_sets
from retrieval.model.embedding import ModelError
from retrieval.store.index import IndexLoadError


def add_commands(sub, common) -> None:
    p = sub.add_parser("search", help="the passages that best match a question")
    common(p)
    p.add_argument("question", nargs="?", help="the question (or use --queries)")
    p.add_argument("--queries", type=Path, help='JSONL file of {"id": ..., "question": ...}')
    p.add_argument("--k", type=int, default=10, help="how many passages (default 10)")
    p.add_argument("--doc", action="append", help="only this document (file name in corpus/); repeatable")
    p.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ask", help="an answer made of cited sentences from the documents")
    common(p)
    p.add_argument("question", nargs="?", help="the question (or use --queries)")
    p.add_argument("--queries", type=Path, help='JSONL file of {"id": ..., "question": ...}')
    p.add_argument("--doc", action="append", help="only this document; repeatable")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="retrieval and answer metrics on the evaluation sets")
    common(p)
    p.add_argument("--questions", type=Path, action="append", default=None,
                   help="JSONL evaluation set; repeatable (default: eval/questions.jsonl, the blind sets eval/blind-questions.jsonl, eval/blind-questions-2.jsonl and eval/blind-questions-3.jsonl, and the blind conversations eval/blind-conversations.jsonl)")
    p.add_argument("--split", choices=("dev", "test"), default=None, help="only this split of sets that have one (default: each split)")
    p.add_argument("--modes", default="dense,lexical,hybrid", help="search modes to measure, comma-separated (default all three)")
    p.add_argument("--report", type=Path, default=None, help="also write the Markdown report here (e.g. docs/evaluation.md)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--answers", type=Path, default=None,
                   help="also write each question's answer, whether it holds a gold quote and the gold passages' ranks here (JSONL), to read failures one by one")

    p = sub.add_parser("compare", help="two `eval --answers` files side by side: each figure's change with its 95%% interval, and the answers that changed")
    p.add_argument("before", type=Path, help="answers file of the run before the change")
    p.add_argument("after", type=Path, help="answers file of the run after it")
    p.add_argument("--split", choices=("dev", "test"), default=None, help="only this split (default: each set and split in both files)")
    p.add_argument("--set", dest="set_name", default=None, help="only this set (e.g. blind-questions)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _user_error(message: str):
    return UserError(message)


def _open_retriever(args):

    try:
        return Retriever.open(settings_from(args))
    except (IndexLoadError, ModelError) as exc:
        raise _user_error(str(exc)) from exc


def _read_queries(path: Path) -> list[dict]:

    try:
        lines = read_jsonl(path)
    except JsonLinesError as exc:
        raise _user_error(str(exc)) from exc
    for number, row in lines:
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise _user_error(f'{path}:{number}: expected {{"id": ..., "question": "..."}}')
    return [{"id": None} | row for _, row in lines]  # the id is optional: a row without one is answered with "id": null


def _questions(args) -> list[dict]:
    if args.queries and args.question:
        raise _user_error("give a question or --queries FILE, not both")
    if args.queries:
        return _read_queries(args.queries)
    if args.question is None:
        raise _user_error("give a question, or --queries FILE.jsonl")
    return [{"id": None, "question": args.question}]


def _which(row) -> str:
    return f"{row['id']}: " if row.get("id") is not None else ""


def _check_docs(retriever, docs):
    unknown = [d for d in docs or [] if d not in retriever.index.rows_by_doc]
    if unknown:
        known = ", ".join(sorted(retriever.index.rows_by_doc))
        raise _user_error(f"unknown document {unknown[0]!r}; the index holds: {known}")


def passage_json(hit) -> dict:
    c = hit.chunk
    return {
        "text": c.text,
        "doc": c.doc_id,
        "title": hit.title,
        "section": c.section,
        "page": c.page_start,
        "score": round(hit.score, 6),
        "page_end": c.page_end,
        "chunk_id": c.chunk_id,
        "rank": hit.rank,
        "dense_score": None if hit.dense_score is None else round(hit.dense_score, 6),
        "dense_rank": hit.dense_rank,
        "lexical_score": None if hit.lexical_score is None else round(hit.lexical_score, 6),
        "lexical_rank": hit.lexical_rank,
    }


def cmd_search(args) -> int:
    questions = _questions(args)
    if args.k < 1:
        raise _user_error("--k must be at least 1")
    retriever = _open_retriever(args)
    _check_docs(retriever, args.doc)
    for row in questions:
        if len(" ".join(row["question"].split())) > MAX_QUESTION_CHARS:
            print(f"note: {_which(row)}question shortened to its first {MAX_QUESTION_CHARS} characters", file=sys.stderr)
        hits = retriever.search(row["question"], k=args.k, docs=args.doc, mode=args.mode)
        if args.json:
            print(json.dumps({"id": row["id"], "passages": [passage_json(h) for h in hits]}, ensure_ascii=False))
            continue
        if not hits:
            print("no passages match")
        for h in hits:
            where = ", ".join(x for x in (h.chunk.section, h.chunk.pages_label) if x)
            print(f"{h.rank:>2}. {h.title} — {where} (score {h.score:.4f})")
            print("    " + " ".join(h.chunk.text.split())[:300])
    return 0


def citation_json(citation) -> dict:
    return {
        "n": citation.n,
        "doc": citation.doc,
        "title": citation.title,
        "section": citation.section,
        "page": citation.page_start,
        "text": citation.text,
        "page_end": citation.page_end,
        "chunk_id": citation.chunk_id,
        "quoted": [citation.text[s:e] for s, e in citation.quoted],
    }


def answer_json(answer, id_=None) -> dict:
    return {
        "id": id_,
        "question": answer.question,
        "answer": answer.text,
        "answerable": answer.answerable,
        "confidence": round(answer.confidence, 4),
        "citations": [citation_json(c) for c in answer.citations],
        "related": [citation_json(c) for c in answer.related],
        "language": answer.language or None,
        "shortened": answer.shortened,
        "lacks": answer.lacks or None,
    }


def format_answer(answer) -> str:
    lines = [answer.text, ""]
    if answer.lacks:
        lines[1:1] = [f"note: {answer.lacks_note}", ""]
    if answer.answerable:
        for c in answer.citations:
            where = ", ".join(x for x in (c.section, c.page) if x)
            lines.append(f"[{c.n}] {c.title} — {where}")
    elif answer.related:
        lines.append("Related reading (closest passages, not an answer):")
        for c in answer.related:
            where = ", ".join(x for x in (c.section, c.page) if x)
            lines.append(f"  - {c.title} — {where}: " + " ".join(c.text.split())[:200])
    return "\n".join(lines).rstrip()


def cmd_ask(args) -> int:

    questions = _questions(args)
    retriever = _open_retriever(args)
    _check_docs(retriever, args.doc)
    answerer = Answerer(retriever)
    for row in questions:
        answer = answerer.ask(row["question"], docs=args.doc)
        if answer.shortened:
            print(f"note: {_which(row)}question shortened to its first {MAX_QUESTION_CHARS} characters", file=sys.stderr)
        if args.json:
            print(json.dumps(answer_json(answer, row["id"]), ensure_ascii=False))
        else:
            print(format_answer(answer))
    return 0


def _figures(retrieval: dict, coverage: dict, intervals: dict | None = None) -> dict:
    return {
        "intervals": {name: [round(low, 4), round(high, 4)] for name, (low, high) in (intervals or {}).items()},
        "modes": {m: {k: v for k, v in r.items() if k != "per_question"} for m, r in retrieval["modes"].items()},
        "not_covered": {k: v for k, v in coverage.items() if k not in ("confidences", "per_question")},
        "unmatched_quotes": retrieval["unmatched_quotes"],
        "questions": retrieval["questions"],
    }


def summary_figures(results) -> dict:
    """The committed figures (docs/evaluation.json): the first set's at the top level (the regression
    test compares against them), every set and split under "sets"."""
    first = results[0]
    out = _figures(first.retrieval, first.coverage, first.intervals)
    out["sets"] = {r.label: _figures(r.retrieval, r.coverage, r.intervals) | {"skipped": r.skipped} for r in results}
    return out


def encoders_line(retriever) -> str:
    """Which models, in which precision, embedded the index's passages and sentences and read the questions."""
    manifest, embedder = retriever.index.manifest, retriever.embedder
    built = manifest.get("build", {})
    sentences = embedder.sentences or embedder
    return (f"Passages: {manifest.get('model')}, embedded in {built.get('precision', '?')} on {built.get('backend', '?')}; "
            f"sentences: {manifest.get('sentence_model')}; questions read in {embedder.precision} (passages) "
            f"and {sentences.precision} (sentences).")


def cmd_eval(args) -> int:

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        raise _user_error(f"--modes takes a comma-separated list of {', '.join(MODES)}")
    try:
        sets = evaluation_sets(args.questions, args.split)
    except EvaluationSetError as exc:
        raise _user_error(str(exc)) from exc
    retriever = _open_retriever(args)

    def starting(label, kept, skipped) -> None:
        print(f"evaluating {label}: {len(kept)} questions" + (f" ({len(skipped)} need documents not indexed)" if skipped else "") + " ...", file=sys.stderr)

    results, rows = evaluate_sets(retriever, sets, modes=modes, on_set=starting)
    if not results:
        raise _user_error("no answerable question of the evaluation sets is on a document of this index")
    report = format_report(results, command="python -m retrieval " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["eval"] else "python -m retrieval eval",
                           encoders=encoders_line(retriever))
    if args.json:
        print(json.dumps(summary_figures(results), indent=2))
    else:
        print(report)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report, encoding="utf-8")
        figures = args.report.with_suffix(".json")
        figures.write_text(json.dumps(summary_figures(results), indent=2) + "\n", encoding="utf-8")
        print(f"report written to {args.report} and {figures}", file=sys.stderr)
    if args.answers:
        args.answers.parent.mkdir(parents=True, exist_ok=True)
        args.answers.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        print(f"answers to {len(rows)} questions written to {args.answers}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:

    try:
        before, after = read_answers(args.before), read_answers(args.after)
    except AnswersFileError as exc:
        raise _user_error(str(exc)) from exc
    results = compare_runs(before, after, split=args.split, set_name=args.set_name)
    if not results:
        raise _user_error("no set and split is in both files" + (" with the --split / --set asked for" if args.split or args.set_name else ""))
    if args.json:
        print(json.dumps(comparison_json(results), ensure_ascii=False, indent=2))
    else:
        print(format_comparison(results, str(args.before), str(args.after)), end="")
    return 0


COMMANDS = {"search": cmd_search, "ask": cmd_ask, "eval": cmd_eval, "compare": cmd_compare}
