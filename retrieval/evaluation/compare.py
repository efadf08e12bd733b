"""Two evaluation runs side by side: what a change bought, question by question, and whether it is
more than noise.

`python -m retrieval compare BEFORE.jsonl AFTER.jsonl` reads two answer files written by `eval
--answers` (before and after a change) and, for each set and split that both hold, gives each
headline figure before and after, the difference with its paired 95% bootstrap interval
(`uncertainty`), and every question whose answer changed: answered or declined, holding a gold quote
or not, or only its wording. A difference whose interval holds 0 is not shown to be a gain; one seen
on dev and not on test is none. The answers files come from `eval --answers FILE`: `make eval-blind`
writes `.cache/eval-answers.jsonl` and keeps the run before as `.cache/eval-answers.previous.jsonl`,
so `make eval-blind compare` after a change shows what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from retrieval.evaluation.jsonl import JsonLinesError, read_jsonl
from retrieval.evaluation.uncertainty import paired_balanced_difference, paired_difference

#: the fields `eval --answers` writes that a comparison reads
REQUIRED = ("set", "id", "answerable", "answered", "holds_gold")


class AnswersFileError(ValueError):
    """An answers file that cannot be read or was not written by `eval --answers`; the message is one line."""


def read_answers(path: Path) -> list[dict]:
    """The rows of an `eval --answers` file."""
    try:
        lines = read_jsonl(path)
    except JsonLinesError as exc:
        raise AnswersFileError(str(exc)) from exc
    rows = []
    for number, row in lines:
        missing = [name for name in REQUIRED if not isinstance(row, dict) or name not in row]
        if missing:
            raise AnswersFileError(f"{path}:{number}: no {', '.join(missing)}: not a file written by `eval --answers`")
        rows.append(row)
    if not rows:
        raise AnswersFileError(f"{path}: no answers in it")
    return rows


def label_of(row: dict) -> str:
    """The set and split a row belongs to, as `eval` labels them ("blind-questions (test)")."""
    label, split = row["set"], row.get("split")
    return f"{label} ({split})" if split and not label.endswith(f"({split})") else label


def in_set(row: dict, name: str) -> bool:
    """Whether a row is of the set named ("blind-questions" takes each of its splits)."""
    return row["set"] == name or row["set"].startswith(f"{name} (")


@dataclass
class Measure:
    name: str
    n: int
    before: float
    after: float
    difference: float
    low: float
    high: float

    @property
    def shown(self) -> bool:
        """Whether the interval of the difference leaves out 0: a change more than noise."""
        return self.low > 0 or self.high < 0


@dataclass
class Change:
    id: str
    question: str
    answerable: bool
    before: dict
    after: dict

    @property
    def flipped(self) -> bool:
        return self.before["answered"] != self.after["answered"] or bool(self.before["holds_gold"]) != bool(self.after["holds_gold"])

    @property
    def better(self) -> bool | None:
        """True when the after answer is the better one, False when worse, None when neither (only the wording changed)."""
        b, a = self.before, self.after
        if not self.answerable:
            return None if b["answered"] == a["answered"] else not a["answered"]
        if bool(b["holds_gold"]) != bool(a["holds_gold"]):
            return bool(a["holds_gold"])
        return None if b["answered"] == a["answered"] else bool(a["answered"])


@dataclass
class SetComparison:
    label: str
    n: int  # questions in both files
    n_answerable: int
    only_in_one: int  # questions in one file but not the other (not compared)
    measures: list[Measure] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _measure(name: str, before: list[float], after: list[float]) -> Measure | None:
    found = paired_difference(before, after)
    if found is None:
        return None
    diff, low, high = found
    return Measure(name, len(before), sum(before) / len(before), sum(after) / len(after), diff, low, high)


def _rank(row: dict, name: str) -> float | None:
    value = row.get("ranks", {}).get("hybrid", {}).get(name)
    return float(value) if value is not None else None


def compare_runs(before_rows: list[dict], after_rows: list[dict], split: str | None = None, set_name: str | None = None) -> list[SetComparison]:
    """For each set and split in both runs (optionally only one split or set): the figures and the changed answers."""
    def keyed(rows):
        out: dict[str, dict[str, dict]] = {}
        for row in rows:
            if (split and row.get("split") != split) or (set_name and not in_set(row, set_name)):
                continue
            out.setdefault(label_of(row), {})[row["id"]] = row
        return out

    before, after = keyed(before_rows), keyed(after_rows)
    results = []
    for label in [lb for lb in after if lb in before]:
        b_set, a_set = before[label], after[label]
        ids = [qid for qid in a_set if qid in b_set]
        only = len(set(a_set) ^ set(b_set))
        pos = [qid for qid in ids if a_set[qid]["answerable"]]
        neg = [qid for qid in ids if not a_set[qid]["answerable"]]
        cmp = SetComparison(label, len(ids), len(pos), only)
        ranked = [qid for qid in pos if _rank(b_set[qid], "recall@5") is not None and _rank(a_set[qid], "recall@5") is not None]
        candidates = [
            _measure("hybrid Recall@5", [_rank(b_set[q], "recall@5") for q in ranked], [_rank(a_set[q], "recall@5") for q in ranked]),
            _measure("hybrid MRR@10", [_rank(b_set[q], "mrr@10") for q in ranked], [_rank(a_set[q], "mrr@10") for q in ranked]),
            _measure("answer holds a gold quote", [float(bool(b_set[q]["holds_gold"])) for q in pos], [float(bool(a_set[q]["holds_gold"])) for q in pos]),
            _measure("answered when covered", [float(bool(b_set[q]["answered"])) for q in pos], [float(bool(a_set[q]["answered"])) for q in pos]),
            _measure("declined when not", [float(not b_set[q]["answered"]) for q in neg], [float(not a_set[q]["answered"]) for q in neg]),
        ]
        cmp.measures = [m for m in candidates if m is not None]
        balanced = paired_balanced_difference([bool(b_set[q]["answered"]) for q in pos], [bool(a_set[q]["answered"]) for q in pos],
                                              [not b_set[q]["answered"] for q in neg], [not a_set[q]["answered"] for q in neg])
        if balanced:
            diff, low, high = balanced
            before_ba = (sum(bool(b_set[q]["answered"]) for q in pos) / len(pos) + sum(not b_set[q]["answered"] for q in neg) / len(neg)) / 2
            cmp.measures.append(Measure("balanced accuracy", len(ids), before_ba, before_ba + diff, diff, low, high))
        for qid in ids:
            b, a = b_set[qid], a_set[qid]
            if (b["answered"], bool(b["holds_gold"]), b.get("answer", "")) != (a["answered"], bool(a["holds_gold"]), a.get("answer", "")):
                cmp.changes.append(Change(qid, a.get("question", ""), bool(a["answerable"]), b, a))
        results.append(cmp)
    return results


def _yes(value) -> str:
    return "yes" if value else "no"


def _describe(change: Change) -> str:
    b, a = change.before, change.after
    parts = []
    if b["answered"] != a["answered"]:
        parts.append(f"{'answered' if b['answered'] else 'declined'} -> {'answered' if a['answered'] else 'declined'}")
    if change.answerable and bool(b["holds_gold"]) != bool(a["holds_gold"]):
        parts.append(f"holds a gold quote {_yes(b['holds_gold'])} -> {_yes(a['holds_gold'])}")
    confidence = ""
    if b.get("confidence") is not None and a.get("confidence") is not None:
        confidence = f" (confidence {b['confidence']:.3f} -> {a['confidence']:.3f})"
    mark = {True: "+", False: "-", None: " "}[change.better]
    kind = "answerable" if change.answerable else "not answerable"
    return f"{mark} {change.id} ({kind}): {', '.join(parts)}{confidence}: {change.question}"


def format_comparison(results: list[SetComparison], before: str = "before", after: str = "after") -> str:
    if not results:
        return "No set and split is in both files."
    lines = [f"Before: {before}", f"After: {after}", ""]
    for cmp in results:
        lines += [f"## {cmp.label}", "", f"Questions in both: {cmp.n} ({cmp.n_answerable} answerable)."
                  + (f" In one file only, not compared: {cmp.only_in_one}." if cmp.only_in_one else ""), "",
                  "| measure | n | before | after | difference | 95% interval of the difference |", "|---|---|---|---|---|---|"]
        for m in cmp.measures:
            flag = "" if m.shown else " (includes 0)"
            lines.append(f"| {m.name} | {m.n} | {m.before:.3f} | {m.after:.3f} | {m.difference:+.3f} | {m.low:+.3f} to {m.high:+.3f}{flag} |")
        flips = [c for c in cmp.changes if c.flipped]
        reworded = [c for c in cmp.changes if not c.flipped]
        lines += ["", f"Answers that changed: {len(flips)} answered, declined or holding a gold quote differently (+ better, - worse)"
                  + (f"; {len(reworded)} only worded differently" if reworded else "") + "."]
        lines += [_describe(c) for c in flips]
        if reworded:
            lines.append("Worded differently: " + ", ".join(c.id for c in reworded))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def comparison_json(results: list[SetComparison]) -> dict:
    return {
        cmp.label: {
            "questions": cmp.n, "answerable": cmp.n_answerable, "in_one_file_only": cmp.only_in_one,
            "measures": {m.name: {"n": m.n, "before": round(m.before, 4), "after": round(m.after, 4), "difference": round(m.difference, 4),
                                  "interval": [round(m.low, 4), round(m.high, 4)]} for m in cmp.measures},
            "changed": [{"id": c.id, "answerable": c.answerable, "better": c.better,
                         "answered": [c.before["answered"], c.after["answered"]], "holds_gold": [c.before["holds_gold"], c.after["holds_gold"]],
                         "confidence": [c.before.get("confidence"), c.after.get("confidence")], "question": c.question} for c in cmp.changes],
        }
        for cmp in results
    }
