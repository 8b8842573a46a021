"""Dari's settings: the bottom of the import graph.

``settings.config`` reads and validates ``config.toml``; it imports nothing of the project,
so every layer above (corpus, embeddings, bot, the application in ``dari/``) may use it.
"""
