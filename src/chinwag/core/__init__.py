"""The pure chat domain: no asyncio, no sockets, no database, no wire formats."""
