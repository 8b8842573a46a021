"""Fit the fusion's constants on the *tune* halves of the evaluation sets.

Reads what ``python eval/report.py --dump FILE`` saved (every question's candidates with
their exact evidence, from the retriever's own pipeline) and fits, on tune questions only:

1. the ranking constants (``COUNTERPART_DISCOUNT``, ``KEYWORD_WEIGHT``, ``OWN_WEIGHT``): a
   grid search that maximises the *macro* average, over sets, of "the first result is from
   the right article" — every set weighs the same, so no single kind of question decides;
2. the no-answer rule: a logistic regression (on standardised features, L2-regularised)
   of on-corpus versus off-corpus over ``fusion.Evidence.features()``, each (set, label)
   group weighted equally, then the probability threshold that maximises the mean, over
   sets, of answered-on-corpus plus refused-off-corpus.

   ``--refit-last N`` instead keeps the committed model and fits only its last N weights
   (a feature added to it), so the decisions it does not bear on stay as they are.
   ``--sweep-unseen 14,18,26`` refits the unknown-words weights at each rarity floor and
   prints the tune criteria (the floor, ``fusion.UNSEEN_RARITY``, is then set by hand).

It prints the constants for ``embeddings/fusion.py`` and the tune-half figures they give;
the test halves are for ``make eval`` to report. Usage:
``python eval/fit.py FILE [--apply]`` (``--apply`` rewrites the constants in fusion.py).
"""

from __future__ import annotations

import argparse
import pickle
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import fusion  # noqa: E402  (after the path set-up above)
from embeddings.fusion import Candidate  # noqa: E402
from embeddings.keyword import Floor, rare_unseen, unseen_share  # noqa: E402
from embeddings.question import looks_like_name, topic_terms  # noqa: E402
from embeddings.retriever import collapse_translations  # noqa: E402

_FIELDS = {f.name for f in fields(Candidate)}


def candidates(row: dict[str, Any]) -> list[Candidate]:
    return [Candidate(**{k: v for k, v in c.items() if k in _FIELDS}) for c in row["candidates"]]


def _aligned(row: dict[str, Any]) -> dict[int, list[int]]:
    return {int(k): v for k, v in row["aligned"].items()}


def first_article(row: dict[str, Any], cands: Sequence[Candidate]) -> str | None:
    """The article of the first result under the current constants (as the retriever ranks)."""
    info = {c["id"]: c for c in row["candidates"]}
    numbers = [i for i, _ in fusion.fuse(cands, "pooled", row["asked_in"])]
    if row["language"]:
        numbers = [i for i in numbers if info[i]["lang"] == row["language"]]
    aligned = {int(k): v for k, v in row["aligned"].items()}
    top = collapse_translations(numbers, aligned)[:1]
    return info[top[0]]["article"] if top else None


def ranking_score(sets: dict[str, list[tuple[dict[str, Any], list[Candidate]]]]
                  ) -> tuple[float, dict[str, float]]:
    per_set = {}
    for name, rows in sets.items():
        if rows:
            per_set[name] = float(np.mean([first_article(r, c) in r["relevant"] for r, c in rows]))
    return float(np.mean(list(per_set.values()))), per_set


# The ranking constants and the values each may take (coordinate descent over this grid).
GRID = {
    "SENTENCE_WEIGHT": (0.0, 0.25, 0.5, 0.75, 1.0),
    "KEYWORD_WEIGHT": (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2),
    "CROSS_KEYWORD_WEIGHT": (0.0, 0.005, 0.01, 0.02, 0.03, 0.05),
    "SENTENCE_KEYWORD_WEIGHT": (0.0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.2, 0.3),
    "COUNTERPART_DISCOUNT": (0.0, 0.005, 0.01, 0.02, 0.04),
    "COMPANION_WEIGHT": (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3),
    # Never 0: a paragraph's own evidence breaks ties between paragraphs that borrow the
    # same translation (a 2-1 alignment); the fit finds it neutral otherwise.
    "OWN_WEIGHT": (0.05, 0.1, 0.3, 1.0),
}


# A constant moves only for a macro gain of at least this much on tune (about one question
# in a set of 500): smaller gains are noise that would not hold on other data.
MIN_GAIN = 0.002


def fit_ranking(dumps: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Coordinate descent over GRID, two rounds, maximising the macro R@1 on tune (a move
    must gain at least MIN_GAIN)."""
    sets = {name: [(r, candidates(r)) for r in rows if r["relevant"]] for name, rows in dumps.items()}
    best, per_set = ranking_score(sets)
    print(f"  start: macro {best:.4f} " + " ".join(f"{k} {v:.3f}" for k, v in per_set.items()))
    for _ in range(2):
        for key, values in GRID.items():
            current = getattr(fusion, key)
            for value in values:
                setattr(fusion, key, value)
                score, per_set = ranking_score(sets)
                if score > best + MIN_GAIN:
                    best, current = score, value
                    print(f"  {key} = {value}: macro {score:.4f} "
                          + " ".join(f"{k} {v:.3f}" for k, v in per_set.items()))
            setattr(fusion, key, current)
    return {key: getattr(fusion, key) for key in GRID}


def evidence_table(sets: dict[str, list[dict[str, Any]]]
                   ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Features, labels (on-corpus 1), set names, and whether the first result is from a
    relevant article (what an answer would quote first)."""
    xs, ys, groups, firsts = [], [], [], []
    for name, rows in sets.items():
        for r in rows:
            cands = candidates(r)
            e = fusion.question_evidence(cands, r["asked_in"], _aligned(r))
            xs.append(e.features())
            ys.append(1 if r["relevant"] else 0)
            groups.append(name)
            firsts.append(bool(r["relevant"]) and first_article(r, cands) in r["relevant"])
    return np.array(xs, dtype=np.float64), np.array(ys), groups, np.array(firsts)


def _languages(sets: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [r["asked_in"] for rows in sets.values() for r in rows]


# The no-answer model's L2 strength (scikit-learn's C, on standardised features).
_C = 0.02


def _group_weights(groups: list[str], y: np.ndarray) -> np.ndarray:
    """Sample weights giving each (set, label) group the same total weight, mean 1."""
    keys = [f"{g}:{label}" for g, label in zip(groups, y, strict=True)]
    counts = Counter(keys)
    weight = np.array([1.0 / counts[k] for k in keys])
    return weight * (len(weight) / weight.sum())


def _cells(groups: list[str], languages: list[str], y: np.ndarray
           ) -> dict[tuple[str, str, int], list[int]]:
    """Question indices by (set, question language, on/off), groups of at least 5."""
    cells: dict[tuple[str, str, int], list[int]] = {}
    for i, key in enumerate(zip(groups, languages, y.tolist(), strict=True)):
        cells.setdefault(key, []).append(i)
    return {k: v for k, v in cells.items() if len(v) >= 5}


def _criterion(answered: np.ndarray, y: np.ndarray, right: np.ndarray,
               cells: dict[tuple[str, str, int], list[int]]) -> float:
    """The share decided right in each group — an on-corpus question answered and
    ``right`` (from the right article first, or True to count every answer), an off-corpus
    one refused — averaged within on- and within off-corpus groups, then the two averaged:
    on- and off-corpus weigh the same (a wrong refusal and a wrong answer are both an
    answer the user cannot use)."""
    decided = np.where(y == 1, answered & right, ~answered)
    means = {label: [float(np.mean(decided[idx])) for (_, _, l2), idx in cells.items()
                     if l2 == label] for label in (0, 1)}
    return float(np.mean([np.mean(vs) for vs in means.values() if vs]))


def _floor(text: str) -> Floor:
    """``26`` (every word) or ``14/26`` (Korean words / other words)."""
    if "/" in text:
        korean, other = text.split("/")
        return float(korean), float(other)
    return float(text)


def sweep_unseen(sets: dict[str, list[dict[str, Any]]], floors: Sequence[Floor],
                 verbose: bool = False) -> None:
    """For each rarity floor (``fusion.UNSEEN_RARITY``), the unknown-words evidence of every
    question re-scored from its dump row, the model's last two weights refit
    (:func:`refit_last`), and both criteria printed on these sets: answered-from-the-right-
    article (the threshold's) and answered. Rows need the ``unseen`` field of a current dump.
    """
    committed = fusion.RELEVANCE_WEIGHTS
    for floor in floors:
        for rows in sets.values():
            for r in rows:
                u = r["unseen"]
                known = dict(u["words"])  # word -> its rarity, as the retriever computed it
                rare = rare_unseen(list(known), known.__getitem__, floor,
                                   partial(frozenset, u["predicates"]),
                                   frozenset(u.get("held", ())).__contains__)
                share = unseen_share(len(rare), u["documents"], u["known_weight"])
                for c in r["candidates"]:
                    c["unknown"] = share
        fusion.RELEVANCE_WEIGHTS = committed
        weights = refit_last(sets, 2)["RELEVANCE_WEIGHTS"][-2:]
        x, y, groups, first_right = evidence_table(sets)
        answered = 1.0 / (1.0 + np.exp(-(fusion.RELEVANCE_BIAS + x @ np.array(fusion.RELEVANCE_WEIGHTS)))) \
            >= fusion.RELEVANCE_THRESHOLD
        cells = _cells(groups, _languages(sets), y)
        print(f"  floor {floor!s:>12}: weights {weights}  right-article criterion "
              f"{_criterion(answered, y, first_right, cells):.4f}  answered criterion "
              f"{_criterion(answered, y, np.ones_like(first_right), cells):.4f}")
        if verbose:  # each group's share decided right (on-corpus: answered from the right article)
            decided = np.where(y == 1, answered & first_right, ~answered)
            print("      " + "  ".join(f"{g}:{lang}:{'on' if on else 'off'} {np.mean(decided[idx]):.3f}"
                                       for (g, lang, on), idx in sorted(cells.items())))
    fusion.RELEVANCE_WEIGHTS = committed


def fit_relevance(sets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression  # only the fitting script needs it

    x, y, groups, first_right = evidence_table(sets)
    weight = _group_weights(groups, y)
    mu, sigma = x.mean(axis=0), x.std(axis=0)
    sigma[sigma == 0] = 1.0
    # Strongly regularised: the features overlap (best vs first-ranked evidence), and a
    # small C keeps the weights moderate at no cost on the tune halves.
    model = LogisticRegression(C=_C, max_iter=2000)
    model.fit((x - mu) / sigma, y, sample_weight=weight)
    w = model.coef_[0] / sigma
    b = float(model.intercept_[0] - np.sum(model.coef_[0] * mu / sigma))
    out: dict[str, Any] = {"RELEVANCE_BIAS": round(b, 4),
                           "RELEVANCE_WEIGHTS": tuple(round(float(v), 4) for v in w)}
    fusion.RELEVANCE_BIAS, fusion.RELEVANCE_WEIGHTS = out["RELEVANCE_BIAS"], out["RELEVANCE_WEIGHTS"]
    # The threshold: on tune, the share decided right in each (set, question language,
    # on/off) group of at least 5 questions — an on-corpus question answered from the right
    # article first, an off-corpus one refused — averaged within on- and within off-corpus
    # groups, then the two averaged.
    probs = 1.0 / (1.0 + np.exp(-(b + x @ w)))
    cells = _cells(groups, _languages(sets), y)
    best_t, best_v = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        v = _criterion(probs >= t, y, first_right, cells)
        if v > best_v + 1e-9:
            best_t, best_v = float(t), v
    out["RELEVANCE_THRESHOLD"] = round(best_t, 2)
    fusion.RELEVANCE_THRESHOLD = out["RELEVANCE_THRESHOLD"]
    return out


def refit_last(sets: dict[str, list[dict[str, Any]]], n: int) -> dict[str, Any]:
    """Extend the committed no-answer model by its last ``n`` features: the bias, every other
    weight and the threshold stay as they are in fusion.py, and only the last ``n`` weights are
    fit on tune (logistic regression with the committed part as an offset, each (set, label)
    group weighted equally, the same L2 on standardised features as :func:`fit_relevance`).

    A new feature then changes only the decisions it bears on (the coverage gap is 0 for
    every Korean question, so a Korean question is judged exactly as before), and the fitted
    margins of the committed model keep their weight (a full refit on the current pipeline
    lowers the margin's weight and quotes more neighbouring passages).
    """
    from scipy.optimize import minimize  # only the fitting script needs it

    x, y, groups, _ = evidence_table(sets)
    weight = _group_weights(groups, y)
    kept = np.array(fusion.RELEVANCE_WEIGHTS[: x.shape[1] - n], dtype=np.float64)
    offset = fusion.RELEVANCE_BIAS + x[:, : len(kept)] @ kept
    new = x[:, len(kept):]
    sigma = new.std(axis=0)
    sigma[sigma == 0] = 1.0

    def loss(w: np.ndarray) -> float:
        z = offset + new @ w
        return float(np.sum(weight * (np.logaddexp(0.0, z) - y * z)) + 0.5 / _C * np.sum((w * sigma) ** 2))

    fitted = minimize(loss, np.zeros(n)).x
    out: dict[str, Any] = {"RELEVANCE_WEIGHTS": tuple(float(v) for v in kept)
                           + tuple(round(float(v), 4) for v in fitted)}
    fusion.RELEVANCE_WEIGHTS = out["RELEVANCE_WEIGHTS"]
    return out


def report(sets: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in sets.items():
        on = [r for r in rows if r["relevant"]]
        off = [r for r in rows if not r["relevant"]]
        for label, group in (("on answered", on), ("off refused", off)):
            if not group:
                continue
            by_lang: dict[str, list[bool]] = {}
            for r in group:
                e = fusion.question_evidence(candidates(r), r["asked_in"], _aligned(r))
                terms = len(set(topic_terms(r["query"]))) if looks_like_name(r["query"]) else 0
                answered = fusion.answerable(e, terms, fusion.RELEVANCE_THRESHOLD)
                by_lang.setdefault(r["asked_in"], []).append(answered if r["relevant"] else not answered)
            print(f"  {name} {label}: " + " ".join(f"{k} {np.mean(v):.3f} (n={len(v)})"
                                                   for k, v in sorted(by_lang.items())))


LINE_LENGTH = 110  # [tool.ruff] line-length


def apply(constants: dict[str, Any]) -> None:
    path = ROOT / "embeddings" / "fusion.py"
    text = path.read_text(encoding="utf-8")
    for key, value in constants.items():
        line = f"{key} = {value!r}"
        if len(line) > LINE_LENGTH:
            line += "  # noqa: E501 - one line: eval/fit.py --apply rewrites it"
        text, n = re.subn(rf"^{key} = .*$", line, text, flags=re.MULTILINE)
        if n != 1:
            raise SystemExit(f"{key} not found once in {path}")
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit the fusion's constants on the tune halves.")
    parser.add_argument("dump", type=Path)
    parser.add_argument("--apply", action="store_true", help="write the constants into fusion.py")
    parser.add_argument("--relevance-only", action="store_true",
                        help="keep the ranking constants in fusion.py, fit the no-answer rule")
    parser.add_argument("--refit-last", type=int, default=0, metavar="N",
                        help="keep the bias, threshold and other weights; fit only the last N"
                             " weights of the no-answer model (a feature added to it)")
    parser.add_argument("--sweep-unseen", default="", metavar="FLOORS",
                        help="comma-separated rarity floors: refit the unknown-words weights at"
                             " each and print the tune criteria (fusion.py is not changed);"
                             " 14/26 is a floor for Korean words / other words")
    parser.add_argument("--cells", action="store_true",
                        help="with --sweep-unseen: each group's share decided right too")
    args = parser.parse_args(argv)
    with args.dump.open("rb") as f:
        dumps: dict[str, list[dict[str, Any]]] = pickle.load(f)
    tune = {name: [r for r in rows if r["split"] == "tune"] for name, rows in dumps.items()}
    if args.sweep_unseen:
        print("unknown-words rarity floors, on tune:")
        sweep_unseen(tune, [_floor(v) for v in args.sweep_unseen.split(",")], args.cells)
        return 0
    constants: dict[str, Any] = {}
    if not args.relevance_only:
        print("fitting the ranking on tune:")
        constants = fit_ranking(tune)
    print("fitting the no-answer rule on tune:")
    if args.refit_last:
        constants |= refit_last(tune, args.refit_last)
    else:
        constants |= fit_relevance(tune)
    print("constants:", constants)
    print("tune figures:")
    report(tune)
    if args.apply:
        apply(constants)
        print("written into embeddings/fusion.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
