"""Tokeniser and BM25 keyword index: Korean morphemes, English normalisation, exact names."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.keyword import K1, B, KeywordIndex, parameters_of
from embeddings.tokenize import joined_abbreviations, stem, tokenize
from tests.quality_support import seed_paragraphs


@pytest.fixture(scope="module")
def seed_index() -> KeywordIndex:
    en, ko = seed_paragraphs()
    ids = [f"en{i}" for i in range(1, len(en) + 1)] + [f"ko{i}" for i in range(1, len(ko) + 1)]
    return KeywordIndex.build(ids, en + ko)


def test_korean_content_morphemes_without_particles() -> None:
    tokens = tokenize("일본의 독도 영유권 주장을 기시다 총리가 했다")
    assert {"일본", "독도", "주장", "기시다", "총리"} <= set(tokens)
    assert not {"의", "을", "가", "다"} & set(tokens)  # particles and endings dropped


def test_latin_inside_korean_is_normalised_like_english() -> None:
    assert {"trilateral", "alliance"} <= set(tokenize("‘3국 동맹(trilateral alliances)’이라는 표현"))


def test_english_lowercase_stopwords_stemming() -> None:
    tokens = tokenize("The Korea-U.S.-Japan relations and Japan's claims")
    assert tokens == ["korea", "usa", "japan", "relation", "japan", "claim"]
    assert stem("cooperation") == "cooperation" and stem("countries") == "country"
    assert tokenize("") == [] and tokenize("the of and") == []


def test_interpunct_compounds_match_what_readers_type() -> None:
    # Korean prints 한·미·일 / 남·북 and readers type 한미일 / 남북: the same words either way.
    assert joined_abbreviations("한·미·일 협력과 한·일관계") == "한미일 협력과 한일관계"
    assert tokenize("한·미·일 군사협력") == tokenize("한미일 군사협력")
    assert set(tokenize("한·일 사이에 안 풀린 문제")) & set(tokenize("한일 사이의 문제"))
    assert tokenize("남·북 정상") == tokenize("남북 정상")
    # After a longer word the interpunct separates a list: 경제·사회 is two words, not one.
    assert joined_abbreviations("경제·사회 분야") == "경제 사회 분야"
    assert {"경제", "사회"} <= set(tokenize("경제·사회 분야"))
    # Every interpunct Korean text uses, and nothing else is touched.
    assert joined_abbreviations("미\u318d중\u30fb일\u2027러") == "미중일러"
    assert joined_abbreviations("U.S.·Japan ties") == "U.S.·Japan ties"


def test_bigram_mode() -> None:
    assert tokenize("독도 영유권", korean="bigram") == ["독도", "영유", "유권"]


@pytest.mark.parametrize("query,expected", [
    ("Dokdo", "en7"), ("독도", "ko6"), ("Kishida", "en6"), ("기시다 후미오", "ko5"),
    ("NATO summit", "en5"), ("민관협의체 구성", "ko7"),
])
def test_exact_names_rank_first(seed_index: KeywordIndex, query: str, expected: str) -> None:
    hits = seed_index.search(query, 5)
    assert hits and hits[0][0] == expected
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_no_match_gives_nothing(seed_index: KeywordIndex) -> None:
    assert seed_index.search("kimchi recipe", 5) == []
    assert seed_index.search("   ", 5) == []


def test_scores_for_counterparts(seed_index: KeywordIndex) -> None:
    scores = seed_index.scores_for("Dokdo", ["en7", "ko6", "missing"])
    assert scores["en7"] > 0 and scores["ko6"] == 0 and "missing" not in scores


def test_save_load_round_trip(seed_index: KeywordIndex, tmp_path: Path) -> None:
    seed_index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.search("독도", 3) == seed_index.search("독도", 3)
    with pytest.raises(FileNotFoundError):
        KeywordIndex.load(tmp_path / "nothing")


def test_an_index_is_scored_with_the_shipped_bm25_parameters(tmp_path: Path) -> None:
    # Built, saved and loaded: bm25s's scores at K1 / B (not its defaults), bit for bit, and
    # the parameters readable from the saved index (what a refresh compares).
    import bm25s

    texts = ["The tariff talks stalled.",
             "Tariff, tariff and tariff again: the tariff column repeats the tariff word in a "
             "long paragraph about trade, ports, ships, the summit, the dollar and the won."]
    built = KeywordIndex.build(["short", "long"], texts)
    built.save(tmp_path / "kw")
    assert parameters_of(tmp_path / "kw") == (K1, B) == (0.5, 0.75)
    reference = bm25s.BM25(k1=K1, b=B)
    reference.index([tokenize(t) for t in texts], show_progress=False)
    expected = reference.get_scores(tokenize("tariff"))
    got = KeywordIndex.load(tmp_path / "kw").scores_for("tariff", ["short", "long"])
    assert [got["short"], got["long"]] == [float(x) for x in expected]
    assert parameters_of(tmp_path / "nothing") is None


def test_empty_and_invalid_builds(tmp_path: Path) -> None:
    empty = KeywordIndex.build([], [])
    assert empty.search("Dokdo", 3) == []
    empty.save(tmp_path / "e")
    assert len(KeywordIndex.load(tmp_path / "e")) == 0
    assert parameters_of(tmp_path / "e") is None  # no score matrix: nothing to rebuild
    with pytest.raises(ValueError):
        KeywordIndex.build(["a", "a"], ["x", "y"])


def test_sparse_scoring_matches_bm25s_over_the_whole_corpus(tmp_path: Path) -> None:
    """Lookups and the MaxScore top-n give bm25s's own scores, bit for bit, for questions
    of rare and common words (the dense fallback included), before and after a reload."""
    import bm25s
    import numpy as np

    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(400)]
    docs = [[vocab[w] for w in (rng.zipf(1.3, 12) - 1) % len(vocab)] for _ in range(3000)]
    ids = [f"p{i}" for i in range(len(docs))]
    reference = bm25s.BM25(k1=K1, b=B)
    reference.index(docs, show_progress=False)
    built = KeywordIndex.from_bm25(ids, reference)
    built.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    questions = [["w0", "w1"], ["w399", "w0"], ["w5", "w5", "w77", "w2"], ["w300"],
                 ["unknown"], [vocab[i] for i in rng.choice(60, 6)]]
    questions += [[vocab[i] for i in (rng.zipf(1.3, 5) - 1) % len(vocab)] for _ in range(30)]
    for index in (built, loaded):
        for question in questions:
            known = [t for t in question if t in reference.vocab_dict]
            full = (reference.get_scores(known) if known
                    else np.zeros(len(docs), dtype=np.float32))
            scores = index.scores(question)
            assert np.array_equal(scores.at(np.arange(len(docs))), full.astype(np.float32))
            for n in (1, 10, 150):
                numbers, values = scores.best(n)
                order = np.lexsort((np.arange(len(docs)), -full))
                expected = [i for i in order if full[i] > 0][:n]
                assert numbers.tolist() == expected
                assert np.array_equal(values, full[expected].astype(np.float32))
                # Lookups after a top-n read what it scored, and search the rest.
                assert np.array_equal(scores.at(np.arange(len(docs))), full.astype(np.float32))
            fresh = index.scores(question)
            fresh.best(10)
            assert np.array_equal(fresh.at(np.arange(len(docs))[::-1]),
                                  full[::-1].astype(np.float32))


def test_rare_words_the_corpus_never_saw_are_counted(seed_index: KeywordIndex) -> None:
    # A stand-in for the language-wide rarity (the real one is tested in test_rarity.py):
    # two names rare everywhere, every other word common.
    def rarity(word: str) -> float:
        return 40.0 if word in {"페니키아", "가나안"} else 10.0

    def unknown(question: str) -> float:
        return seed_index.scores(tokenize(question)).unknown(rarity, 25.0)

    # Every word indexed: nothing unknown. One rare word the articles never use: a share of
    # the question that grows with how many such words it has; a question of nothing but
    # such words is all unknown (the keyword shares cannot show this: they are of known
    # words only).
    assert unknown("독도 기시다") == 0.0
    one, two = unknown("독도 기시다 페니키아"), unknown("독도 페니키아 가나안")
    assert 0.0 < one < two < 1.0
    assert unknown("페니키아 가나안") == 1.0
    # An unseen word weighs more than the rarest indexed one: with one of each, over half.
    assert unknown("기시다 페니키아") > 0.5
    # An everyday word the small corpus happens not to use is no evidence; nor is anything
    # without a rarity to judge by.
    assert seed_index.scores(tokenize("독도 냉장고")).missing == ("냉장고",)
    assert unknown("독도 냉장고") == 0.0
    assert seed_index.scores(tokenize("독도 페니키아")).unknown(None, 25.0) == 0.0
    assert unknown("") == 0.0


def test_a_korean_word_held_in_another_segmentation_is_not_unseen(
        seed_index: KeywordIndex) -> None:
    # The seed column writes 대만해협 (kiwipiepy keeps it whole there), while a question's
    # "대만해협 얘기" is cut into 대만 and 해협: neither is an indexed word, yet the column
    # mentions both.
    assert "대만해협" in seed_index.vocabulary
    question = seed_index.scores(tokenize("이 칼럼에 대만해협 얘기 나와?"))
    assert {"대만", "해협"} <= set(question.missing)
    assert seed_index.spelled_otherwise("대만") and seed_index.spelled_otherwise("해협")

    def rarity(word: str) -> float:
        return 40.0 if word in {"대만", "해협", "페니키아"} else 10.0

    assert question.unknown(rarity, 25.0) == 0.0
    # A word indexed itself that starts a longer one is found past its own entry.
    assert {"동맹", "동맹국"} <= set(seed_index.vocabulary) and seed_index.spelled_otherwise("동맹")
    # The other way round: a compound of two indexed words of two syllables or more.
    assert {"정상", "회담"} <= set(seed_index.vocabulary)
    assert "정상회담" not in seed_index.vocabulary
    assert seed_index.spelled_otherwise("정상회담")
    # kiwipiepy writes some names as one morpheme with spaces; each word is judged.
    assert seed_index.spelled_otherwise("정상 회담") and seed_index.spelled_otherwise("대만 정상회담")
    assert not seed_index.spelled_otherwise("정상 페니키아")
    # A name the articles never use is still unseen, and so is a name that only splits into
    # an indexed word and a single syllable (every syllable is a word somewhere); words
    # that are not Hangul are not judged.
    assert not seed_index.spelled_otherwise("페니키아")
    assert "핵" in seed_index.vocabulary and not seed_index.spelled_otherwise("독도핵")
    assert not seed_index.spelled_otherwise("phoenicia")
    assert seed_index.scores(tokenize("독도 페니키아")).unknown(rarity, 25.0) > 0.0
