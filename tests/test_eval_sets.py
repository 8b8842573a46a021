"""The evaluation-set builder (eval/build_sets.py) on a small data set of the same layout."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from embeddings.evaluate import load_queries

REPO = Path(__file__).resolve().parent.parent


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sets", REPO / "eval" / "build_sets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_sets"] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def _data(tmp: Path) -> Path:
    data = tmp / "data"
    data.mkdir()
    titles = [f"제목{i}" for i in range(10)]
    korquad = {"version": "test", "data": [
        {"title": t, "paragraphs": [
            {"context": f"{t}의 {j}번째 문단이다. 여기에는 {t}에 관한 사실이 적혀 있다.",
             "qas": [{"id": f"{t}-{j}-{k}", "question": f"{t}의 {j}번째 사실은 무엇인가?",
                      "answers": [{"text": f"{t}", "answer_start": 0}]} for k in range(2)]}
            for j in range(2)]} for t in titles]}
    (data / "korquad-v1.0-dev-titles-100-139.json").write_text(
        json.dumps(korquad, ensure_ascii=False), encoding="utf-8")
    en = [f"News sentence number {i} about topic {i // 10}." for i in range(120)]
    ko = [f"{i}번째 뉴스 문장, 주제 {i // 10}." for i in range(120)]
    (data / "korean-english-park.dev.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    (data / "korean-english-park.dev.ko").write_text("\n".join(ko) + "\n", encoding="utf-8")
    return data


def test_every_set_is_built_with_tune_and_test_halves(tmp_path: Path) -> None:
    out = tmp_path / "sets"
    built = _builder().build(_data(tmp_path), out)
    assert sorted(d.name for d in built) == sorted(
        ["korquad", "news-ko-en", "news-en-ko", "mixed", "seed"])
    for directory in built:
        queries = load_queries(directory / "queries.jsonl")  # the file `dari eval` reads
        assert {q.split for q in queries} == {"tune", "test"}, directory.name
        ids = set()
        for path in (directory / "corpus").iterdir():
            text = path.read_text(encoding="utf-8")
            if text.startswith("+++"):
                ids.add(text.split('id = "', 1)[1].split('"', 1)[0])
        generated = {a for q in queries for a in q.relevant_articles()}
        if directory.name != "seed":
            # Every generated relevant article is in the set's corpus (seed articles come
            # from articles/ with their own ids).
            assert {a for a in generated if not a.startswith("how-far")} <= ids, directory.name


def test_korquad_questions_carry_answers_and_titles_never_straddle_halves(tmp_path: Path) -> None:
    (korquad,) = [d for d in _builder().build(_data(tmp_path), tmp_path / "s") if d.name == "korquad"]
    queries = load_queries(korquad / "queries.jsonl")
    assert all(q.answers for q in queries)
    split_of_title: dict[str, set[str]] = {}
    for q in queries:
        title = q.relevant[0].rsplit("-", 1)[0]
        split_of_title.setdefault(title, set()).add(q.split)
    assert all(len(s) == 1 for s in split_of_title.values())


def test_mixed_set_has_off_corpus_questions_in_both_languages(tmp_path: Path) -> None:
    (mixed,) = [d for d in _builder().build(_data(tmp_path), tmp_path / "s") if d.name == "mixed"]
    queries = load_queries(mixed / "queries.jsonl")
    off = [q for q in queries if q.off_topic]
    assert {q.kind for q in off} >= {"ko-off", "en-off"}
    on_kinds = {q.kind for q in queries if not q.off_topic}
    assert {"ko-qa", "ko-news", "en-news", "en-seed", "ko-seed"} <= on_kinds
    # A left-out KorQuAD title is not in the index: none of its paragraphs are articles.
    files = {p.name for p in (mixed / "corpus").iterdir()}
    assert any(f.startswith("inc0-") for f in files)  # the seed article is indexed too


def test_a_repeated_paragraph_counts_every_copy_as_relevant(tmp_path: Path) -> None:
    """KorQuAD holds a paragraph twice now and then (two entries, one text): either copy
    answers its questions, as they rank exactly alike."""
    data = _data(tmp_path)
    path = data / "korquad-v1.0-dev-titles-100-139.json"
    korquad = json.loads(path.read_text(encoding="utf-8"))
    first = korquad["data"][5]["paragraphs"]
    first[1]["context"] = first[0]["context"]
    path.write_text(json.dumps(korquad, ensure_ascii=False), encoding="utf-8")
    built = {d.name: d for d in _builder().build(data, tmp_path / "s")}
    title = korquad["data"][5]["title"]
    about = {name: [q for q in load_queries(built[name] / "queries.jsonl")
                    if q.query.startswith(f"{title}의 ")] for name in ("korquad", "mixed")}
    for name, queries in about.items():
        for q in queries:
            assert q.off_topic or len(q.relevant) == 2, (name, q)
    assert len(about["korquad"]) == 4
    assert all(q.relevant == about["korquad"][0].relevant for q in about["korquad"])
