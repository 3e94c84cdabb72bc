"""chinwag: one asyncio chat server, several protocols, the same rooms."""

__version__ = "0.1.0"
