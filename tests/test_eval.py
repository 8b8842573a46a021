"""Evaluation metrics (unit) and `dari eval` end to end on the seed corpus with the real model.

The end-to-end run is also the real-model test of fusion and of the no-answer threshold:
the pooled fusion must be at least as good as each side on every kind of question, and
off-topic questions of the held-out split must get no answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dari.cli import main
from embeddings.evaluate import (
    EvalQuery,
    QueryFileError,
    calibrate,
    dedupe,
    hit_at,
    load_queries,
    reciprocal_rank,
    summarize,
    threshold_report,
)
from tests.conftest import write_config

REPO = Path(__file__).resolve().parent.parent
QUERIES = REPO / "eval" / "queries.jsonl"


def test_reciprocal_rank_and_hits() -> None:
    assert reciprocal_rank(["a", "b", "c"], {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a"] * 10 + ["b"], {"b"}) == 0.0
    assert hit_at(["a", "b"], {"b"}, 1) == 0.0 and hit_at(["a", "b"], {"b"}, 5) == 1.0
    m = summarize([["a", "b"], ["x", "y"]], [{"b"}, {"z"}])
    assert m["recall@1"] == 0.0 and m["recall@5"] == 0.5 and m["mrr@10"] == pytest.approx(0.25)
    assert summarize([], [])["n"] == 0
    assert dedupe(["a", "b", "a", "c"]) == ["a", "b", "c"]


def test_threshold_report_and_calibration() -> None:
    r = threshold_report([True, False, False, True], [False, True, False, False])
    assert r["refusal_precision"] == 0.5 and r["refusal_recall"] == 1.0
    assert r["answer_recall"] == pytest.approx(2 / 3)
    t = calibrate([0.9, 0.85, 0.7, 0.72], [False, False, True, True])
    assert 0.72 < t < 0.85


def test_query_file(tmp_path: Path) -> None:
    queries = load_queries(QUERIES)
    on = [q for q in queries if not q.off_topic]
    assert len(on) >= 40 and len(queries) - len(on) >= 15
    assert {"en-en", "ko-ko", "en-ko", "ko-en", "name"} <= {q.kind for q in on}
    assert {q.split for q in queries} == {"tune", "test"}
    q = EvalQuery("x", ("art#en5", "other"))
    assert q.relevant_articles() == {"art", "other"} and q.relevant_paragraphs() == {"art#en5"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "ok", "relevant": []}\n{"query": 3\n', encoding="utf-8")
    with pytest.raises(QueryFileError, match="bad.jsonl:2"):
        load_queries(bad)


@pytest.fixture(scope="module")
def eval_result(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("eval")
    cfg = write_config(tmp / "config.toml", REPO / "articles", tmp / "unused", shared_model_dir)
    out = tmp / "out.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["eval", "--config", str(cfg), "--corpus", str(REPO / "articles"),
                     "--also", str(REPO / "eval" / "distractors"),
                     "--queries", str(QUERIES), "--json"])
    assert code == 0
    out.write_text(buffer.getvalue(), encoding="utf-8")
    assert not (tmp / "unused").exists()  # the eval index is throwaway
    return json.loads(buffer.getvalue())


def test_pooled_fusion_beats_each_side(eval_result: dict) -> None:
    methods = eval_result["methods"]
    for kind in ("en-en", "ko-ko", "en-ko", "ko-en", "name", "all"):
        pooled = methods["pooled"][kind]["paragraph"]["mrr@10"]
        for other in ("dense", "keyword", "rrf"):
            assert pooled >= methods[other][kind]["paragraph"]["mrr@10"] - 1e-9, (kind, other)
    assert methods["pooled"]["all"]["paragraph"]["recall@5"] >= 0.95
    # Strictly better where it matters: across languages, and over all questions.
    for kind in ("en-ko", "ko-en", "all"):
        pooled = methods["pooled"][kind]["paragraph"]["mrr@10"]
        assert pooled > max(methods[m][kind]["paragraph"]["mrr@10"] for m in ("dense", "rrf"))


def test_answers_quote_the_right_article(eval_result: dict) -> None:
    # The full search, as quoted: the first passage is from the article asked about, and
    # the distractor articles (neighbouring topics) are rarely quoted beside it.
    search = eval_result["search"]
    assert search["on_topic"] >= 60 and search["first_passage_right_article"] >= 0.95
    assert search["quoted_precision"] >= 0.75
    assert search["off_topic_answered"] <= 2
    assert eval_result["methods"]["pooled"]["all"]["article"]["recall@1"] == 1.0


def test_off_topic_questions_get_no_answer(eval_result: dict) -> None:
    test = eval_result["threshold"]["rule_test"]
    # The held-out off-topic questions refused: 8 of 9 at least (with the companion model,
    # "강아지 배변 훈련 방법" sits just above the threshold against the tiny bundled corpus,
    # whose companion baseline is low; see docs/retrieval.md).
    assert test["refusal_recall"] >= 8 / 9
    assert test["answer_recall"] >= 0.9  # and on-topic ones still answered


def test_eval_rejects_missing_queries_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--corpus", str(REPO / "articles"), "--queries", str(tmp_path / "no.jsonl")])
    assert code == 2 and "not found" in capsys.readouterr().err


@pytest.fixture(scope="module")
def seed_natural(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`dari eval --json` on the natural questions about the seed (eval/seed_questions.jsonl)."""
    import contextlib
    import io

    tmp = tmp_path_factory.mktemp("eval-natural")
    cfg = write_config(tmp / "config.toml", REPO / "articles", tmp / "unused", shared_model_dir)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["eval", "--config", str(cfg), "--corpus", str(REPO / "articles"),
                     "--also", str(REPO / "eval" / "distractors"),
                     "--queries", str(REPO / "eval" / "seed_questions.jsonl"), "--json"])
    assert code == 0
    return json.loads(buffer.getvalue())


def test_eval_json_keeps_its_fields_and_adds_the_new_ones(seed_natural: dict) -> None:
    # Tools read these: they are added to, never renamed.
    assert isinstance(seed_natural["methods"]["pooled"]["all"]["article"]["recall@1"], float)
    search = seed_natural["search"]
    for key in ("first_passage_right_article", "off_topic", "off_topic_answered",
                "on_topic_answered", "answer_quoted"):
        assert key in search, key
    assert set(seed_natural["splits"]) == {"tune", "test", "all"}
    test = seed_natural["splits"]["test"]
    assert {"dense", "keyword", "rrf", "dari", "off_topic_refused", "answer_quoted"} <= set(test)


def test_natural_questions_about_the_seed(seed_natural: dict) -> None:
    # "What does the author say about Dokdo?", "이 칼럼에 대만해협 얘기 나와?": the way people
    # ask about a column, answered from it; questions about anything else refused.
    kinds = seed_natural["splits"]["all"]["kinds"]
    assert kinds["en-natural"]["dari"] >= 0.9 and kinds["ko-natural"]["dari"] >= 0.9
    assert kinds["en-off"]["refused"] >= 0.8 and kinds["ko-off"]["refused"] >= 0.8
