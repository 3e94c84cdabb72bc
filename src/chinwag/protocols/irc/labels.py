"""labeled-response: the answer to a labeled command (ACK, one tagged line, or
a ``labeled-response`` batch), and ``batch`` tagging."""

from __future__ import annotations

from chinwag.protocols.irc.format import tokens
from chinwag.protocols.irc.message import Message as IrcMessage


def in_batch(line: bytes, ref: str) -> bytes:
    """``line`` with ``batch=ref`` first among its tags."""
    tag = f"batch={ref}".encode()
    return b"@" + tag + b";" + line[1:] if line.startswith(b"@") else b"@" + tag + b" " + line



def finish_label(server: str, label: str, lines: list[bytes]) -> list[bytes]:
    """Send the answer to a labeled command: ACK, one tagged line, or a batch."""
    msgs = [IrcMessage.parse(raw.decode()) for data in lines for raw in data.split(b"\r\n") if raw]
    if not msgs:
        return [IrcMessage("ACK", (), server, {"label": label}).to_bytes()]
    if len(msgs) == 1:
        m = msgs[0]
        return [IrcMessage(m.command, m.params, m.source, {**m.tags, "label": label}).to_bytes()]
    ref = f"b{next(tokens)}"
    out = [IrcMessage("BATCH", ("+" + ref, "labeled-response"), server, {"label": label})]
    # Lines already inside a batch of their own (CHATHISTORY) keep its tag.
    out += [m if "batch" in m.tags else IrcMessage(m.command, m.params, m.source, {**m.tags, "batch": ref})
            for m in msgs]
    out.append(IrcMessage("BATCH", ("-" + ref,), server))
    return [m.to_bytes() for m in out]

