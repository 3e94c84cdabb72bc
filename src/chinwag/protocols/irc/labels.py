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
    if len(msgs) == 1 or _one_batch(msgs):
        # One line, or one batch of its own (a draft/multiline echo): the label
        # goes on it (its opening BATCH), as the multiline spec says.
        m = msgs[0]
        first = IrcMessage(m.command, m.params, m.source, {**m.tags, "label": label}).to_bytes()
        return [first, *(m.to_bytes() for m in msgs[1:])]
    ref = f"b{next(tokens)}"
    out = [IrcMessage("BATCH", ("+" + ref, "labeled-response"), server, {"label": label})]
    # Lines already inside a batch of their own (CHATHISTORY) keep its tag.
    out += [m if "batch" in m.tags else IrcMessage(m.command, m.params, m.source, {**m.tags, "batch": ref})
            for m in msgs]
    out.append(IrcMessage("BATCH", ("-" + ref,), server))
    return [m.to_bytes() for m in out]



def _one_batch(msgs: list[IrcMessage]) -> bool:
    """``BATCH +ref draft/multiline ...``, lines tagged ``batch=ref``, ``BATCH -ref``:
    one multiline batch, nothing else."""
    head, tail = msgs[0], msgs[-1]
    if head.command != "BATCH" or tail.command != "BATCH" or len(head.params) < 2 or not tail.params:
        return False
    if head.params[1] != "draft/multiline":
        return False
    ref = head.params[0][1:]
    return (head.params[0] == "+" + ref and tail.params[0] == "-" + ref
            and all(m.tags.get("batch") == ref for m in msgs[1:-1]))
