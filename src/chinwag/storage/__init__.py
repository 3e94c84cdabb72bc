"""Message history: append before delivery, read back for catch-up and CHATHISTORY.

Import the contract from :mod:`chinwag.storage.base`; the backends are chosen
by :func:`~chinwag.storage.base.open_store` and nothing else should name them.
"""

from chinwag.storage.base import (
    HistoryStore,
    StorageError,
    conversation_key,
    key_for,
    open_store,
    private_key,
    room_key,
)

__all__ = ["HistoryStore", "StorageError", "conversation_key", "key_for", "open_store", "private_key", "room_key"]
