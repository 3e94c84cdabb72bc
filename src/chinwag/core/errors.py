"""Typed domain errors; each protocol maps them to its own reply at its edge.

    ChatError
    ├── NameError_          a nick cannot be used
    │   ├── NickInUse
    │   └── ErroneousNick
    ├── RoomNameError       a room name is not valid
    ├── NoSuchNick          no such user online
    ├── NoSuchRoom          no such room exists
    ├── NotInRoom           the sender is not a member of that room
    ├── NoText              an empty message
    ├── NotRegistered       a command before registration
    └── AlreadyRegistered   a second registration

``hint`` is the closest IRC numeric, so the IRC adapter needs no isinstance chain.
"""

from __future__ import annotations


class ChatError(Exception):
    hint: str = "400"

    def __init__(self, subject: str = "", reason: str = "") -> None:
        super().__init__(subject, reason)
        self.subject = subject
        self.reason = reason or self.default_reason()

    def default_reason(self) -> str:
        return "error"

    def __str__(self) -> str:
        return f"{self.reason}: {self.subject}" if self.subject else self.reason


class NameError_(ChatError):
    pass


class NickInUse(NameError_):
    hint = "433"

    def default_reason(self) -> str:
        return "name taken"


class ErroneousNick(NameError_):
    hint = "432"

    def default_reason(self) -> str:
        return "invalid name"


class RoomNameError(ChatError):
    hint = "479"

    def default_reason(self) -> str:
        return "invalid room name"


class NoSuchNick(ChatError):
    hint = "401"

    def default_reason(self) -> str:
        return "no such nick"


class NoSuchRoom(ChatError):
    hint = "403"

    def default_reason(self) -> str:
        return "no such room"


class NotInRoom(ChatError):
    hint = "442"

    def default_reason(self) -> str:
        return "you are not in that room"


class NoText(ChatError):
    hint = "412"

    def default_reason(self) -> str:
        return "no text to send"


class NotRegistered(ChatError):
    hint = "451"

    def default_reason(self) -> str:
        return "you have not registered"


class AlreadyRegistered(ChatError):
    hint = "462"

    def default_reason(self) -> str:
        return "you are already registered"
