#!/usr/bin/env python3
"""Validate an evaluation set (eval/questions.jsonl, eval/blind-questions.jsonl) against the source documents.

Checks:
  * every line is a JSON object with the required fields and types (optional: "split", dev or
    test, and "note");
  * ids are unique; kinds are known; minimum per-kind counts are met;
  * answerable questions have gold quotes, unanswerable ones have none;
  * every gold quote has 6-30 words and appears in its document after
    normalisation (lowercase, keep only a-z and 0-9);
  * a conversation set (eval/blind-conversations.jsonl: every row of kind "followup", with the
    earlier questions in "history") has its own minimums: CONVERSATION_MINIMUM follow-ups, of which
    some the documents do not answer, and MIN_PER_PDF_CONVERSATIONS per PDF.

Documents are looked up by bare file name in, in order: the directories given
with --docs-dir (repeatable), $EVAL_DOCS_DIRS (os.pathsep-separated), the
repository's corpus/, ../shared/corpus and ../shared/pdfs (relative to the
repository root). Markdown/text files are read as UTF-8 text; PDFs are read
with pypdf (all pages' extract_text() joined).

Usage: python eval/check_questions.py [--questions PATH ...] [--docs-dir DIR ...]
Several --questions check several sets in one run, each with its own report under a "== PATH =="
line, and read each document once for all of them.
Exit status: 0 if everything passes (every set), 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

KIND_MINIMUMS = {
    "factual": 18,
    "figure": 0,  # amounts, counts, dates: the blind set's own kind
    "paraphrase": 15,
    "list": 8,
    "expert": 8,
    "multi_doc": 6,
    "official": 12,
    "unanswerable": 14,
}
#: a follow-up in a conversation (its "history" holds the earlier questions); answerable or not
FOLLOWUP = "followup"
CONVERSATION_MINIMUM = 40
MIN_PER_PDF_CONVERSATIONS = 3
TOTAL_MINIMUM = 90
MIN_PER_PDF = 6
QUOTE_WORDS = (6, 30)
REQUIRED = {"id": str, "kind": str, "question": str, "answerable": bool, "gold": list}
#: fields a set may have: the split a question is in (tune on dev, report test) and its author's note
OPTIONAL = {"split": str, "note": str, "history": list}
SPLITS = ("dev", "test")

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def default_dirs(extra: list[str]) -> list[Path]:
    dirs = [Path(d) for d in extra]
    env = os.environ.get("EVAL_DOCS_DIRS")
    if env:
        dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs += [REPO / "corpus", REPO.parent / "shared" / "corpus", REPO.parent / "shared" / "pdfs"]
    return dirs


def find_doc(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        p = d / name
        if p.is_file():
            return p
    return None


def extract_text(path: Path) -> str:
    if path.suffix.lower() == ".pdf":
        import logging

        from pypdf import PdfReader

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        reader = PdfReader(str(path))
        return "\n".join((page.extract_text() or "") for page in reader.pages)
    return path.read_text(encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", action="append", default=[],
                    help="a question set (repeatable: each set is checked on its own, each document read once for all)")
    ap.add_argument("--docs-dir", action="append", default=[], help="directory holding the documents")
    args = ap.parse_args()

    dirs = default_dirs(args.docs_dir)
    sets = args.questions or [str(HERE / "questions.jsonl")]
    texts: dict[Path, str] = {}
    failed = 0
    for path in sets:
        if len(sets) > 1:
            print(f"== {path} ==")
        failed += check_set(path, dirs, texts)
        if len(sets) > 1:
            print()
    if len(sets) > 1:
        print(f"{len(sets) - failed} of {len(sets)} sets passed")
    return 1 if failed else 0


def check_set(questions_path: str, dirs: list[Path], texts: dict[Path, str]) -> int:
    """Check one set and print its report; 0 if it passes, 1 if not. `texts` holds each document's
    normalised text, read on first use and kept for the next set."""
    failures: list[str] = []
    questions: list[dict] = []
    with open(questions_path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                failures.append(f"line {lineno}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                failures.append(f"line {lineno}: not a JSON object")
                continue
            obj["_line"] = lineno
            questions.append(obj)

    # ---- structure ----
    seen_ids: Counter = Counter()
    for q in questions:
        where = f"line {q['_line']} ({q.get('id', '?')})"
        for field, typ in REQUIRED.items():
            if field not in q:
                failures.append(f"{where}: missing field '{field}'")
            elif not isinstance(q[field], typ):
                failures.append(f"{where}: field '{field}' should be {typ.__name__}")
        for field, typ in OPTIONAL.items():
            if field in q and not isinstance(q[field], typ):
                failures.append(f"{where}: field '{field}' should be {typ.__name__}")
        if "split" in q and q["split"] not in SPLITS:
            failures.append(f"{where}: split must be one of {', '.join(SPLITS)}, not {q['split']!r}")
        extra = set(q) - set(REQUIRED) - set(OPTIONAL) - {"_line"}
        if extra:
            failures.append(f"{where}: unexpected fields {sorted(extra)}")
        seen_ids[q.get("id")] += 1
        kind = q.get("kind")
        if kind not in KIND_MINIMUMS and kind != FOLLOWUP:
            failures.append(f"{where}: unknown kind {kind!r}")
        history = q.get("history")
        if kind == FOLLOWUP and not (isinstance(history, list) and history and all(isinstance(h, str) and h.strip() for h in history)):
            failures.append(f"{where}: a follow-up needs 'history', the earlier questions of its conversation")
        if not str(q.get("question", "")).strip():
            failures.append(f"{where}: empty question")
        gold = q.get("gold") if isinstance(q.get("gold"), list) else []
        answerable = q.get("answerable")
        if kind == "unanswerable" and answerable is not False:
            failures.append(f"{where}: unanswerable question must have answerable=false")
        if kind not in ("unanswerable", FOLLOWUP) and answerable is not True:
            failures.append(f"{where}: answerable question must have answerable=true")
        if answerable is False and gold:
            failures.append(f"{where}: unanswerable question must have empty gold")
        if answerable is True and not gold:
            failures.append(f"{where}: answerable question has no gold quotes")
        for g in gold:
            if not isinstance(g, dict) or not isinstance(g.get("doc"), str) or not isinstance(g.get("quote"), str):
                failures.append(f"{where}: gold entries need string 'doc' and 'quote'")
                continue
            if "/" in g["doc"] or "\\" in g["doc"]:
                failures.append(f"{where}: doc must be a bare file name: {g['doc']}")
            n_words = len(g["quote"].split())
            if not QUOTE_WORDS[0] <= n_words <= QUOTE_WORDS[1]:
                failures.append(f"{where}: quote has {n_words} words (want {QUOTE_WORDS[0]}-{QUOTE_WORDS[1]}): {g['quote']!r}")
        if kind == "multi_doc" and len({g.get("doc") for g in gold if isinstance(g, dict)}) < 2:
            failures.append(f"{where}: multi_doc question needs gold quotes from at least two documents")
    for qid, n in seen_ids.items():
        if n > 1:
            failures.append(f"duplicate id {qid!r} ({n} times)")

    # ---- quotes against documents ----
    doc_names = sorted({g["doc"] for q in questions for g in q.get("gold", []) if isinstance(g, dict) and isinstance(g.get("doc"), str)})
    doc_text: dict[str, str] = {}
    for name in doc_names:
        path = find_doc(name, dirs)
        if path is None:
            failures.append(f"document not found: {name} (searched {', '.join(map(str, dirs))})")
            continue
        try:
            if path not in texts:
                texts[path] = normalise(extract_text(path))
            doc_text[name] = texts[path]
        except Exception as exc:  # noqa: BLE001
            failures.append(f"could not read {path}: {exc}")
    n_quotes = 0
    for q in questions:
        for g in q.get("gold", []):
            if not isinstance(g, dict) or g.get("doc") not in doc_text:
                continue
            n_quotes += 1
            nq = normalise(g["quote"])
            if not nq or nq not in doc_text[g["doc"]]:
                failures.append(f"{q.get('id')}: quote not found in {g['doc']}: {g['quote']!r}")

    # ---- counts ----
    kinds = Counter(q.get("kind") for q in questions)
    conversations = bool(questions) and kinds[FOLLOWUP] == len(questions)
    print(f"questions: {len(questions)}  (answerable {sum(1 for q in questions if q.get('answerable') is True)}, "
          f"unanswerable {sum(1 for q in questions if q.get('answerable') is False)})")
    if conversations:
        print(f"a conversation set: {len(questions)} follow-ups")
        if len(questions) < CONVERSATION_MINIMUM:
            failures.append(f"only {len(questions)} follow-ups, minimum {CONVERSATION_MINIMUM}")
        if not any(q.get("answerable") is False for q in questions):
            failures.append("a conversation set needs follow-ups the documents do not answer")
    else:
        print("per kind:")
        for kind, minimum in KIND_MINIMUMS.items():
            flag = "" if kinds[kind] >= minimum else f"   <-- below minimum {minimum}"
            print(f"  {kind:<13}{kinds[kind]:>4}{flag}")
            if kinds[kind] < minimum:
                failures.append(f"kind {kind!r} has {kinds[kind]} questions, minimum {minimum}")
        if len(questions) < TOTAL_MINIMUM:
            failures.append(f"only {len(questions)} questions, minimum {TOTAL_MINIMUM}")

    per_doc: Counter = Counter()
    for q in questions:
        for d in {g.get("doc") for g in q.get("gold", []) if isinstance(g, dict)}:
            per_doc[d] += 1
    print("answerable questions per document (a multi_doc question counts for each of its documents):")
    for d, n in sorted(per_doc.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:>4}  {d}")
        minimum = MIN_PER_PDF_CONVERSATIONS if conversations else MIN_PER_PDF
        if d.endswith(".pdf") and n < minimum:
            failures.append(f"only {n} questions on {d}, minimum {minimum}")
    print(f"gold quotes checked: {n_quotes}")

    if failures:
        print(f"\nFAILED ({len(failures)}):")
        for f in failures:
            print("  " + f)
        return 1
    print("\nOK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
