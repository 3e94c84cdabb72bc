"""The only asyncio code on the server side: listeners, connections, flushing."""
