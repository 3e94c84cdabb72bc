"""The client core without sockets: lines in, events and lines out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chinwag.client import commands as cmd
from chinwag.client.events import (
    Info,
    Joined,
    Kicked,
    Names,
    NickChanged,
    NickInUse,
    Parted,
    Pong,
    Quit,
    Registered,
    RoomInfo,
    Said,
    ServerError,
    Topic,
)
from chinwag.client.protocol import ClientProtocol, SeenIds, Session, casefold, split_text

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make(nick: str = "alice", rooms: tuple[str, ...] = ("#lobby",)) -> ClientProtocol:
    return ClientProtocol(Session(nick, rooms), clock=lambda: T0)


def feed(p: ClientProtocol, *lines: str) -> list[object]:
    p.receive_data("".join(line + "\r\n" for line in lines).encode())
    return list(p.events_received())


def sent(p: ClientProtocol) -> list[str]:
    return p.data_to_send().decode().splitlines()


def register(p: ClientProtocol, caps: str = "") -> None:
    p.start()
    sent(p)
    if caps:
        feed(p, f":srv CAP * LS :{caps}")
        req = sent(p)[0]
        feed(p, f":srv CAP * ACK :{req.partition(':')[2]}")
        sent(p)
    feed(p, f":srv 001 {p.nick} :Welcome", ":srv 005 alice CHANTYPES=# CHATHISTORY=50 :are supported")
    sent(p)


ALL = "server-time message-tags echo-message batch draft/chathistory labeled-response sasl=PLAIN"


def test_registration_requests_only_offered_caps_then_ends() -> None:
    p = make()
    p.start()
    assert sent(p) == ["CAP LS 302", "NICK alice", "USER chinwag 0 * :chinwag connect"]
    assert feed(p, ":srv CAP * LS * :multi-prefix server-time", ":srv CAP * LS :echo-message sasl=PLAIN") == []
    assert sent(p) == ["CAP REQ :server-time echo-message"]
    feed(p, ":srv CAP * ACK :server-time echo-message")
    assert sent(p) == ["CAP END"]
    assert p.caps == {"server-time", "echo-message"}
    events = feed(p, ":srv 001 alice :Welcome to IRC")
    assert events[0] == Registered(T0, "alice", "srv")
    assert sent(p) == ["JOIN #lobby"]


def test_server_without_wanted_caps_just_ends_negotiation() -> None:
    p = make()
    p.start()
    sent(p)
    feed(p, ":irc.test CAP * LS :multi-prefix")
    assert sent(p) == ["CAP END"]


def test_nak_still_ends_negotiation() -> None:
    p = make()
    p.start()
    sent(p)
    feed(p, ":srv CAP * LS :server-time")
    sent(p)
    feed(p, ":srv CAP * NAK :server-time")
    assert sent(p) == ["CAP END"]
    assert p.caps == set()


def test_nick_in_use_retries_with_suffixes_and_reconnect_asks_original() -> None:
    session = Session("alice", ())
    p = ClientProtocol(session, clock=lambda: T0)
    p.start()
    sent(p)
    assert feed(p, ":srv 433 * alice :Nickname is already in use") == [NickInUse(T0, "alice", "alice_")]
    assert sent(p) == ["NICK alice_"]
    feed(p, ":srv 433 * alice_ :Nickname is already in use")
    assert sent(p) == ["NICK alice_2"]
    events = feed(p, ":srv 001 alice_2 :Welcome")
    assert isinstance(events[0], Registered) and events[0].nick == "alice_2"
    again = ClientProtocol(session)
    again.start()
    assert "NICK alice" in sent(again)


def test_nick_in_use_after_registration_is_just_an_error() -> None:
    p = make()
    register(p)
    events = feed(p, ":srv 433 alice bob :Nickname is already in use")
    assert isinstance(events[0], ServerError) and "bob" in events[0].text
    assert sent(p) == []


def test_erroneous_nick_is_fatal() -> None:
    p = make("1bad")
    p.start()
    sent(p)
    feed(p, ":srv 432 * 1bad :Erroneous nickname")
    assert p.fatal and sent(p) == ["QUIT :invalid nick"]


def test_ping_pong() -> None:
    p = make()
    register(p)
    feed(p, "PING :abc123")
    assert sent(p) == ["PONG abc123"]
    p.ping("tok")
    assert sent(p) == ["PING tok"]
    assert feed(p, ":srv PONG srv :tok") == [Pong(T0, "tok")]


def test_privmsg_with_server_time_and_mention() -> None:
    p = make()
    register(p, ALL)
    [ev] = feed(p, "@time=2024-05-01T09:15:00.000Z;msgid=m1 :bob!b@h PRIVMSG #lobby :hey ALICE, look")
    assert ev == Said(datetime(2024, 5, 1, 9, 15, tzinfo=UTC), "bob", "#lobby", "hey ALICE, look",
                      mention=True, msgid="m1")
    [ev] = feed(p, ":bob!b@h PRIVMSG #lobby :malice is not a mention")
    assert isinstance(ev, Said) and not ev.mention


def test_action_notice_and_private_messages() -> None:
    p = make()
    register(p)
    [act] = feed(p, ":bob!b@h PRIVMSG #lobby :\x01ACTION waves\x01")
    assert isinstance(act, Said) and act.kind == "action" and act.text == "waves"
    [note] = feed(p, ":bob!b@h NOTICE #lobby :heads up")
    assert isinstance(note, Said) and note.kind == "notice"
    [pm] = feed(p, ":bob!b@h PRIVMSG alice :psst")
    assert isinstance(pm, Said) and pm.private and pm.peer == "bob"
    [server_notice] = feed(p, ":srv NOTICE alice :*** Looking up your hostname")
    assert server_notice == Info(T0, "*** Looking up your hostname")


def test_ctcp_version_is_answered_other_ctcp_ignored() -> None:
    p = make()
    register(p)
    assert feed(p, ":bob!b@h PRIVMSG alice :\x01VERSION\x01") == []
    assert sent(p) == ["NOTICE bob :\x01VERSION chinwag connect\x01"]
    assert feed(p, ":bob!b@h PRIVMSG alice :\x01TIME\x01") == []


def test_own_lines_echo_locally_without_echo_message() -> None:
    p = make()
    register(p)
    p.perform(cmd.Say("#lobby", "hello"))
    assert sent(p) == ["PRIVMSG #lobby hello"]
    [ev] = p.events_received()
    assert isinstance(ev, Said) and ev.own and ev.text == "hello"


def test_own_lines_come_from_the_server_with_echo_message() -> None:
    p = make()
    register(p, ALL)
    p.perform(cmd.Act("#lobby", "waves"))
    assert sent(p) == ["PRIVMSG #lobby :\x01ACTION waves\x01"]
    assert p.events_received() == []
    [ev] = feed(p, "@msgid=x :alice!a@h PRIVMSG #lobby :\x01ACTION waves\x01")
    assert isinstance(ev, Said) and ev.own and ev.kind == "action" and not ev.mention


def test_long_lines_are_split_to_fit_512_bytes() -> None:
    p = make()
    register(p)
    p.perform(cmd.Say("#lobby", "word " * 300))
    lines = sent(p)
    assert len(lines) > 2
    assert all(len(line.encode()) + 80 <= 512 for line in lines)
    assert " ".join(line.split(" :", 1)[1] for line in lines).split() == ["word"] * 300


def test_split_text_respects_utf8_boundaries() -> None:
    pieces = split_text("é" * 100, 51)
    assert all(len(piece.encode()) <= 51 for piece in pieces)
    assert "".join(pieces) == "é" * 100
    assert split_text("", 10) == [""]


@pytest.mark.parametrize(
    ("intent", "line"),
    [
        (cmd.JoinRoom("#dev"), "JOIN #dev"),
        (cmd.PartRoom("#dev", "bye now"), "PART #dev :bye now"),
        (cmd.PartRoom("#dev"), "PART #dev"),
        (cmd.ChangeNick("al"), "NICK al"),
        (cmd.WhoIs("#dev"), "NAMES #dev"),
        (cmd.ListRooms(), "LIST"),
        (cmd.SetTopic("#dev", None), "TOPIC #dev"),
        (cmd.SetTopic("#dev", "ship it"), "TOPIC #dev :ship it"),
        (cmd.QuitChat("gone"), "QUIT gone"),
        (cmd.QuitChat(), "QUIT leaving"),
        (cmd.Raw("MODE #dev +t"), "MODE #dev +t"),
        (cmd.Say("bob", "hi"), "PRIVMSG bob hi"),
    ],
)
def test_intents_map_to_irc(intent: cmd.Intent, line: str) -> None:
    p = make()
    register(p)
    p.perform(intent)
    assert sent(p) == [line]


def test_bad_raw_line_is_not_sent() -> None:
    p = make()
    register(p)
    p.perform(cmd.Raw("@@@"))
    assert sent(p) == []
    assert isinstance(p.events_received()[0], ServerError)


def test_membership_tracking() -> None:
    p = make()
    register(p)
    assert feed(p, ":alice!a@h JOIN #lobby") == [Joined(T0, "#lobby", "alice", own=True)]
    [names] = feed(p, ":srv 353 alice = #lobby :@alice +bob carol", ":srv 366 alice #lobby :End")
    assert names == Names(T0, "#lobby", ("alice", "bob", "carol"))
    assert feed(p, ":dave!d@h JOIN #lobby") == [Joined(T0, "#lobby", "dave")]
    assert feed(p, ":bob!b@h NICK :robert") == [NickChanged(T0, "bob", "robert")]
    assert p.nicks("#LOBBY") == ["alice", "carol", "dave", "robert"]
    assert feed(p, ":carol!c@h PART #lobby :later") == [Parted(T0, "#lobby", "carol", "later")]
    assert feed(p, ":dave!d@h QUIT :Quit: bye") == [Quit(T0, "dave", "Quit: bye", ("#lobby",))]
    assert p.nicks("#lobby") == ["alice", "robert"]
    assert feed(p, ":robert!r@h KICK #lobby alice :out") == [Kicked(T0, "#lobby", "alice", "robert", "out", own=True)]
    assert p.rooms == [] and p.nicks("#lobby") == []


def test_own_nick_change_updates_session() -> None:
    p = make()
    register(p)
    p.perform(cmd.ChangeNick("al"))
    sent(p)
    assert feed(p, ":alice!a@h NICK al") == [NickChanged(T0, "alice", "al", own=True)]
    assert p.nick == "al" and p.session.nick == "al"


def test_topic_list_and_errors() -> None:
    p = make()
    register(p)
    assert feed(p, ":srv 332 alice #lobby :welcome all") == [Topic(T0, "#lobby", "welcome all")]
    assert feed(p, ":bob!b@h TOPIC #lobby :new") == [Topic(T0, "#lobby", "new", "bob")]
    assert feed(p, ":srv 322 alice #dev 3 :dev talk") == [RoomInfo(T0, "#dev", 3, "dev talk")]
    [err] = feed(p, ":srv 482 alice #lobby :You're not channel operator")
    assert err == ServerError(T0, "#lobby You're not channel operator", "482")
    [fail] = feed(p, "FAIL CHATHISTORY INVALID_TARGET #x :No such target")
    assert isinstance(fail, ServerError) and "CHATHISTORY" in fail.text


def test_failed_join_is_not_retried_on_reconnect() -> None:
    p = make(rooms=("#lobby", "#secret"))
    register(p)
    feed(p, ":srv 473 alice #secret :Cannot join channel (+i)")
    assert p.rooms == ["#lobby"]


def test_rejoin_after_reconnect_fetches_history_after_last_msgid() -> None:
    session = Session("alice", ("#lobby",))
    first = ClientProtocol(session, clock=lambda: T0)
    register(first, ALL)
    feed(first, ":alice!a@h JOIN #lobby", ":srv BATCH +h0 chathistory #lobby", ":srv BATCH -h0",  # LATEST: none
         "@msgid=m1 :bob!b@h PRIVMSG #lobby :one", "@msgid=m2 :bob!b@h PRIVMSG #lobby :two")
    sent(first)
    # the connection drops; a new protocol on the same session
    second = ClientProtocol(session, clock=lambda: T0)
    register(second, ALL)
    assert second.caps >= {"draft/chathistory", "batch"}
    feed(second, ":alice!a@h JOIN #lobby")
    assert sent(second) == ["CHATHISTORY AFTER #lobby msgid=m2 50"]
    events = feed(
        second,
        ":srv BATCH +h1 chathistory #lobby",
        "@batch=h1;msgid=m2 :bob!b@h PRIVMSG #lobby :two",  # already shown: dropped
        "@batch=h1;msgid=m3 :bob!b@h PRIVMSG #lobby :three",
        ":srv BATCH -h1",
        "@msgid=m3 :bob!b@h PRIVMSG #lobby :three",  # and again live: dropped
        "@msgid=m4 :bob!b@h PRIVMSG #lobby :four",
    )
    said = [e for e in events if isinstance(e, Said)]
    assert [(e.text, e.history) for e in said] == [("three", True), ("four", False)]
    assert session.last_msgid["#lobby"] == "m4"
    assert sent(second) == []  # a short batch: nothing more to fetch


def test_a_full_history_batch_pages_on() -> None:
    session = Session("alice", ("#lobby",))
    session.last_msgid["#lobby"] = "m0"
    p = ClientProtocol(session, clock=lambda: T0)
    register(p, ALL)
    feed(p, ":alice!a@h JOIN #lobby")
    assert sent(p) == ["CHATHISTORY AFTER #lobby msgid=m0 50"]
    lines = [f"@batch=b;msgid=n{i} :bob!b@h PRIVMSG #lobby :{i}" for i in range(50)]
    feed(p, ":srv BATCH +b chathistory #lobby", *lines, ":srv BATCH -b")
    assert sent(p) == ["CHATHISTORY AFTER #lobby msgid=n49 50"]


def test_no_history_request_without_the_cap() -> None:
    session = Session("alice", ("#lobby",))
    session.last_msgid["#lobby"] = "m0"
    p = ClientProtocol(session, clock=lambda: T0)
    register(p, "server-time")
    feed(p, ":alice!a@h JOIN #lobby")
    assert sent(p) == []


def test_garbage_from_the_server_is_ignored() -> None:
    p = make()
    register(p)
    assert feed(p, "\x00\x01 nonsense", ":bob!b@h PRIVMSG", "PRIVMSG", ":x 999") == []
    p.receive_data(b"x" * 10_000 + b"\r\n")
    assert p.events_received() == []


def test_casefold_and_seen_ids() -> None:
    assert casefold("Alice[]\\~") == "alice{}|^"
    assert casefold("A[", "ascii") == "a["
    seen = SeenIds(size=2)
    for msgid in ("a", "b", "a", "c"):
        seen.add(msgid)
    assert "a" not in seen and "b" in seen and "c" in seen


def rejoin_after(last: str) -> ClientProtocol:
    """A reconnected protocol that has just rejoined #lobby and asked AFTER ``last``."""
    session = Session("alice", ("#lobby",))
    session.last_msgid["#lobby"] = last
    p = ClientProtocol(session, clock=lambda: T0)
    register(p, ALL)
    feed(p, ":alice!a@h JOIN #lobby")
    assert sent(p) == [f"CHATHISTORY AFTER #lobby msgid={last} 50"]
    return p


def said(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, Said)]


def test_live_lines_wait_for_the_catch_up_and_show_in_order_once() -> None:
    p = rejoin_after("m1")
    assert said(feed(p, "@msgid=m4 :bob!b@h PRIVMSG #lobby :four")) == []  # live, before the history: held
    events = feed(
        p,
        ":srv BATCH +h chathistory #lobby",
        "@batch=h;msgid=m2 :bob!b@h PRIVMSG #lobby :two",
        "@batch=h;msgid=m3 :bob!b@h PRIVMSG #lobby :three",
        "@batch=h;msgid=m4 :bob!b@h PRIVMSG #lobby :four",  # the held one, in its place
        "@batch=h;msgid=m5 :bob!b@h PRIVMSG #lobby :five",
        ":srv BATCH -h",
        "@msgid=m5 :bob!b@h PRIVMSG #lobby :five",  # live again: dropped
        "@msgid=m6 :bob!b@h PRIVMSG #lobby :six",
    )
    assert said(events) == ["two", "three", "four", "five", "six"]
    assert p.session.last_msgid["#lobby"] == "m6"


def test_a_held_line_newer_than_the_history_comes_after_it() -> None:
    p = rejoin_after("m1")
    events = feed(
        p,
        "@msgid=m3 :bob!b@h PRIVMSG #lobby :three",
        ":srv BATCH +h chathistory #lobby",
        "@batch=h;msgid=m2 :bob!b@h PRIVMSG #lobby :two",
        ":srv BATCH -h",
    )
    assert said(events) == ["two", "three"]


def test_paging_goes_on_after_the_history_not_after_a_live_line() -> None:
    """A live line during a paged catch-up must not move the next page past what
    the pages have not brought yet (a gap)."""
    p = rejoin_after("m0")
    lines = [f"@batch=b;msgid=n{i:02} :bob!b@h PRIVMSG #lobby :{i}" for i in range(50)]
    events = feed(p, "@msgid=z :bob!b@h PRIVMSG #lobby :live", ":srv BATCH +b chathistory #lobby", *lines,
                  ":srv BATCH -b")
    assert sent(p) == ["CHATHISTORY AFTER #lobby msgid=n49 50"]
    assert said(events) == [str(i) for i in range(50)]  # the live line still waits
    events = feed(p, ":srv BATCH +c chathistory #lobby", "@batch=c;msgid=n50 :bob!b@h PRIVMSG #lobby :50",
                  ":srv BATCH -c")
    assert said(events) == ["50", "live"]
    assert sent(p) == []


def test_a_failed_catch_up_shows_what_was_held() -> None:
    p = rejoin_after("m1")
    assert said(feed(p, "@msgid=m4 :bob!b@h PRIVMSG #lobby :four")) == []
    events = feed(p, "FAIL CHATHISTORY MESSAGE_ERROR AFTER #lobby :Messages could not be retrieved")
    assert said(events) == ["four"]
