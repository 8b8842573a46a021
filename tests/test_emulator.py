"""The Discord emulator and driver, proven with a small real discord.py bot.

The bot below is an ordinary ``commands.Bot``: it logs in over REST, connects to the
emulator's gateway (zlib-stream), syncs slash commands and answers them through the real
interaction/webhook code paths. Each test fails if the protocol is wrong.
"""

from __future__ import annotations

import asyncio
import io
import logging

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from emulator.driver import DriverError
from emulator.server import DiscordEmulator
from tests.discord_support import discord_emulator, running_bot  # noqa: F401 (fixture)

FRUITS = ["apple", "apricot", "banana", "blueberry", "cherry", "사과"]


class BoomError(RuntimeError):
    pass


def make_test_bot(guild_id: int) -> commands.Bot:
    """A tiny bot covering the protocol features Dari uses."""
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
    guild = discord.Object(guild_id)
    bot.errors_seen = []  # type: ignore[attr-defined]

    @bot.tree.command(name="echo", description="Defer, then follow up with an embed", guild=guild)
    @app_commands.describe(text="What to echo")
    async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
        await interaction.response.defer(thinking=True)
        embed = discord.Embed(title="Echo", description=" ".join([text] * times))
        embed.add_field(name="locale", value=str(interaction.locale))
        embed.set_footer(text=f"asked by {interaction.user.name}")
        await interaction.followup.send(embed=embed)

    @bot.tree.command(name="pick", description="Pick a fruit (autocomplete)", guild=guild)
    async def pick(interaction: discord.Interaction, fruit: str) -> None:
        await interaction.response.send_message(f"picked {fruit}")

    @pick.autocomplete("fruit")
    async def pick_fruit(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)][:25]

    @bot.tree.command(name="upload", description="Read an attachment and send it back", guild=guild)
    async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        await interaction.response.send_message(
            f"{file.filename}: {len(data)} bytes, first line {data.decode().splitlines()[0]!r}",
            file=discord.File(io.BytesIO(data.upper()), filename="upper.txt"))

    @bot.tree.command(name="progress", description="Edit the reply several times", guild=guild)
    async def progress(interaction: discord.Interaction, steps: int) -> None:
        await interaction.response.send_message("step 0", ephemeral=False)
        for i in range(1, steps + 1):
            await interaction.edit_original_response(content=f"step {i}/{steps}")
        await interaction.edit_original_response(content="done", embed=discord.Embed(title="finished"))

    @bot.tree.command(name="secret", description="Ephemeral answer", guild=guild)
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("only you", ephemeral=True)

    @bot.tree.command(name="long", description="Try a too-long message, then a short one", guild=guild)
    async def long(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("x" * 2001)
        except discord.HTTPException as exc:
            await interaction.response.send_message(f"rejected {exc.status} {exc.code}")

    @bot.tree.command(name="whoami", description="Permissions and roles as the bot sees them", guild=guild)
    async def whoami(interaction: discord.Interaction) -> None:
        member = interaction.user
        assert isinstance(member, discord.Member)
        roles = ",".join(r.name for r in member.roles if not r.is_default())
        await interaction.response.send_message(
            f"manage_guild={member.guild_permissions.manage_guild} roles={roles}", ephemeral=True)

    @bot.tree.command(name="oops", description="Public deferral, then a private error", guild=guild)
    async def oops(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.delete_original_response()
        await interaction.followup.send("private error", ephemeral=True)

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Yes", custom_id="confirm-yes")
        async def yes(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.edit_message(content=f"confirmed by {interaction.user.name}",
                                                    view=None)

        @discord.ui.button(label="No", custom_id="confirm-no")
        async def no(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.defer()  # type 6, then edit the message it is on
            await interaction.edit_original_response(content="cancelled", view=None)

    @bot.tree.command(name="confirm", description="A button", guild=guild)
    async def confirm(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("sure?", view=Confirm(timeout=30))

    @bot.tree.command(name="slow", description="Answers, then edits a second later", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("working")
        await asyncio.sleep(1.0)  # the bot's own pace: longer than the sandbox's quiet period
        await interaction.edit_original_response(content="finished")

    @bot.tree.command(name="boom", description="Raises", guild=guild)
    async def boom(interaction: discord.Interaction) -> None:
        raise BoomError("kaboom")

    @bot.tree.error
    async def on_app_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        bot.errors_seen.append(error)  # type: ignore[attr-defined]
        if not interaction.response.is_done():
            await interaction.response.send_message("something went wrong", ephemeral=True)

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        if message.content == "!tools":
            # The plain REST routes a bot uses around messages.
            async with message.channel.typing():
                history = [m.content async for m in message.channel.history(limit=5)]
            await message.add_reaction("👀")
            reply = await message.reply(f"history: {' | '.join(history)}", mention_author=False)
            fetched = await message.channel.fetch_message(reply.id)
            await fetched.edit(content=fetched.content + " (edited)")
            temp = await message.channel.send("temporary")
            await temp.delete()
            return
        if isinstance(message.channel, discord.Thread):
            if message.channel.owner_id == bot.user.id:
                await message.channel.send(f"follow-up: {message.content}",
                                           allowed_mentions=discord.AllowedMentions.none())
            return
        if bot.user in message.mentions:
            question = message.content.replace(bot.user.mention, "").strip()
            thread = await message.create_thread(name=question[:90] or "question")
            await thread.send(f"answer: {question}", allowed_mentions=discord.AllowedMentions.none())

    async def setup_hook() -> None:
        await bot.tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


ALL_COMMANDS = ["echo", "pick", "upload", "progress", "secret", "long", "whoami", "oops", "confirm",
                "slow", "boom"]


async def test_login_gateway_and_command_sync(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    bot = make_test_bot(emu.guild_id)
    async with running_bot(emu, bot, commands=ALL_COMMANDS):
        assert bot.user is not None and bot.user.id == emu.bot_user.id
        guild = bot.get_guild(emu.guild_id)
        assert guild is not None and {c.name for c in guild.text_channels} >= {"general", "questions"}
        assert guild.me is not None
        paths = [(r.method, r.path) for r in emu.requests]
        assert ("GET", "/users/@me") in paths
        assert ("PUT", f"/applications/{emu.state.application_id}/guilds/{emu.guild_id}/commands") in paths
        assert emu.gateway.identifies == 1
        assert emu.gateway.heartbeats >= 1, "discord.py heartbeats right after HELLO"
        assert emu.gateway.connections[0]["compress"] == "zlib-stream"
        assert emu.gateway.connections[0]["encoding"] == "json"
        echo = emu.command("echo")
        assert [o["name"] for o in echo["options"]] == ["text", "times"]
        assert echo["options"][0]["required"] is True


async def test_deferred_command_follow_up_embed_korean_locale(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        mina = emu.add_user("mina", locale="ko")
        inter = await emu.invoke_command(mina, "echo", {"text": "한미일 협력", "times": 2})
        await inter.wait_done(timeout=10)
        assert inter.callback_type == 5
        assert inter.is_complete()
        embed = inter.embeds[0]
        assert embed["title"] == "Echo"
        assert embed["description"] == "한미일 협력 한미일 협력"
        assert embed["fields"] == [{"name": "locale", "value": "ko", "inline": True}]
        assert embed["footer"]["text"] == "asked by mina"
        assert not inter.message["flags"] & (1 << 7), "the follow-up must end the 'thinking' state"
        # The public answer is a real channel message, visible to everyone.
        assert emu.messages(emu.channel_id("general"))[-1]["id"] == inter.message["id"]


async def test_driver_refuses_unregistered_or_mistyped(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        with pytest.raises(DriverError, match="not registered"):
            await emu.invoke_command(user, "nope", {})
        with pytest.raises(DriverError, match="no option"):
            await emu.invoke_command(user, "echo", {"txt": "x"})
        with pytest.raises(DriverError, match="needs an int"):
            await emu.invoke_command(user, "echo", {"text": "x", "times": "2"})
        with pytest.raises(DriverError, match="missing required"):
            await emu.invoke_command(user, "echo", {})


async def test_admin_permissions_and_late_roles(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        admin = emu.add_user("boss", admin=True)
        plain = emu.add_user("tom")
        moderators = emu.add_role("Moderators")  # created after the bot's GUILD_CREATE
        mod = emu.add_user("mod", roles=[moderators.id])
        answers = {}
        for user in (admin, plain, mod):
            inter = await emu.invoke_command(user, "whoami")
            await inter.wait_done(timeout=10)
            answers[user.name] = inter.content
        assert answers == {"boss": "manage_guild=True roles=Admin",
                           "tom": "manage_guild=False roles=",
                           "mod": "manage_guild=False roles=Moderators"}


async def test_autocomplete(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        choices = await emu.autocomplete(user, "pick", "fruit", "ap")
        assert [c["value"] for c in choices] == ["apple", "apricot"]
        assert await emu.autocomplete(user, "pick", "fruit", "사") == [{"name": "사과", "value": "사과"}]
        inter = await emu.invoke_command(user, "pick", {"fruit": "cherry"})
        await inter.wait_done(timeout=10)
        assert inter.callback_type == 4 and inter.content == "picked cherry"


async def test_attachment_download_and_file_upload(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom", admin=True)
        text = "# 제목\nbody line\n".encode()
        inter = await emu.invoke_command(user, "upload", attachments={"file": ("article.md", text)})
        await inter.wait_done(timeout=10)
        assert inter.content == f"article.md: {len(text)} bytes, first line '# 제목'"
        # The bot fetched the bytes from the URL the emulator serves …
        # … and its own file went up as multipart and is served back the same way.
        (att,) = inter.message["attachments"]
        assert att["filename"] == "upper.txt"
        callback = next(r for r in emu.requests if r.path.endswith("/callback"))
        assert callback.files == [("upper.txt", text.decode().upper().encode())]
        async with discord.http.aiohttp.ClientSession() as session, session.get(att["url"]) as resp:
            assert resp.status == 200
            assert await resp.read() == text.decode().upper().encode()

        # A hostile name reaches the bot as sent, yet its URL is still servable.
        odd = await emu.invoke_command(user, "upload", attachments={"file": ("..\\..\\my notes.md", text)})
        await odd.wait_done(timeout=10)
        assert odd.content.startswith("..\\..\\my notes.md: ")


async def test_mention_creates_thread_and_follow_up(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        general = emu.channel_id("general")
        question = await emu.send_message(general, user, "what about @everyone?", mentions_bot=True)
        reply = await emu.wait_for_message(lambda m: m["content"].startswith("answer:"), timeout=10)
        (thread,) = emu.threads
        assert thread["id"] == question["id"], "a thread started from a message has its id"
        assert thread["parent_id"] == str(general)
        assert reply["channel_id"] == thread["id"]
        assert reply["content"] == "answer: what about @everyone?"
        assert reply["mention_everyone"] is False
        sent = [r for r in emu.requests
                if r.method == "POST" and r.path == f"/channels/{thread['id']}/messages"]
        assert sent[-1].json["allowed_mentions"] == {"parse": []}

        await emu.send_message(int(thread["id"]), user, "and then?")
        follow = await emu.wait_for_message(lambda m: m["content"].startswith("follow-up"), timeout=10)
        assert follow["channel_id"] == thread["id"]
        assert [m["content"] for m in emu.messages(int(thread["id"]))] == [
            "answer: what about @everyone?", "and then?", "follow-up: and then?"]


async def test_history_reaction_reply_edit_delete(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        random = emu.channel_id("random")
        await emu.send_message(random, user, "first")
        await emu.send_message(random, user, "second")
        tools = await emu.send_message(random, user, "!tools")
        edited = await emu.wait_for_message(lambda m: m["content"].endswith("(edited)"), timeout=10)
        assert edited["content"] == "history: !tools | second | first (edited)"
        assert edited["message_reference"]["message_id"] == tools["id"]
        assert edited["referenced_message"]["content"] == "!tools"
        assert edited["allowed_mentions"]["replied_user"] is False
        await emu.wait_until(lambda: any(k == "delete" for k, _ in emu.message_events), 10, "the delete")
        assert [m["content"] for m in emu.messages(random)] == [
            "first", "second", "!tools", edited["content"]]
        assert emu.messages(random)[2]["reactions"][0]["emoji"]["name"] == "👀"
        assert any(r.path == f"/channels/{random}/typing" and r.status == 204 for r in emu.requests)


async def test_edits_in_order_and_ephemeral(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        inter = await emu.invoke_command(user, "progress", {"steps": 3})
        await inter.wait_done(timeout=10)
        assert [e.message["content"] for e in inter.edits] == ["step 1/3", "step 2/3", "step 3/3", "done"]
        assert inter.content == "done" and inter.embeds[0]["title"] == "finished"
        seen = await emu.wait_for_message(lambda m: m["content"] == "step 2/3", timeout=1)
        assert seen["id"] == inter.message["id"]

        secret = await emu.invoke_command(user, "secret")
        await secret.wait_done(timeout=10)
        assert secret.ephemeral and secret.content == "only you"
        assert all(m["content"] != "only you" for m in emu.messages(emu.channel_id("general")))


async def test_deleted_deferral_then_private_follow_up_and_button(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        general = emu.channel_id("general")
        inter = await emu.invoke_command(user, "oops")
        await inter.wait_done(timeout=10)
        assert [(e.kind, e.type) for e in inter.responses] == [("callback", 5), ("delete", None),
                                                              ("followup", None)]
        (shown,) = inter.visible_messages
        assert shown["content"] == "private error" and shown["flags"] & 64
        assert all(m["content"] != "private error" for m in emu.messages(general))
        assert all(m["id"] != inter.original["id"] for m in emu.messages(general)), "deleted"
        assert inter.message is shown and inter.ephemeral and inter.content == "private error"

        ask = await emu.invoke_command(user, "confirm")
        await ask.wait_done(timeout=10)
        assert ask.message["components"][0]["components"][0]["label"] == "Yes"
        with pytest.raises(DriverError, match="no component"):
            await emu.click(user, ask.message, "nope")
        click = await emu.click(user, ask.message, "confirm-yes")
        await click.wait_done(timeout=10)
        assert click.callback_type == 7
        assert emu.messages(general)[-1]["content"] == "confirmed by tom"
        assert emu.messages(general)[-1]["components"] == []

        again = await emu.invoke_command(user, "confirm")
        await again.wait_done(timeout=10)
        click = await emu.click(user, again.message, "confirm-no")
        await click.wait_done(timeout=10)
        assert [(e.kind, e.type) for e in click.responses] == [("callback", 6), ("edit", None)]
        assert emu.messages(general)[-1]["content"] == "cancelled"


async def test_other_commands_answered_while_a_slow_one_runs(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        admin, user = emu.add_user("boss", admin=True), emu.add_user("tom")
        slow = await emu.invoke_command(admin, "slow")
        await slow.wait_for(lambda i: i.content == "working", timeout=10)
        quick = await emu.invoke_command(user, "pick", {"fruit": "apple"})
        await quick.wait_for(lambda i: i.content == "picked apple", timeout=10)
        assert slow.content == "working", "the quick answer came while the slow one was still running"
        await slow.wait_for(lambda i: i.content == "finished", timeout=10)


async def test_limits_errors_and_recovery(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    bot = make_test_bot(emu.guild_id)
    async with running_bot(emu, bot, commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        inter = await emu.invoke_command(user, "long")
        await inter.wait_done(timeout=10)
        assert inter.content == "rejected 400 50035"
        assert inter.errors == ["POST callback -> 400 Invalid Form Body: content: must be 2000 or "
                                "fewer in length (got 2001)"]

        boom = await emu.invoke_command(user, "boom")
        await boom.wait_done(timeout=10)
        assert boom.content == "something went wrong" and boom.ephemeral
        assert isinstance(bot.errors_seen[-1].original, BoomError)  # type: ignore[attr-defined]
        after = await emu.invoke_command(user, "pick", {"fruit": "apple"})
        await after.wait_done(timeout=10)
        assert after.content == "picked apple"


async def test_dropped_gateway_resumes_and_replays(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    bot = make_test_bot(emu.guild_id)
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)
    async with running_bot(emu, bot, commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        assert await emu.drop_connections(hold=True) == 1
        # Sent while the bot is disconnected: must arrive through the RESUME replay.
        await emu.send_message(emu.channel_id("general"), user, "still there?", mentions_bot=True)
        assert not emu.messages(emu.channel_id("general"))[-1]["author"]["bot"]
        emu.release_gateway()
        reply = await emu.wait_for_message(lambda m: m["content"] == "answer: still there?", timeout=20)
        assert reply is not None
        await asyncio.wait_for(resumed.wait(), 5)
        (session,) = emu.gateway.sessions.values()
        assert session.resumes == 1 and emu.gateway.identifies == 1
        assert session.replayed >= 1
        inter = await emu.invoke_command(user, "pick", {"fruit": "banana"})
        await inter.wait_done(timeout=10)
        assert inter.content == "picked banana"


async def test_invalidated_session_identifies_again(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    bot = make_test_bot(emu.guild_id)
    async with running_bot(emu, bot, commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        await emu.gateway.invalidate_sessions()
        await emu.wait_until(lambda: emu.gateway.identifies == 2, 20, "a second IDENTIFY")
        await emu.wait_until(lambda: bot.is_ready() and emu.gateway.sessions, 20, "READY again")
        inter = await emu.invoke_command(user, "pick", {"fruit": "cherry"})
        await inter.wait_done(timeout=10)
        assert inter.content == "picked cherry"


async def test_wrong_token_and_unknown_route(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    bot = make_test_bot(emu.guild_id)
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()
    async with discord.http.aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {emu.token}"}
        async with session.get(emu.api_base + "/stickers/1", headers=headers) as resp:
            assert resp.status == 404
            assert "unknown route" in (await resp.json())["message"]
    assert emu.requests[-1].path == "/stickers/1" and emu.requests[-1].status == 404


async def test_late_acknowledgement_is_refused(discord_emulator: DiscordEmulator,
                                               caplog: pytest.LogCaptureFixture) -> None:
    emu = discord_emulator
    emu.interaction_ack_seconds = 0.0  # every callback is "too late"
    async with running_bot(emu, make_test_bot(emu.guild_id), commands=ALL_COMMANDS):
        user = emu.add_user("tom")
        with caplog.at_level(logging.ERROR):
            inter = await emu.invoke_command(user, "pick", {"fruit": "apple"})
            with pytest.raises(TimeoutError,
                               match="emulator errors:.*callback -> 404 Unknown interaction .callback after"):
                await inter.wait_done(timeout=1.5)
        assert inter.errors and not inter.acknowledged


async def test_sandbox_scripted_chat(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dari.sandbox import run_sandbox
    from settings.config import Settings

    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    article = tmp_path / "article.md"
    article.write_bytes("# 제목\nbody\n".encode())
    script = "\n".join([
        "/help",
        "/echo text:hello world times:2",
        "/pick cherry",
        "/pick blue",
        f"/upload file:{article}",
        "/echo times:x text:oops",
        "/nope",
        "what is this?",
        "and more?",
        "/secret",
        "/slow",
    ]) + "\n"
    out = io.StringIO()
    code = await run_sandbox(Settings(), lambda s: make_test_bot(s.discord.guild_ids[-1]),
                             stdin=io.StringIO(script), stdout=out, reply_timeout=10, quiet=0.3)
    text = out.getvalue()
    assert code == 0
    assert "/echo — Defer, then follow up with an embed" in text
    assert "text:<text>  What to echo" in text
    assert "**Echo**" in text and "│ hello world hello world" in text
    assert "│ locale: ko" in text, "the sandbox user has the locale of $LANG"
    assert "Dari:\npicked cherry" in text
    assert "(fruit: picked “blueberry” from 1 suggestion(s))\nDari:\npicked blueberry" in text
    assert f"article.md: {article.stat().st_size} bytes" in text
    assert "[attachment: upper.txt" in text
    assert "error: /echo times: 'x' is not a integer" in text
    assert "error: the bot has not registered a slash command /nope" in text
    assert "Dari: [thread: what is this?]\nanswer: what is this?" in text
    assert "Dari: [thread: what is this?]\nfollow-up: and more?" in text
    assert "(only you can see this)\nonly you" in text
    # Every reply is printed once, in order.
    assert text.index("picked cherry") < text.index("article.md:") < text.index("answer: what")
    assert text.count("picked cherry") == 1
    # A late edit is printed before the sandbox exits.
    assert text.endswith("Dari: [thread: what is this?]\nworking\n\n"
                         "(edited) Dari: [thread: what is this?]\nfinished\n\n")


def test_limits_match_discord() -> None:
    from emulator import limits

    ok = {"content": "x" * 2000, "embeds": [{"title": "t" * 256, "description": "d" * 4096,
                                            "fields": [{"name": "n", "value": "v" * 1024}]}]}
    assert limits.message_errors(ok) == []
    assert limits.message_errors({"content": "x" * 2001})
    assert limits.message_errors({"embeds": [{"description": "d" * 4097}]})
    assert limits.message_errors({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]})
    assert limits.message_errors({"embeds": [{"fields": [{"name": "n", "value": ""}]}]})
    assert limits.message_errors({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]})
    two = [{"description": "d" * 3000}, {"description": "d" * 3001}]
    assert any("combined size" in e for e in limits.message_errors({"embeds": two}))
    assert limits.message_errors({}) == ["Cannot send an empty message"]
    assert limits.message_errors({}, has_files=True) == []
    assert limits.choices_errors([{"name": "a", "value": "a"}] * 26)
    assert limits.choices_errors([{"name": "", "value": "a"}])


def test_render_message_shows_everything_a_user_sees() -> None:
    from emulator.render import render_message

    payload = {
        "author": {"username": "Dari"},
        "content": "**Answer**",
        "flags": 64,
        "embeds": [{"title": "How Far", "url": "https://example.org/a", "description": "line 1\nline 2",
                    "fields": [{"name": "¶ 3 · English", "value": "> quoted"},
                               {"name": "Date", "value": "2022-07-15", "inline": True}],
                    "footer": {"text": "Khan · 2022-07-15"}}],
        "attachments": [{"filename": "a.txt", "size": 12}],
    }
    assert render_message(payload, thread_name="q", author=True) == "\n".join([
        "Dari: [thread: q] (only you can see this)",
        "**Answer**",
        "│ **How Far** <https://example.org/a>",
        "│ line 1",
        "│ line 2",
        "│ ¶ 3 · English:",
        "│   > quoted",
        "│ Date: 2022-07-15",
        "│ — Khan · 2022-07-15",
        "[attachment: a.txt (12 bytes)]",
    ])
    assert render_message({"content": "", "flags": 128}) == "… is thinking"


async def test_sharded_identify_gets_only_its_guilds_and_events(
        discord_emulator: DiscordEmulator) -> None:
    """A raw gateway client, as Discord's docs describe sharding: IDENTIFY with
    ``shard: [id, count]`` → READY and GUILD_CREATE of that shard's guilds only, events of
    other shards' guilds never arrive; an invalid shard pair is closed with 4010."""
    import aiohttp

    emu = discord_emulator
    other = emu.add_guild("Other shard", shard=(1, 2))
    home = emu.add_guild("Home shard", shard=(0, 2))
    token = emu.state.token

    async def identify(session: aiohttp.ClientSession,
                       shard: list[int]) -> tuple[aiohttp.ClientWebSocketResponse, list[dict]]:
        ws = await session.ws_connect(emu.gateway_url + "?v=10&encoding=json")
        hello = await ws.receive_json(timeout=5)
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": token, "intents": 1 | 1 << 9 | 1 << 15, "shard": shard,
                                            "properties": {}}})
        events = []
        while len([e for e in events if e.get("t") == "GUILD_CREATE"]) < 1:
            msg = await ws.receive(timeout=5)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return ws, events + [{"close": ws.close_code}]
            events.append(msg.json())
        return ws, events

    async with aiohttp.ClientSession() as session:
        ws, events = await identify(session, [0, 2])
        ready = events[0]["d"]
        assert events[0]["t"] == "READY" and ready["shard"] == [0, 2]
        listed = {int(g["id"]) for g in ready["guilds"]}
        assert home in listed and other not in listed
        assert all((g >> 22) % 2 == 0 for g in listed)
        user = emu.add_user("raw")
        await emu.send_message(emu.channel_id("general", other), user, "not for shard 0")
        await emu.send_message(emu.channel_id("general", home), user, "for shard 0")
        while True:
            payload = await ws.receive_json(timeout=5)
            if payload.get("t") == "MESSAGE_CREATE":
                break
        assert payload["d"]["content"] == "for shard 0"  # the other guild's came first, not here
        await ws.close()
        bad, events = await identify(session, [2, 2])
        assert events[-1] == {"close": 4010}
        await bad.close()
