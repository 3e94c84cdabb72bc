"""Message history (append before delivery, read back for catch-up and
CHATHISTORY) and the rules of rooms that outlive their members.

Import the contract from :mod:`chinwag.storage.base`; the backends are chosen
by :func:`~chinwag.storage.open.open_store` and nothing else should name them.
"""

from chinwag.storage.base import (
    HistoryStore,
    RoomStore,
    StorageError,
    Store,
    conversation_key,
    key_for,
    private_key,
    room_key,
)
from chinwag.storage.open import open_store

__all__ = ["HistoryStore", "RoomStore", "StorageError", "Store", "conversation_key", "key_for", "open_store",
           "private_key", "room_key"]
