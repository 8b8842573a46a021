"""The question log and votes (``bot.feedback``): real SQLite files, a controllable clock."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.feedback import (
    DAY_S,
    FEEDBACK_FILE,
    KEY_FILE,
    SCHEMA_VERSION,
    SECRET_ENV,
    FeedbackError,
    FeedbackStore,
    Quoted,
    load_secret,
)
from tests.index_support import run_dari, settings_for

QUOTE = Quoted("seed", "seed:en:0123456789ab", "en", 3)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def store(tmp_path: Path, clock: Clock, retention: int = 90) -> FeedbackStore:
    return FeedbackStore(tmp_path / FEEDBACK_FILE, b"k" * 32, retention, clock=clock)


def log(fb: FeedbackStore, question: str, found: bool = True, guild: int = 1) -> int:
    return fb.log_answer(question=question, search_text=question, language="en", kind="ask",
                         passages=[QUOTE] if found else [], guild_id=guild, channel_id=10)


def test_secret_generated_once_owner_only_or_from_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    first = load_secret(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600 and len(first) == 64
    assert load_secret(tmp_path) == first  # kept: hashes stay comparable across restarts
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    assert load_secret(tmp_path) == b"from-the-environment"


def test_voter_hash_is_keyed_and_stable(tmp_path):
    a = FeedbackStore(tmp_path / "a.sqlite3", b"one", 90)
    b = FeedbackStore(tmp_path / "b.sqlite3", b"two", 90)
    assert a.voter(42) == a.voter(42) != b.voter(42)
    assert "42" not in a.voter(42) and len(a.voter(42)) == 64


def test_schema_migrated_and_newer_refused(tmp_path):
    clock = Clock()
    fb = store(tmp_path, clock)
    assert fb.schema_version == SCHEMA_VERSION
    fb.close()
    con = sqlite3.connect(tmp_path / FEEDBACK_FILE)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(FeedbackError, match="newer than this Dari supports"):
        store(tmp_path, clock)


def test_vote_set_changed_withdrawn_one_per_user(tmp_path):
    fb = store(tmp_path, Clock())
    aid = log(fb, "q")
    assert fb.vote(aid, 7, 1) == 1 and fb.votes(aid) == (1, 0)
    assert fb.vote(aid, 7, -1) == -1 and fb.votes(aid) == (0, 1)
    assert fb.vote(aid, 7, -1) == 0 and fb.votes(aid) == (0, 0)
    fb.vote(aid, 7, 1)
    fb.vote(aid, 8, 1)
    assert fb.votes(aid) == (2, 0)
    with pytest.raises(KeyError):
        fb.vote(aid + 100, 7, 1)
    with pytest.raises(ValueError):
        fb.vote(aid, 7, 2)


def test_retention_purges_old_rows_and_their_votes(tmp_path):
    clock = Clock()
    fb = store(tmp_path, clock, retention=90)
    old = log(fb, "old")
    fb.vote(old, 1, -1)
    clock.now += 60 * DAY_S
    recent = log(fb, "recent")
    clock.now += 31 * DAY_S  # old is 91 days old, recent 31
    assert fb.purge() == 1
    assert fb.answer(old) is None and fb.answer(recent) is not None
    assert fb._conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0


def test_report_periods_refused_disputed_articles(tmp_path):
    clock = Clock()
    fb = store(tmp_path, clock)
    early = log(fb, "Early question")
    fb.vote(early, 1, -1)
    clock.now += 20 * DAY_S
    a = log(fb, "What about Dokdo?")
    fb.vote(a, 1, -1)
    fb.vote(a, 2, -1)
    fb.vote(a, 3, 1)
    log(fb, "Cookie recipe?", found=False)
    log(fb, "cookie recipe? ", found=False)
    log(fb, "Weather?", found=False)
    log(fb, "Other server", guild=2)
    report = fb.report()
    week, month = report.periods
    assert (week.days, week.asked, week.answered, week.refused) == (7, 5, 2, 3)
    assert (week.up, week.down) == (1, 2)
    assert (month.asked, month.down) == (6, 3)
    assert [(r.question, r.count) for r in report.refused] == [("cookie recipe?", 2), ("weather?", 1)]
    assert [(d.answer_id, d.down, d.up) for d in report.disputed] == [(a, 2, 1), (early, 1, 0)]
    assert report.disputed[0].passages == (QUOTE.paragraph_id,)
    assert [(x.article_id, x.quotes) for x in report.articles] == [("seed", 3)]
    assert fb.report(guild_id=2).periods[0].asked == 1
    assert json.loads(json.dumps(report.to_dict()))["periods"][0]["asked"] == 5
    csv_text = report.to_csv()
    assert "refused,cookie recipe?,2," in csv_text and "article_quotes,seed,3," in csv_text
    assert any("2× cookie recipe?" in line for line in report.lines())


def test_thread_context_first_and_latest(tmp_path):
    fb = store(tmp_path, Clock())
    log(fb, "first")
    assert [r.question for r in fb.thread_context(10)] == ["first"]
    for q in ("second", "third"):
        log(fb, q)
    assert [r.question for r in fb.thread_context(10)] == ["first", "third"]
    assert fb.thread_context(11) == []


def test_dari_report_cli_text_and_json(tmp_path, shared_model_dir):
    settings = settings_for(tmp_path, shared_model_dir)
    fb = FeedbackStore.open(settings.data_dir, 90)
    aid = log(fb, "What about Dokdo?")
    fb.vote(aid, 5, -1)
    log(fb, "Cookie recipe?", found=False)
    fb.close()
    text = run_dari(settings, "report")
    assert text.returncode == 0, text.stderr
    assert "last 7 days: 2 asked, 1 answered, 1 refused; 👍 0 · 👎 1" in text.stdout
    assert "1× cookie recipe?" in text.stdout
    data = json.loads(run_dari(settings, "report", "--json").stdout)
    assert data["periods"][1]["days"] == 30 and data["disputed"][0]["question"] == "What about Dokdo?"
