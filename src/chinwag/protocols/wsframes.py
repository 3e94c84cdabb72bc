"""RFC 6455 frames, Sans-I/O: what a server reads from a WebSocket client, and
the few frames it writes besides its data.

:class:`FrameReader` takes bytes as they come (``feed``) and hands out whole
messages and control frames one at a time (``next``), so its owner decides how
many to take per loop iteration. It enforces what a server must of a client
(RFC 6455 5.1-5.5, 7.4):

* every client frame is masked (1002 otherwise);
* no RSV bit (no extension is negotiated) and no unknown opcode (1002);
* fragmentation: a continuation only inside a fragmented message, no new data
  frame inside one (1002); control frames may come between fragments, and are
  short (at most 125 bytes) and never fragmented themselves (1002);
* a message (all its fragments) at most ``max_size`` bytes, refused as soon as
  a frame header says it would be larger, before its payload is buffered (1009);
* a text message is valid UTF-8 (1007), as is a close frame's reason; a close
  frame's code is one an endpoint may send (1002).

Errors raise :class:`WsError` with the close code to fail the connection with.
The reader holds at most the frame being completed (bytes arriving in small
pieces are appended, and parsed only once the frame is whole).
"""

from __future__ import annotations

from typing import Final

OP_CONT: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

PROTOCOL_ERROR: Final = 1002
INVALID_DATA: Final = 1007
TOO_BIG: Final = 1009


class WsError(Exception):
    """The client broke RFC 6455: fail the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


#: ``int.from_bytes`` bound once: looked up on ``int`` it costs a type lookup and a
#: bound method each time (~1,100 instructions a frame for two); byte order: the default, big.
_from_bytes: Final = int.from_bytes


def unmask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 5.3), in C (big ints)."""
    n = len(data)
    if not n:
        return b""
    key = (mask * ((n + 3) >> 2))[:n]
    return (_from_bytes(data) ^ _from_bytes(key)).to_bytes(n)


def valid_close_code(code: int) -> bool:
    """Codes a peer may send in a close frame (RFC 6455 7.4.1, 7.4.2; IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def close_frame(code: int | None = None, reason: bytes = b"") -> bytes:
    """A server's close frame (unmasked); no code: an empty payload."""
    payload = b"" if code is None else code.to_bytes(2, "big") + reason[:123]
    return bytes((0x80 | OP_CLOSE, len(payload))) + payload


def pong_frame(payload: bytes) -> bytes:
    """A server's pong for a ping carrying ``payload`` (at most 125 bytes: checked on reading)."""
    return bytes((0x80 | OP_PONG, len(payload))) + payload


def close_code(payload: bytes) -> int | None:
    """A client's close frame: its code (None: none given); WsError if malformed."""
    if not payload:
        return None
    if len(payload) == 1:
        raise WsError(PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if not valid_close_code(code):
        raise WsError(PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise WsError(INVALID_DATA, "close reason is not UTF-8") from None
    return code


class FrameReader:
    """Client frames in, ``(opcode, payload)`` out: whole messages (fragments
    joined; OP_TEXT or OP_BINARY) and control frames (OP_PING, OP_PONG, OP_CLOSE)."""

    __slots__ = ("max_size", "_buf", "_pos", "_rest", "_need", "_parts", "_kind", "_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buf = b""  # bytes being parsed, from _pos
        self._pos = 0
        self._rest: bytearray | None = None  # an incomplete frame, appended to as bytes arrive
        self._need = 0  # ... until it is this long
        self._parts: list[bytes] | None = None  # a fragmented message's payloads so far
        self._kind = 0  # its opcode
        self._size = 0  # its bytes so far

    def feed(self, data: bytes) -> None:
        rest = self._rest
        if rest is not None:
            rest += data
            return
        if self._pos < len(self._buf):
            self._rest = bytearray(memoryview(self._buf)[self._pos:])
            self._rest += data
            self._need = 0  # (unknown: parse again)
            self._buf, self._pos = b"", 0
            return
        self._buf, self._pos = data, 0

    def pending(self) -> bool:
        """Could ``next`` return something (bytes enough for a frame)?"""
        rest = self._rest
        if rest is not None:
            return len(rest) >= self._need
        return self._pos < len(self._buf)

    def buffered(self) -> int:
        """Bytes held, not yet handed out as frames."""
        rest = self._rest
        return len(rest) if rest is not None else len(self._buf) - self._pos

    def next(self) -> tuple[int, bytes] | None:
        """The next message or control frame, or None until more bytes come."""
        buf = self._buf
        pos = self._pos
        if pos == len(buf) and self._rest is None:
            return None
        if self._parts is None and self._rest is None and len(buf) - pos >= 6:
            # The commonest frame, whole in the buffer: a final, masked text or
            # binary frame of at most 125 bytes (one IRC line), taken here at once.
            b0 = buf[pos]
            n = buf[pos + 1] ^ 0x80  # (the mask bit set: the length; unset: >= 128)
            end = pos + 6 + n
            if (b0 == 0x81 or b0 == 0x82) and n < 126 and end <= len(buf):
                key = (buf[pos + 2:pos + 6] * ((n + 3) >> 2))[:n]
                payload = (_from_bytes(buf[pos + 6:end]) ^ _from_bytes(key)).to_bytes(n)  # (unmask, inline)
                self._pos = end
                if b0 == 0x81 and not payload.isascii():
                    try:
                        payload.decode()
                    except UnicodeDecodeError:
                        raise WsError(INVALID_DATA, "text message is not UTF-8") from None
                return b0 & 0x0F, payload
        while True:
            rest = self._rest
            if rest is not None:
                if len(rest) < self._need:
                    return None
                self._buf, self._pos, self._rest = bytes(rest), 0, None
            frame = self._frame()
            if frame is None:
                return None
            opcode, fin, payload = frame
            if opcode >= OP_CLOSE:
                return opcode, payload
            parts = self._parts
            if opcode == OP_CONT:
                if parts is None:
                    raise WsError(PROTOCOL_ERROR, "continuation frame outside a fragmented message")
                parts.append(payload)
                if not fin:
                    continue
                self._parts = None
                opcode = self._kind
                payload = b"".join(parts)
            elif parts is not None:
                raise WsError(PROTOCOL_ERROR, "new message inside a fragmented one")
            elif not fin:
                self._parts = [payload]
                self._kind = opcode
                self._size = len(payload)
                continue
            if opcode == OP_TEXT and not payload.isascii():
                try:
                    payload.decode()
                except UnicodeDecodeError:
                    raise WsError(INVALID_DATA, "text message is not UTF-8") from None
            return opcode, payload

    def _frame(self) -> tuple[int, bool, bytes] | None:
        """One frame from _buf at _pos, or None (the rest kept, and the length it needs)."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 2:
            if avail:
                self._short(2)
            else:  # (the commonest end: the read was whole frames)
                self._buf, self._pos = b"", 0
            return None
        b0 = buf[pos]
        b1 = buf[pos + 1]
        if b0 & 0x70:
            raise WsError(PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
        if not b1 & 0x80:
            raise WsError(PROTOCOL_ERROR, "client frames must be masked")
        opcode = b0 & 0x0F
        n = b1 & 0x7F
        head = 6
        if n == 126:
            if avail < 4:
                self._short(8)
                return None
            n = int.from_bytes(buf[pos + 2:pos + 4], "big")
            head = 8
        elif n == 127:
            if avail < 10:
                self._short(14)
                return None
            n = int.from_bytes(buf[pos + 2:pos + 10], "big")
            head = 14
            if n >> 63:
                raise WsError(PROTOCOL_ERROR, "frame length with its top bit set")
        if opcode >= OP_CLOSE:
            if opcode > OP_PONG:
                raise WsError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            if not b0 & 0x80:
                raise WsError(PROTOCOL_ERROR, "fragmented control frame")
            if n > 125:
                raise WsError(PROTOCOL_ERROR, "control frame longer than 125 bytes")
        elif opcode > OP_BINARY:
            raise WsError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
        elif (self._size if opcode == OP_CONT and self._parts is not None else 0) + n > self.max_size:
            raise WsError(TOO_BIG, f"message longer than {self.max_size} bytes")
        end = pos + head + n
        if avail < head + n:
            self._short(head + n)
            return None
        payload = unmask(buf[pos + head:end], buf[pos + head - 4:pos + head])
        if opcode == OP_CONT:
            self._size += n
        self._pos = end
        return opcode, bool(b0 & 0x80), payload

    def _short(self, need: int) -> None:
        """Keep the incomplete frame until it is ``need`` bytes long."""
        self._rest = bytearray(memoryview(self._buf)[self._pos:])
        self._need = need
        self._buf, self._pos = b"", 0
