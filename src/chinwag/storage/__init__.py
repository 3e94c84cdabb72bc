"""Message history (append before delivery, read back for catch-up and
CHATHISTORY) and the rules of rooms that outlive their members.

Import the contract from :mod:`chinwag.storage.base`; the backends are chosen
by :func:`~chinwag.storage.base.open_store` and nothing else should name them.
"""

from chinwag.storage.base import (
    HistoryStore,
    RoomStore,
    StorageError,
    Store,
    conversation_key,
    key_for,
    open_store,
    private_key,
    room_key,
)

__all__ = ["HistoryStore", "RoomStore", "StorageError", "Store", "conversation_key", "key_for", "open_store",
           "private_key", "room_key"]
