"""Evaluation metrics on hand-made rankings, and the regression guard on the committed figures."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from retrieval import load_questions
from retrieval.evaluation.evaluate import RelevanceJudge, score_ranking

REPO = Path(__file__).resolve().parents[1]
#: how far hybrid Recall@5 may fall below the committed figure before the suite fails
MARGIN = 0.03


def test_score_ranking_exact():
    gold = [frozenset({"a#3"}), frozenset({"b#1", "b#2"})]
    m = score_ranking(["x", "a#3", "y", "z", "q", "b#2"], gold)
    assert m["recall@1"] == 0.0
    assert m["recall@5"] == 0.5
    assert m["recall@10"] == 1.0
    assert m["mrr@10"] == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(7)) / ideal)


def test_relevance_judge_normalises_and_handles_split_quotes():
    from retrieval import Chunk

    def chunk(i, text):
        return Chunk(f"d#{i}", "d", "", 0, len(text), None, None, text, 10)

    judge = RelevanceJudge([chunk(0, "The integra-\ntion of migrants is a two-way process that"), chunk(1, "that involves two parties, the host society.")])
    assert judge.chunks_for("d", "integration of migrants") == {"d#0"}
    split = "a two-way process that involves two parties"
    assert judge.chunks_for("d", split) == {"d#0", "d#1"}
    assert judge.chunks_for("other", "integration of migrants") == frozenset()


def test_eval_set_is_well_formed():
    questions = load_questions()
    assert len(questions) >= 80
    assert len({q.id for q in questions}) == len(questions)
    assert sum(not q.answerable for q in questions) >= 10
    assert all(q.gold for q in questions if q.answerable)


#: the real tier's model (all-MiniLM-L6-v2 for passages and sentences, its sentences' query adapter on)
#: on the team's set over corpus/, recorded when the report's figures (docs/evaluation.json: the default
#: model with its adapters, on the evaluation corpus) moved past what the light model reaches; those are
#: not its figures to meet
LIGHT_MODEL_TEAM_SET = {"model": "all-MiniLM-L6-v2", "recall@5": 0.882, "mrr@10": 0.787}


@pytest.mark.real_model
def test_hybrid_recall_does_not_regress(corpus_index, embedder):
    from retrieval import Retriever, Settings
    from retrieval.evaluation.evaluate import evaluate_retrieval

    if embedder.model_name != LIGHT_MODEL_TEAM_SET["model"]:
        pytest.skip(f"the recorded figures are {LIGHT_MODEL_TEAM_SET['model']}'s, not {embedder.model_name}'s")
    retriever = Retriever.open(Settings.from_env(index_dir=corpus_index), embedder=embedder)
    result = evaluate_retrieval(retriever, load_questions(), modes=("hybrid",))
    now = result["modes"]["hybrid"]["metrics"]["all"]
    for metric in ("recall@5", "mrr@10"):
        assert now[metric] >= LIGHT_MODEL_TEAM_SET[metric] - MARGIN, f"hybrid {metric} {now[metric]:.3f} < recorded {LIGHT_MODEL_TEAM_SET[metric]:.3f} - {MARGIN}"
    assert not result["unmatched_quotes"], result["unmatched_quotes"]


def test_blind_set_is_split_and_well_formed():
    from retrieval.evaluation.evaluate import BLIND_QUESTIONS, splits_of

    questions = load_questions(BLIND_QUESTIONS)
    assert len(questions) >= 150 and len({q.id for q in questions}) == len(questions)
    assert splits_of(questions) == ["dev", "test"]
    assert sum(not q.answerable for q in questions) >= 25
    assert sum(len(q.docs) > 1 for q in questions) >= 10
    assert all(q.gold for q in questions if q.answerable) and not any(q.gold for q in questions if not q.answerable)
    dev, test = load_questions(BLIND_QUESTIONS, "dev"), load_questions(BLIND_QUESTIONS, "test")
    assert len(dev) + len(test) == len(questions) and not {q.id for q in dev} & {q.id for q in test}
    docs = {d for q in questions for d in q.docs}
    assert len(docs) == 12  # all ten PDFs of ../shared/pdfs and both Markdown documents


QUESTION_SETS = ["questions.jsonl", "blind-questions.jsonl", "blind-questions-2.jsonl", "blind-questions-3.jsonl", "blind-conversations.jsonl"]


@pytest.fixture(scope="module")
def question_checker_reports(shared_pdfs) -> dict[str, str]:
    """eval/check_questions.py run once over every set (each document read once, not once per set):
    each set's report, by file name."""
    import subprocess
    import sys

    args = [arg for name in QUESTION_SETS for arg in ("--questions", str(REPO / "eval" / name))]
    run = subprocess.run([sys.executable, str(REPO / "eval" / "check_questions.py"), *args], check=False, capture_output=True, text=True)
    reports = {Path(head).name: body for head, body in re.findall(r"^== ([^\n]+) ==\n(.*?)(?=^== |\Z)", run.stdout, re.MULTILINE | re.DOTALL)}
    assert sorted(reports) == sorted(QUESTION_SETS), run.stdout[-2000:] + run.stderr[-2000:]
    return reports


@pytest.mark.real_pdfs
@pytest.mark.parametrize("name", QUESTION_SETS)
def test_the_question_checker_passes_each_set_with_its_documents(name, question_checker_reports):
    """eval/check_questions.py, the check a maintainer runs after editing a set, passes both sets
    (the blind set's split and note fields and its "figure" kind included) against the documents."""
    report = question_checker_reports[name]
    assert "OK: all checks passed" in report, report[-2000:]


def test_the_question_checker_refuses_an_unknown_split(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x-1", "split": "train", "kind": "unanswerable", "question": "Who won?", "answerable": False, "gold": []}) + "\n")
    run = subprocess.run([sys.executable, str(REPO / "eval" / "check_questions.py"), "--questions", str(bad)], check=False, capture_output=True, text=True)
    assert run.returncode == 1 and "split must be one of dev, test, not 'train'" in run.stdout


def test_a_conversation_set_keeps_each_follow_up_with_its_history(tmp_path):
    import subprocess
    import sys

    rows = [{"id": "v-1", "split": "dev", "kind": "followup", "history": ["Can an EU citizen stay in another member state to look for a job?"],
             "question": "and for how long?", "answerable": False, "gold": []},
            {"id": "v-2", "split": "dev", "kind": "followup", "question": "and for how long?", "answerable": False, "gold": []}]
    conversations = tmp_path / "conversations.jsonl"
    conversations.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    first, second = load_questions(conversations)
    assert first.history == ("Can an EU citizen stay in another member state to look for a job?",)
    assert first.query == "Can an EU citizen stay in another member state to look for a job? and for how long?"
    assert second.query == "and for how long?"
    run = subprocess.run([sys.executable, str(REPO / "eval" / "check_questions.py"), "--questions", str(conversations)], check=False, capture_output=True, text=True)
    assert run.returncode == 1 and "(v-2): a follow-up needs 'history'" in run.stdout
    assert "(v-1)" not in run.stdout


def test_blind_quotes_are_in_the_corpus_index(corpus_index, embedder):
    """Every gold quote of a document the corpus holds is found in some chunk; questions on the
    test-only PDFs are set aside, not failed."""
    from retrieval.evaluation.evaluate import BLIND_QUESTIONS, answerable_here
    from retrieval.store.files import open_index

    index = open_index(corpus_index)
    kept, skipped = answerable_here(load_questions(BLIND_QUESTIONS), index.rows_by_doc)
    assert kept and skipped
    assert RelevanceJudge(index.chunks).unmatched([q for q in kept if q.answerable]) == []


def test_answer_level_helpers():
    from retrieval.evaluation.evaluate import auroc, holds_quote

    assert holds_quote("It saved us about six-months, compared to the standard", "about six months compared")
    assert not holds_quote("It saved us time.", "about six months")
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.5], [0.5]) == 0.5
    assert auroc([0.9], []) is None


def test_the_source_of_a_question_is_the_kind_of_its_gold_documents():
    from retrieval.evaluation.evaluate import Question, source_of

    def q(*docs):
        return Question("x", "factual", "?", True, tuple((d, "quote") for d in docs))

    assert source_of(q("interact-expert-survey-2015.md")) == "Markdown"
    assert source_of(q("eu-regulation-604-2013-dublin-iii.pdf", "x.PDF")) == "PDF"
    assert source_of(q("interact-expert-survey-2015.md", "eu-regulation-604-2013-dublin-iii.pdf")) == "Markdown and PDF"
    assert source_of(Question("y", "unanswerable", "?", False, ())) == ""


@pytest.mark.real_model  # declines the off-topic question as the real model reads it
def test_eval_writes_each_question_s_answer_for_reading_failures(corpus_index, tmp_path, capsys):
    """`eval --answers FILE`: a JSONL row per question with the answer given, whether it holds a gold
    quote, and where each mode ranked the gold passages; a declined question has no answer text."""
    from retrieval.cli.main import main

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(json.dumps(r) for r in [
            {"id": "dims", "kind": "list", "question": "What are the three dimensions of integration policies?", "answerable": True,
             "gold": [{"doc": "budapest-process-integration-reintegration-2016.md", "quote": "Structural integration"}]},
            {"id": "cup", "kind": "factual", "question": "Who won the 2018 FIFA World Cup?", "answerable": False, "gold": []},
        ]) + "\n",
        encoding="utf-8",
    )
    answers = tmp_path / "out" / "answers.jsonl"
    assert main(["eval", "--questions", str(questions), "--modes", "hybrid,lexical", "--index", str(corpus_index), "--answers", str(answers)]) == 0
    assert "answers to 2 questions written" in capsys.readouterr().err
    rows = {r["id"]: r for r in map(json.loads, answers.read_text(encoding="utf-8").splitlines())}
    dims, cup = rows["dims"], rows["cup"]
    assert dims["set"] == "q" and dims["answerable"] and dims["answered"] and dims["holds_gold"]
    assert "Structural integration" in dims["answer"] and dims["answer_docs"][0] == "budapest-process-integration-reintegration-2016.md"
    assert set(dims["ranks"]) == {"hybrid", "lexical"} and dims["ranks"]["hybrid"]["recall@5"] == 1.0
    assert dims["gold"] == [{"doc": "budapest-process-integration-reintegration-2016.md", "quote": "Structural integration"}]
    assert len(dims["top5"]) == 5 and all("#" in chunk_id for chunk_id in dims["top5"])
    assert not cup["answered"] and cup["answer"] == "" and cup["holds_gold"] is False and cup["ranks"] == {}
    assert 0 <= cup["confidence"] < dims["confidence"]
    # the report gives each headline figure's 95% interval
    report = tmp_path / "report.md"
    assert main(["eval", "--questions", str(questions), "--modes", "hybrid", "--index", str(corpus_index), "--report", str(report)]) == 0
    capsys.readouterr()
    text = report.read_text(encoding="utf-8")
    assert "95% intervals (bootstrap over the questions" in text
    # and names the models, and their precision, that embedded the index and read the questions
    version = (corpus_index / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = json.loads((corpus_index / version / "manifest.json").read_text(encoding="utf-8"))
    assert f"Passages: {manifest['model']}, embedded in {manifest['build']['precision']} on {manifest['build']['backend']}" in text
    assert f"sentences: {manifest['sentence_model']}; questions read in " in text
    figures = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    low, high = figures["sets"]["q"]["intervals"]["balanced accuracy"]
    assert low <= figures["sets"]["q"]["not_covered"]["balanced_accuracy"] <= high

    # `compare`: a run against itself changes nothing; against a run that answered the cup question, that is one answer worse
    assert main(["compare", str(answers), str(answers)]) == 0
    out = capsys.readouterr().out
    assert "Answers that changed: 0" in out and "| balanced accuracy | 2 | 1.000 | 1.000 | +0.000 |" in out
    worse = tmp_path / "worse.jsonl"
    worse.write_text("".join(json.dumps(r | ({"answered": True, "answer": "France"} if r["id"] == "cup" else {})) + "\n" for r in rows.values()), encoding="utf-8")
    assert main(["compare", str(answers), str(worse)]) == 0
    out = capsys.readouterr().out
    assert "| declined when not | 1 | 1.000 | 0.000 | -1.000 |" in out
    assert "- cup (not answerable): declined -> answered" in out
    assert main(["compare", str(answers), str(tmp_path / "none.jsonl")]) == 2
    assert "error: cannot read" in capsys.readouterr().err


def test_word_overlap_counts_the_questions_content_words_found_in_the_best_answering_quote():
    from retrieval.evaluation.evaluate import overlap_band, word_overlap

    quotes = ["Member States shall ensure that beneficiaries of international protection have access to employment",
              "the right to work"]
    # "beneficiaries", "international", "protection" of six content words (stemmed; "of" and "a" are stop words)
    assert word_overlap("Can beneficiaries of international protection take a job?", quotes) == pytest.approx(3 / 6)
    assert word_overlap("Can refugees get a job?", quotes) == 0.0
    assert overlap_band(0.0) == "under 1/4" and overlap_band(0.25) == "1/4 to 1/2" and overlap_band(1.0) == "over 1/2"


def test_the_second_blind_set_is_written_as_officials_ask():
    """Most of its answerable questions share under a quarter of their words with the answer, and
    it has its own dev and test split."""
    from retrieval import load_questions
    from retrieval.evaluation.evaluate import BLIND_QUESTIONS_2, word_overlap

    questions = load_questions(BLIND_QUESTIONS_2)
    answerable = [q for q in questions if q.answerable]
    low = [q for q in answerable if word_overlap(q.question, [quote for _, quote in q.gold]) < 0.25]
    assert len(questions) >= 120 and {q.split for q in questions} == {"dev", "test"}
    assert len(low) >= len(answerable) / 2
