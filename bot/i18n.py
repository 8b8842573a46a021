"""Interface language: one string table (en/ko), the interface-language rule, and the
slash-command :class:`~discord.app_commands.Translator` giving Korean localisations.

Quoted article text is never translated; only the bot's own words are.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from corpus.lang import detect_language

log = logging.getLogger(__name__)

Lang = str  # "en" or "ko"

# Every sentence the bot says in its own voice, keyed by message id.
MESSAGES: dict[str, dict[str, str]] = {
    # answers
    "answer.title": {"en": "Passages that answer your question", "ko": "질문에 답하는 문단"},
    "answer.question": {"en": "Question", "ko": "질문"},
    "answer.none": {
        "en": "I found no passage that answers this. Try `/search` with other words.",
        "ko": "이 질문에 답하는 문단을 찾지 못했습니다. `/search`로 다른 단어를 검색해 보세요.",
    },
    "answer.aligned.en": {"en": "English translation", "ko": "영어 번역"},
    "answer.aligned.ko": {"en": "Korean original", "ko": "한국어 원문"},
    "answer.paragraph": {"en": "paragraph {n}", "ko": "{n}번째 문단"},
    "answer.more": {"en": "(continued)", "ko": "(계속)"},
    "answer.footer": {
        "en": "Quoted from the corpus · /source for details",
        "ko": "말뭉치에서 인용 · 자세한 정보는 /source",
    },
    # validation
    "question.empty": {
        "en": "Please write a question in words (it was empty).",
        "ko": "질문을 글로 적어 주세요 (비어 있습니다).",
    },
    "question.too_long": {
        "en": "Your question is {n} characters long; please keep it under {max}.",
        "ko": "질문이 {n}자입니다. {max}자 이내로 줄여 주세요.",
    },
    "cooldown": {
        "en": "Please wait {s} seconds before asking again.",
        "ko": "{s}초 후에 다시 질문해 주세요.",
    },
    # search
    "search.title": {"en": "Best passages for: {q}", "ko": "검색 결과: {q}"},
    "search.none": {"en": "No passage matches this search.", "ko": "검색과 맞는 문단이 없습니다."},
    "search.bad_limit": {
        "en": "The limit must be between 1 and {max}.",
        "ko": "개수는 1에서 {max} 사이여야 합니다.",
    },
    # source / passage
    "source.not_found": {
        "en": "No article matches “{ref}”. Start typing a title and pick one from the list.",
        "ko": "“{ref}”에 해당하는 기사가 없습니다. 제목을 입력하고 목록에서 골라 주세요.",
    },
    "source.title_ko": {"en": "Korean title", "ko": "한국어 제목"},
    "source.outlet": {"en": "Outlet", "ko": "매체"},
    "source.country": {"en": "Country", "ko": "국가"},
    "source.date": {"en": "Date", "ko": "날짜"},
    "source.author": {"en": "Author", "ko": "저자"},
    "source.translator": {"en": "Translator", "ko": "번역"},
    "source.editor": {"en": "Editor", "ko": "편집"},
    "source.link": {"en": "Link", "ko": "링크"},
    "source.paragraphs": {"en": "Paragraphs", "ko": "문단 수"},
    "source.counts": {"en": "English {en} · Korean {ko}", "ko": "영어 {en} · 한국어 {ko}"},
    "source.files": {"en": "Files", "ko": "파일"},
    "source.unknown": {"en": "unknown", "ko": "알 수 없음"},
    "passage.not_found": {
        "en": "“{title}” has no {lang} paragraph {n} (it has {count}).",
        "ko": "“{title}”에는 {lang} {n}번째 문단이 없습니다 (문단 {count}개).",
    },
    "passage.no_counterpart": {
        "en": "No aligned paragraph in the other language.",
        "ko": "다른 언어의 대응 문단이 없습니다.",
    },
    "lang.en": {"en": "English", "ko": "영어"},
    "lang.ko": {"en": "Korean", "ko": "한국어"},
    # admin
    "admin.refused": {
        "en": "Only server managers or admin roles can use this command.",
        "ko": "서버 관리 권한이나 관리자 역할이 있어야 이 명령을 쓸 수 있습니다.",
    },
    "reindex.start": {"en": "Refreshing the index…", "ko": "색인을 갱신하는 중…"},
    "reindex.progress": {
        "en": "Refreshing the index… {stage} {done}/{total}",
        "ko": "색인을 갱신하는 중… {stage} {done}/{total}",
    },
    "reindex.busy": {
        "en": "A refresh is already running; the current index keeps answering. Try again when it ends.",
        "ko": "이미 색인을 갱신하고 있습니다. 기존 색인이 계속 답합니다. 끝난 뒤 다시 시도해 주세요.",
    },
    "reindex.timeout": {
        "en": "The refresh was stopped after {minutes} minutes (`[index].max_refresh_minutes`) "
              "while working on “{file}”; the previous index keeps answering.",
        "ko": "색인 갱신이 {minutes}분을 넘어 중단되었습니다 (`[index].max_refresh_minutes`). "
              "처리 중이던 파일: “{file}”. 기존 색인이 계속 답합니다.",
    },
    "reindex.failed": {
        "en": "The refresh did not finish ({reason}); the previous index keeps answering.",
        "ko": "색인 갱신이 끝나지 못했습니다 ({reason}). 기존 색인이 계속 답합니다.",
    },
    "reindex.done": {
        "en": "Index refreshed in {seconds:.1f} s: {summary}",
        "ko": "색인 갱신 완료 ({seconds:.1f}초): {summary}",
    },
    "reindex.summary": {
        "en": "{articles} articles, {paragraphs} paragraphs ({encoded} newly encoded, {cached} from cache)",
        "ko": "기사 {articles}개, 문단 {paragraphs}개 (새로 인코딩 {encoded}개, 캐시 {cached}개)",
    },
    "reindex.up_to_date": {
        "en": "already up to date: {articles} articles, {paragraphs} paragraphs",
        "ko": "이미 최신입니다: 기사 {articles}개, 문단 {paragraphs}개",
    },
    "status.title": {"en": "Index status", "ko": "색인 상태"},
    "status.articles": {"en": "Articles", "ko": "기사"},
    "status.paragraphs": {"en": "Paragraphs", "ko": "문단"},
    "status.model": {"en": "Model", "ko": "모델"},
    "status.last_refresh": {"en": "Last refresh", "ko": "마지막 갱신"},
    "status.duration": {"en": "Duration", "ko": "소요 시간"},
    "status.never": {"en": "never", "ko": "없음"},
    "status.refreshing": {"en": "Refresh running", "ko": "갱신 중"},
    "add.bad_type": {
        "en": "Only `.txt` or `.md` article files can be added (got “{name}”).",
        "ko": "`.txt` 또는 `.md` 기사 파일만 추가할 수 있습니다 (받은 파일: “{name}”).",
    },
    "add.too_big": {
        "en": "The file “{name}” was not added: it is {size} KB; the limit is {max} KB "
              "(`[discord].max_upload_kb`).",
        "ko": "“{name}” 파일을 추가하지 않았습니다: 크기가 {size} KB입니다. 최대 {max} KB까지 "
              "가능합니다 (`[discord].max_upload_kb`).",
    },
    "add.not_indexed": {
        "en": "The file “{name}” was not added: {reason}",
        "ko": "“{name}” 파일을 추가하지 않았습니다: {reason}",
    },
    "add.invalid": {
        "en": "The file “{name}” was not added: {reason}",
        "ko": "“{name}” 파일을 추가하지 않았습니다: {reason}",
    },
    "add.saved": {
        "en": "Saved as “{name}” and indexed: {summary}",
        "ko": "“{name}”(으)로 저장하고 색인했습니다: {summary}",
    },
    "add.saved_busy": {
        "en": "Saved as “{name}”, but a refresh is already running; run /reindex after it ends to index it.",
        "ko": "“{name}”(으)로 저장했지만 이미 색인을 갱신하고 있습니다. 끝난 뒤 /reindex로 색인해 주세요.",
    },
    # errors
    "error.generic": {
        "en": "Something went wrong while answering; it has been logged. Please try again.",
        "ko": "답하는 중 문제가 생겼습니다. 기록해 두었으니 다시 시도해 주세요.",
    },
    "error.not_ready": {
        "en": "The index is not ready yet; an admin can run /reindex.",
        "ko": "색인이 아직 준비되지 않았습니다. 관리자가 /reindex를 실행할 수 있습니다.",
    },
    "error.guild_only": {
        "en": "This command works only in a server.",
        "ko": "이 명령은 서버에서만 쓸 수 있습니다.",
    },
    # buttons under answers
    "button.full": {"en": "Full paragraph", "ko": "문단 전체"},
    "button.korean_first": {"en": "원문", "ko": "원문"},
    "button.english_first": {"en": "Translation", "ko": "영어 번역"},
    "button.more": {"en": "More", "ko": "더 보기"},
    "button.post": {"en": "Post in channel", "ko": "채널에 올리기"},
    "button.expired": {
        "en": "This answer is no longer on record (answers are kept {days} days). Please ask again.",
        "ko": "이 답변은 더 이상 기록에 없습니다 (답변은 {days}일 보관). 다시 질문해 주세요.",
    },
    "button.gone": {
        "en": "The quoted passage is no longer in the corpus.",
        "ko": "인용한 문단이 더 이상 말뭉치에 없습니다.",
    },
    "more.none": {"en": "No further passages answer this question.",
                  "ko": "이 질문에 답하는 문단이 더 없습니다."},
    "more.title": {"en": "More passages for your question", "ko": "질문에 답하는 다른 문단"},
    "vote.up": {"en": "Thanks — recorded 👍 for this answer.",
                "ko": "고맙습니다 — 이 답변에 👍를 기록했습니다."},
    "vote.down": {
        "en": "Thanks — recorded 👎. Admins see answers marked wrong in /report.",
        "ko": "고맙습니다 — 👎를 기록했습니다. 관리자는 /report에서 틀렸다고 표시된 답변을 봅니다.",
    },
    "vote.withdrawn": {"en": "Your vote on this answer is withdrawn.",
                       "ko": "이 답변에 대한 투표를 취소했습니다."},
    "post.done": {"en": "Posted in the channel.", "ko": "채널에 올렸습니다."},
    "post.header": {"en": "**{name} asked Dari about a message:**",
                    "ko": "**{name} 님이 메시지에 대해 Dari에게 물었습니다:**"},
    "context.empty": {
        "en": "That message has no text to ask about.",
        "ko": "이 메시지에는 질문할 글이 없습니다.",
    },
    # /report
    "report.title": {"en": "Dari report", "ko": "Dari 보고서"},
    "report.period": {
        "en": "Last {days} days: {asked} asked · {answered} answered · {refused} refused"
              " · 👍 {up} · 👎 {down}",
        "ko": "최근 {days}일: 질문 {asked} · 답변 {answered} · 답 없음 {refused} · 👍 {up} · 👎 {down}",
    },
    "report.refused": {"en": "Most frequent questions without an answer ({days} days)",
                       "ko": "답하지 못한 질문 빈도순 ({days}일)"},
    "report.disputed": {"en": "Answers with most 👎 ({days} days)", "ko": "👎가 많은 답변 ({days}일)"},
    "report.articles": {"en": "Quotes per article ({days} days)", "ko": "기사별 인용 수 ({days}일)"},
    "report.none": {"en": "(none)", "ko": "(없음)"},
    "report.attached": {
        "en": "The full report did not fit in a message: it is attached as CSV.",
        "ko": "전체 보고서가 메시지에 들어가지 않아 CSV 파일로 첨부했습니다.",
    },
}

# Slash-command names, descriptions and parameters: English default, Korean localisation.
COMMAND_TEXT: dict[str, dict[str, str]] = {
    "ask.name": {"en": "ask", "ko": "질문"},
    "ask.desc": {"en": "Ask a question; the bot quotes the passages that answer it",
                 "ko": "질문하면 답이 되는 기사 문단을 인용합니다"},
    "ask.question.name": {"en": "question", "ko": "질문"},
    "ask.question.desc": {"en": "Your question, in English or Korean", "ko": "영어나 한국어로 쓴 질문"},
    "search.name": {"en": "search", "ko": "검색"},
    "search.desc": {"en": "List the best-matching passages", "ko": "가장 잘 맞는 문단 목록을 보여 줍니다"},
    "search.query.name": {"en": "query", "ko": "검색어"},
    "search.query.desc": {"en": "Words to search for", "ko": "검색할 단어"},
    "search.language.name": {"en": "language", "ko": "언어"},
    "search.language.desc": {"en": "Only passages in this language", "ko": "이 언어의 문단만"},
    "search.limit.name": {"en": "limit", "ko": "개수"},
    "search.limit.desc": {"en": "How many passages (1–10)", "ko": "문단 개수 (1–10)"},
    "choice.en": {"en": "English", "ko": "영어"},
    "choice.ko": {"en": "Korean", "ko": "한국어"},
    "source.name": {"en": "source", "ko": "출처"},
    "source.desc": {"en": "Show an article's metadata, link and paragraph counts",
                    "ko": "기사의 정보, 링크, 문단 수를 보여 줍니다"},
    "source.article.name": {"en": "article", "ko": "기사"},
    "source.article.desc": {"en": "Article title (English or Korean)", "ko": "기사 제목 (영어 또는 한국어)"},
    "passage.name": {"en": "passage", "ko": "문단"},
    "passage.desc": {"en": "Show one paragraph in full with its translation",
                     "ko": "문단 하나와 그 번역을 전부 보여 줍니다"},
    "passage.article.name": {"en": "article", "ko": "기사"},
    "passage.article.desc": {"en": "Article title (English or Korean)", "ko": "기사 제목 (영어 또는 한국어)"},
    "passage.number.name": {"en": "number", "ko": "번호"},
    "passage.number.desc": {"en": "Paragraph number (from 1)", "ko": "문단 번호 (1부터)"},
    "passage.language.name": {"en": "language", "ko": "언어"},
    "passage.language.desc": {"en": "Language of the paragraph number (default English)",
                              "ko": "문단 번호의 언어 (기본: 영어)"},
    "reindex.name": {"en": "reindex", "ko": "재색인"},
    "reindex.desc": {"en": "Admins: refresh the index from the corpus directory",
                     "ko": "관리자: 말뭉치 폴더로 색인을 갱신합니다"},
    "reindex.full.name": {"en": "full", "ko": "전체"},
    "reindex.full.desc": {"en": "Re-encode everything, not only changed files",
                          "ko": "바뀐 파일만이 아니라 전부 다시 인코딩"},
    "status.name": {"en": "status", "ko": "상태"},
    "status.desc": {"en": "Admins: show what is indexed", "ko": "관리자: 색인된 내용을 보여 줍니다"},
    "add.name": {"en": "add-article", "ko": "기사추가"},
    "add.desc": {"en": "Admins: upload a .txt or .md article file and index it",
                 "ko": "관리자: .txt 또는 .md 기사 파일을 올리고 색인합니다"},
    "add.file.name": {"en": "file", "ko": "파일"},
    "add.file.desc": {"en": "The article file (.txt or .md)", "ko": "기사 파일 (.txt 또는 .md)"},
    "report.name": {"en": "report", "ko": "보고서"},
    "report.desc": {"en": "Admins: questions, refusals and feedback over 7 and 30 days",
                    "ko": "관리자: 최근 7일·30일의 질문, 답 없음, 피드백"},
    "askmsg.name": {"en": "Ask Dari", "ko": "Dari에게 묻기"},
}


def t(key: str, lang: Lang, /, **values: Any) -> str:
    """The interface string ``key`` in ``lang`` (English if missing), formatted with ``values``."""
    entry = MESSAGES.get(key)
    if entry is None:
        log.error("missing interface string %r", key)
        return key
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def cmd(key: str) -> app_commands.locale_str:
    """A translatable command string: English text now, Korean via :class:`DariTranslator`."""
    return app_commands.locale_str(COMMAND_TEXT[key]["en"], key=key)


def is_korean_locale(locale: discord.Locale | str | None) -> bool:
    """Whether a Discord locale (``interaction.locale``) is Korean."""
    if locale is None:
        return False
    value = locale.value if isinstance(locale, discord.Locale) else str(locale)
    return value.lower().startswith("ko")


def interface_language(text: str | None, locale: discord.Locale | str | None = None) -> Lang:
    """Korean when the text is Korean (``corpus.lang``, the one language detector) or the
    user's Discord locale is Korean, else English."""
    if text and detect_language(text) == "ko":
        return "ko"
    if is_korean_locale(locale):
        return "ko"
    return "en"


class DariTranslator(app_commands.Translator):
    """Gives slash commands their Korean names and descriptions from :data:`COMMAND_TEXT`."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not discord.Locale.korean:
            return None
        key = string.extras.get("key")
        if key is None:
            return None
        entry = COMMAND_TEXT.get(key)
        return entry.get("ko") if entry else None
