"""A local Discord API emulator (REST + gateway), its user-side driver and the sandbox chat.

Used by the tests and by ``dari sandbox``; the real discord.py client connects to it.
Import the parts directly: ``emulator.server.DiscordEmulator``, ``emulator.harness``,
``emulator.render`` (the sandbox that uses them is ``dari.sandbox``).
"""
