"""IRC wire format, Sans-I/O: see :mod:`chinwag.protocols.irc.message`."""

from chinwag.protocols.irc.message import (
    EMPTY_TAGS,
    EmptyMessage,
    InputTooLong,
    InvalidMessage,
    IrcLineReader,
    IrcProtocolError,
    Message,
    Tags,
    TooLongPart,
    check_length,
    escape_tag_value,
    parse_line,
    parse_source,
    unescape_tag_value,
)

__all__ = [
    "EMPTY_TAGS",
    "EmptyMessage",
    "InputTooLong",
    "InvalidMessage",
    "IrcLineReader",
    "IrcProtocolError",
    "Message",
    "Tags",
    "TooLongPart",
    "check_length",
    "escape_tag_value",
    "parse_line",
    "parse_source",
    "unescape_tag_value",
]
