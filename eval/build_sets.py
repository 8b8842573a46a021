"""Build Dari's evaluation sets from the development data in ``../shared/data``.

Nothing here is committed as data: the sets are generated into ``build/eval/<set>/`` (a
``corpus/`` of curated Markdown articles and a ``queries.jsonl``), so the licences of the
sources (KorQuAD: CC BY-ND; the news pairs: CC BY-SA) are respected and a new copy of the
data builds the same sets. Every set is split into *tune* and *test* halves by a stable
hash of its unit (a KorQuAD title, a block of news lines), so questions about one topic are
never on both sides; constants are fit on tune, figures are reported on test.

Sets:

- ``korquad`` — Korean Wikipedia QA: each KorQuAD paragraph is an article of its own; the
  questions carry their answer spans (``answers``) for ``answer_quoted``.
- ``news-ko-en`` / ``news-en-ko`` — a Korean news sentence finds its English translation in
  an English-only index, and the reverse.
- ``mixed`` — one index of several kinds: Korean QA paragraphs, English-only, Korean-only and
  bilingual news articles (blocks of consecutive pairs), the bundled seed article and the
  distractor articles; on-corpus questions in both languages and **off-corpus** ones (KorQuAD
  titles and news blocks left out of the index, and written off-topic questions), which must
  get no passage.
- ``seed`` — natural questions about the seed article, written for Dari (casual phrasings,
  "the author", "this column", "필자", "글쓴이", both languages) with off-topic ones
  (``eval/seed_questions.jsonl``), over the bundled corpus and the distractor articles.

Usage: ``python eval/build_sets.py [--data DIR] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "build" / "eval"
KORQUAD = "korquad-v1.0-dev-titles-100-139.json"
NEWS = "korean-english-park.dev"
# Consecutive news lines come from the same stories; a block of this many lines is the unit
# of the news sets' articles and of their tune/test split.
NEWS_BLOCK = 10
# Share of KorQuAD titles left out of the mixed index (their questions are off-corpus).
HELD_OUT_TITLES = 0.3
# Questions per in-index KorQuAD title in the mixed set (keeps the set balanced by kind).
MIXED_QA_PER_TITLE = 12


@dataclass
class Article:
    """One generated article file: front matter and paragraphs (any language)."""

    id: str
    title: str
    paragraphs: list[str]
    outlet: str = "Dari evaluation data"

    def markdown(self) -> str:
        """The curated-Markdown text of the article."""
        head = (f'+++\nid = {json.dumps(self.id)}\ntitle = {json.dumps(self.title, ensure_ascii=False)}\n'
                f'outlet = {json.dumps(self.outlet)}\n+++\n')
        return head + "".join(f"\n{p}\n" for p in self.paragraphs)


@dataclass
class EvalSet:
    """A generated set: its articles and query lines."""

    name: str
    articles: list[Article] = field(default_factory=list)
    queries: list[dict[str, object]] = field(default_factory=list)
    # Directories of existing article files indexed with the generated ones.
    include: list[Path] = field(default_factory=list)


def split_of(unit: str) -> str:
    """"tune" or "test" by a stable hash of ``unit`` (about half each)."""
    return "tune" if hashlib.sha1(unit.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def clean(text: str) -> str:
    """One line of text: whitespace collapsed (paragraphs are separated by blank lines)."""
    return re.sub(r"\s+", " ", text).strip()


def slug(text: str) -> str:
    """A short stable id part for any text (titles are Korean, ids must be ASCII)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


# -- sources --------------------------------------------------------------------------------

@dataclass(frozen=True)
class QaParagraph:
    title: str
    index: int
    context: str
    questions: tuple[tuple[str, tuple[str, ...]], ...]  # (question, answer texts)

    @property
    def article_id(self) -> str:
        return f"kq-{slug(self.title)}-{self.index}"


def read_korquad(path: Path) -> list[QaParagraph]:
    """KorQuAD paragraphs with their questions and answer texts."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for entry in data:
        for i, para in enumerate(entry["paragraphs"], start=1):
            qs = tuple((clean(q["question"]), tuple(clean(a["text"]) for a in q["answers"]))
                       for q in para["qas"])
            out.append(QaParagraph(entry["title"], i, clean(para["context"]), qs))
    return out


def read_news(data: Path) -> list[tuple[str, str]]:
    """(English, Korean) sentence pairs, in file order."""
    en = (data / f"{NEWS}.en").read_text(encoding="utf-8").splitlines()
    ko = (data / f"{NEWS}.ko").read_text(encoding="utf-8").splitlines()
    if len(en) != len(ko):
        raise SystemExit(f"{NEWS}.en has {len(en)} lines but {NEWS}.ko has {len(ko)}")
    return [(clean(e), clean(k)) for e, k in zip(en, ko)]


def same_text(paragraphs: Sequence[QaParagraph]) -> dict[str, list[str]]:
    """Each paragraph's article id → every article id holding the same context text.

    KorQuAD repeats a paragraph under one title now and then (two entries of one text, each
    with its own questions); a question about it is answered by either copy, which rank
    exactly alike, so counting one of them wrong scored a tie by paragraph number."""
    holders: dict[str, list[str]] = {}
    for p in paragraphs:
        holders.setdefault(p.context, []).append(p.article_id)
    return {p.article_id: holders[p.context] for p in paragraphs}


def qa_article(p: QaParagraph) -> Article:
    return Article(p.article_id, f"{p.title} ({p.index})", [p.context], "Korean Wikipedia")


# -- sets -----------------------------------------------------------------------------------

def korquad_set(paragraphs: Sequence[QaParagraph]) -> EvalSet:
    """Korean QA: every paragraph an article; every question with its answers."""
    s = EvalSet("korquad", [qa_article(p) for p in paragraphs])
    copies = same_text(paragraphs)
    for p in paragraphs:
        for question, answers in p.questions:
            s.queries.append({"query": question, "relevant": copies[p.article_id],
                              "answers": list(answers),
                              "kind": "ko-qa", "split": split_of(p.title)})
    return s


def news_sets(pairs: Sequence[tuple[str, str]]) -> list[EvalSet]:
    """ko→en (English-only index) and en→ko (Korean-only index): a sentence is an article."""
    out = []
    for name, index_side, query_side, kind in (("news-ko-en", 0, 1, "ko-en"),
                                               ("news-en-ko", 1, 0, "en-ko")):
        s = EvalSet(name)
        seen: set[str] = set()
        for line, pair in enumerate(pairs):
            text, query = pair[index_side], pair[query_side]
            if not text or not query or text in seen:
                continue  # a repeated sentence would be merged into one article
            seen.add(text)
            aid = f"news-{line + 1}"
            s.articles.append(Article(aid, f"News sentence {line + 1}", [text], "Korean news"))
            s.queries.append({"query": query, "relevant": [aid], "kind": kind,
                              "split": split_of(f"news-block-{line // NEWS_BLOCK}")})
        out.append(s)
    return out


# The news blocks of the mixed set cycle through these roles; a "gap" block is neither
# indexed nor asked about, so a left-out block's story does not continue in an indexed one.
_BLOCK_ROLES = ("bilingual", "en", "ko", "gap", "off", "gap")


def mixed_set(paragraphs: Sequence[QaParagraph], pairs: Sequence[tuple[str, str]],
              off_topic: Sequence[dict[str, object]], seed_dirs: Sequence[Path]) -> EvalSet:
    """One index of every kind, with on- and off-corpus questions in both languages."""
    s = EvalSet("mixed", include=list(seed_dirs))
    titles = sorted({p.title for p in paragraphs}, key=slug)
    held = set(titles[: round(len(titles) * HELD_OUT_TITLES)])
    per_title: dict[str, int] = {}
    indexed = {p.article_id for p in paragraphs if p.title not in held}
    # A repeated text is answered by whichever copy is indexed.
    copies = {aid: [c for c in cs if c in indexed] for aid, cs in same_text(paragraphs).items()}
    for p in paragraphs:
        if p.title not in held:
            s.articles.append(qa_article(p))
        for question, answers in p.questions:
            if p.title in held:
                # A left-out title's question whose text is indexed under another title is
                # not off-corpus: it is not asked.
                if not copies[p.article_id]:
                    s.queries.append({"query": question, "relevant": [], "kind": "ko-off",
                                      "split": split_of(p.title)})
            elif per_title.get(p.title, 0) < MIXED_QA_PER_TITLE:
                per_title[p.title] = per_title.get(p.title, 0) + 1
                s.queries.append({"query": question, "relevant": copies[p.article_id],
                                  "answers": list(answers), "kind": "ko-qa",
                                  "split": split_of(p.title)})
    for b in range(0, len(pairs), NEWS_BLOCK):
        block = [pr for pr in pairs[b: b + NEWS_BLOCK] if pr[0] and pr[1]]
        role = _BLOCK_ROLES[(b // NEWS_BLOCK) % len(_BLOCK_ROLES)]
        split = split_of(f"news-block-{b // NEWS_BLOCK}")
        aid = f"news-block-{b // NEWS_BLOCK + 1}"
        title = f"News block {b // NEWS_BLOCK + 1}"
        if role == "bilingual":
            s.articles.append(Article(aid, title, [e for e, _ in block] + [k for _, k in block],
                                      "Korean news"))
        elif role == "en":
            s.articles.append(Article(aid, title, [e for e, _ in block], "Korean news"))
            s.queries += [{"query": k, "relevant": [aid], "kind": "ko-news", "split": split}
                          for _, k in block]
        elif role == "ko":
            s.articles.append(Article(aid, title, [k for _, k in block], "Korean news"))
            s.queries += [{"query": e, "relevant": [aid], "kind": "en-news", "split": split}
                          for e, _ in block]
        elif role == "off":
            s.queries += [{"query": e, "relevant": [], "kind": "en-off", "split": split}
                          for e, _ in block]
            s.queries += [{"query": k, "relevant": [], "kind": "ko-off", "split": split}
                          for _, k in block]
    s.queries += [dict(q) for q in off_topic]
    s.queries += [dict(q) for q in seed_on_topic_for_mixed()]
    return s


def seed_questions() -> list[dict[str, object]]:
    """The written questions about the seed article (and off-topic ones)."""
    path = ROOT / "eval" / "seed_questions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_on_topic_for_mixed() -> list[dict[str, object]]:
    """The seed questions as on-corpus questions of the mixed set (article-level)."""
    out = []
    for q in seed_questions():
        if q["relevant"]:
            lang = "ko" if re.search(r"[\uac00-\ud7a3]", str(q["query"])) else "en"
            out.append({"query": q["query"], "relevant": q["relevant"],
                        "kind": f"{lang}-seed", "split": q["split"]})
    return out


def off_topic_questions() -> list[dict[str, object]]:
    """The seed set's off-topic questions, which are off-corpus in the mixed set too."""
    out = []
    for q in seed_questions():
        if not q["relevant"]:
            lang = "ko" if re.search(r"[\uac00-\ud7a3]", str(q["query"])) else "en"
            out.append({"query": q["query"], "relevant": [], "kind": f"{lang}-off",
                        "split": q["split"]})
    return out


def seed_set() -> EvalSet:
    """Natural questions about the seed, over the bundled corpus and the distractors."""
    return EvalSet("seed", queries=seed_questions(),
                   include=[ROOT / "articles", ROOT / "eval" / "distractors"])


# -- writing --------------------------------------------------------------------------------

def write_set(s: EvalSet, out: Path) -> Path:
    """Write ``s`` under ``out/<name>/``: ``corpus/`` (articles and included files) and
    ``queries.jsonl``; returns the set's directory."""
    target = out / s.name
    if target.exists():
        shutil.rmtree(target)
    corpus = target / "corpus"
    corpus.mkdir(parents=True)
    for a in s.articles:
        (corpus / f"{a.id}.md").write_text(a.markdown(), encoding="utf-8")
    for i, directory in enumerate(s.include):
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix in (".md", ".txt"):
                shutil.copy(path, corpus / f"inc{i}-{path.name}")
    lines = (json.dumps(q, ensure_ascii=False) for q in s.queries)
    (target / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def build(data: Path, out: Path) -> list[Path]:
    """Build every set from ``data`` into ``out``; returns the set directories."""
    korquad = data / KORQUAD
    missing = [p for p in (korquad, data / f"{NEWS}.en", data / f"{NEWS}.ko") if not p.exists()]
    if missing:
        raise SystemExit("development data not found: " + ", ".join(map(str, missing))
                         + " (pass --data DIR)")
    paragraphs = read_korquad(korquad)
    pairs = read_news(data)
    sets: list[EvalSet] = [korquad_set(paragraphs), *news_sets(pairs),
                           mixed_set(paragraphs, pairs, off_topic_questions(),
                                     [ROOT / "articles", ROOT / "eval" / "distractors"]),
                           seed_set()]
    return [write_set(s, out) for s in sets]


def summary(directories: Iterable[Path]) -> str:
    rows = []
    for d in directories:
        queries = [json.loads(x) for x in (d / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
        files = len(list((d / "corpus").iterdir()))
        off = sum(not q["relevant"] for q in queries)
        test = sum(q.get("split") == "test" for q in queries)
        rows.append(f"{d.name}: {files} article files, {len(queries)} questions "
                    f"({off} off-corpus, {test} in the test half)")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the development data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the sets go")
    args = parser.parse_args(argv)
    print(summary(build(args.data, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
