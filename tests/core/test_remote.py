"""Users on other nodes (ghosts), in the pure core: two hubs stand for two nodes
of a cluster; what one hub's change amounts to (remote.ops_for) is applied to
the other (remote.apply), and we look at what the second hub's local users get
and what NAMES, WHO, WHOIS, LIST, LUSERS and ISON show there."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from chinwag.config import Limits
from chinwag.core.accounts import AccountChanged, SetAccount
from chinwag.core.errors import NoSuchNick
from chinwag.core.events import (
    ChangeNick,
    Checked,
    Command,
    Crowd,
    Event,
    Failed,
    Join,
    Joined,
    Left,
    Members,
    Message,
    NickChanged,
    Outbound,
    Part,
    Parted,
    Quit,
    Register,
    Say,
    Who,
)
from chinwag.core.handlers import remote
from chinwag.core.hub import Hub
from chinwag.core.types import cluster
from chinwag.core.types.cluster import Presence, RemoteUser
from chinwag.core.types.lookup import Lookup, LookupReply, ServerStats, Stats, Whois, WhoisReply, WhoQuery, WhoReply
from chinwag.core.types.moderation import Kick, Kicked, Kill, Mode, ModeChange, ModeChanged, Oper
from chinwag.core.types.presence import AwayChanged, SetAway
from chinwag.core.types.registered import RoomRegister
from chinwag.core.types.rooms import Invite, Invited, ListQuery, ListReply, Topic, TopicChanged
from chinwag.core.types.userinfo import HostChanged, HostRejoined, RealnameChanged, SetName

NOW = 1_700_000_000.0


class Node:
    """One node: its hub, and the other nodes its changes are applied to."""

    def __init__(self, name: str, limits: Limits | None = None, account_host: str = "") -> None:
        self.name = name
        self.hub = Hub(limits or Limits(), clock=lambda: NOW, account_host=account_host)
        self.peers: list[Node] = []
        self.ops: list[cluster.PresenceOp] = []  # what it published

    def reg(self, sid: int, nick: str, *rooms: str) -> dict[str, list[Outbound]]:
        self.hub.connect(sid)
        return self.do(sid, Register(nick, rooms))

    def do(self, sid: int, command: Command) -> dict[str, list[Outbound]]:
        return self.publish(self.hub.handle(sid, command))

    def publish(self, out: list[Outbound]) -> dict[str, list[Outbound]]:
        """``out`` here, and on each peer what applying its ops made."""
        ops = remote.ops_for(self.hub, out)
        self.ops += ops
        seen = {self.name: out}
        for peer in self.peers:
            seen[peer.name] = [o for op in ops for o in remote.apply(peer.hub, self.name, op)]
        return seen


def pair(limits: Limits | None = None, account_host: str = "") -> tuple[Node, Node]:
    a, b = Node("a", limits, account_host), Node("b", limits, account_host)
    a.peers, b.peers = [b], [a]
    return a, b


def to(out: Iterable[Outbound], sid: int) -> list[Event]:
    return [o.event for o in out if sid in o.to]


def ask(node: Node, sid: int, command: Command) -> Event:
    [o] = node.hub.handle(sid, command)
    assert list(o.to) == [sid]
    return o.event


def test_a_user_of_another_node_joins_shows_and_is_found_like_a_local_one() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r")  # bob created #r on b: its op
    seen = a.reg(1, "alice", "#r")
    # On a, #r existed (bob's ghost is in it): alice is not its op by arriving first.
    assert a.hub.rooms["#r"].ops == {a.hub.nicks["bob"]}
    assert to(seen["b"], 1) == [Joined("#r", "alice", user="~alice", realname="alice")]
    ghost = b.hub.nicks["alice"]
    assert remote.is_ghost(ghost) and b.hub.remote == {ghost: "a"}
    names = ask(b, 1, Who("#r"))
    assert isinstance(names, Members) and names.nicks == ("bob", "alice")
    assert [i.prefix for i in names.info] == ["@", ""]
    who = ask(b, 1, WhoQuery("#r"))
    assert isinstance(who, WhoReply) and [e[1].nick for e in who.entries] == ["bob", "alice"]
    whois = ask(b, 1, Whois("alice"))
    assert isinstance(whois, WhoisReply) and whois.rooms == ("#r",) and whois.info.user == "~alice"
    assert ask(b, 1, ListQuery()) == ListReply((("#r", 2, ""),))
    assert ask(b, 1, Lookup(("alice", "nobody"))) == LookupReply((b.hub.info(b.hub.sessions[ghost]),))
    stats = ask(b, 1, Stats())
    assert (stats.users, stats.unregistered, stats.rooms) == (2, 0, 1)  # type: ignore[union-attr]
    # ... and the same from a's side.
    names = ask(a, 1, Who("#r"))
    assert isinstance(names, Members) and names.nicks == ("bob", "alice")


def test_a_quit_is_told_once_to_each_local_user_who_shared_a_room() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r", "#s")
    b.reg(2, "carol")
    a.reg(1, "alice", "#r", "#s")
    seen = a.do(1, Quit("bye"))
    assert seen["b"] == [Outbound([1], Left("alice", "bye", "~alice"))]
    assert "alice" not in b.hub.nicks and b.hub.remote == {} and list(b.hub.rooms["#r"].members) == [1]


def test_a_quit_nobody_saw_and_one_in_a_big_room_still_reach_the_other_node() -> None:
    a, b = pair(Limits(crowd_size=2))
    a.reg(1, "loner")
    for sid, nick in ((1, "bob"), (2, "carol")):
        b.reg(sid, nick, "#big")
    seen = a.reg(2, "alice", "#big")  # a big room: joins are summarized, and still replicated
    assert a.ops[-1] == cluster.Join("alice", "#big", "")
    assert seen["b"] == [] and b.hub.nicks["alice"] in b.hub.rooms["#big"].members
    summary = b.hub.flush_crowds()
    # (the hub addresses summaries to every member; the transport skips ghosts: no connection)
    assert [(remote.local(o.to), o.event.changes) for o in summary if isinstance(o.event, Crowd)] == [
        ([1, 2], (("join", "alice", ""),))]
    assert a.do(1, Quit("gone"))["b"] == []  # shared no room: no event anywhere ...
    assert "loner" not in b.hub.nicks  # ... but the other node forgot it
    a.do(2, Quit("bye"))  # only in the big room: a's hub tells nobody now
    assert "alice" not in b.hub.nicks
    summary = b.hub.flush_crowds()
    assert [o.event.changes for o in summary if isinstance(o.event, Crowd)] == [(("quit", "alice", "bye"),)]


def test_nick_topic_away_modes_and_setname_look_the_same_on_the_other_node() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r")
    a.reg(1, "alice", "#r")
    assert to(a.do(1, ChangeNick("Alicia"))["b"], 1) == [NickChanged("alice", "Alicia", "~alice")]
    assert b.hub.nicks.get("alice") is None and remote.is_ghost(b.hub.nicks["alicia"])
    assert to(a.do(1, SetAway("lunch"))["b"], 1) == [AwayChanged("Alicia", "lunch")]
    assert to(a.do(1, SetName("Alicia A."))["b"], 1) == [RealnameChanged("Alicia", "Alicia A.")]
    # bob (op on b) makes alice op; then alice sets the topic and +m, seen on b as on a.
    seen = b.do(1, Mode("#r", (ModeChange(True, "o", "Alicia"),)))
    assert to(seen["b"], 1) == [ModeChanged("#r", "bob", (ModeChange(True, "o", "Alicia"),))]
    assert a.hub.rooms["#r"].ops == {1, a.hub.nicks["bob"]}
    seen = a.do(1, Topic("#r", "hello"))
    assert to(seen["b"], 1) == [TopicChanged("#r", "Alicia", "hello", NOW)]
    changes = (ModeChange(True, "m"), ModeChange(True, "b", "troll!*@*"))
    seen = a.do(1, Mode("#r", changes))
    assert to(seen["b"], 1) == [ModeChanged("#r", "Alicia", changes)]
    room = b.hub.rooms["#r"]
    assert room.flags == {"m", "n", "t"} and list(room.bans) == ["troll!*@*"] and room.topic == "hello"
    assert b.hub.saved["#r"].topic == "hello"  # the Rules op: kept like a local room's rules
    assert b.hub.changed == {}  # ... but stored by the node where it changed, not here
    whois = ask(b, 1, Whois("alicia"))
    assert isinstance(whois, WhoisReply) and whois.info.away == "lunch" and whois.rooms == ("@#r",)


def test_a_kick_from_another_node_removes_the_local_user_here() -> None:
    a, b = pair()
    a.reg(1, "alice", "#r")  # alice's room: her op
    b.reg(1, "bob", "#r")
    b.reg(2, "carol", "#r")
    seen = a.do(1, Kick("#r", "bob", "out"))
    kicked = Kicked("#r", "alice", "bob", "out", "~alice")
    assert to(seen["b"], 1) == [kicked] and to(seen["b"], 2) == [kicked]
    assert "#r" not in b.hub.sessions[1].rooms and 1 not in b.hub.rooms["#r"].members


def test_op_given_on_join_in_a_registered_room_shows_as_the_services_mode_after_the_join() -> None:
    a, b = pair()
    a.hub.connect(1)
    a.do(1, SetAccount("alice", created=True))
    a.do(1, Register("alice", ("#r",)))
    a.do(1, RoomRegister("#r"))
    assert b.hub.saved["#r"].registered and b.hub.saved["#r"].founder == "alice"
    b.reg(1, "bob", "#r")
    a.do(1, Part("#r"))
    seen = a.do(1, Join("#r"))
    assert a.ops[-2:] == [cluster.Join("alice", "#r", ""),
                          cluster.Modes("ChanServ", "#r", (ModeChange(True, "o", "alice"),), "ChanServ")]
    assert [type(e) for e in to(seen["b"], 1)] == [Joined, ModeChanged]
    assert remote.is_ghost(next(iter(b.hub.rooms["#r"].ops)))
    # bob joined a registered room first on b: no op for him (its rules came from a).
    assert 1 not in b.hub.rooms["#r"].ops


def test_an_invitation_from_another_node_lets_the_local_user_in() -> None:
    a, b = pair()
    a.reg(1, "alice", "#vip")
    a.do(1, Mode("#vip", (ModeChange(True, "i"),)))
    b.reg(1, "bob")
    seen = a.do(1, Invite("bob", "#vip"))
    assert to(seen["b"], 1) == [Invited("#vip", "alice", "bob", "~alice")]
    out = b.do(1, Join("#vip"))
    assert Joined("#vip", "bob") in to(out["b"], 1) and Joined("#vip", "bob") in to(out["a"], 1)


def test_ops_that_come_again_change_nothing() -> None:
    a, b = pair()
    a.reg(1, "alice", "#r")  # her room: she may set its topic
    b.reg(1, "bob", "#r")
    a.do(1, SetAway("away"))
    a.do(1, Topic("#r", "hi"))
    a.do(1, SetName("Alice"))
    assert len(a.ops) == 6  # Arrive, Join, Away, Topic, Rules, UserInfo
    for op in a.ops:
        assert remote.apply(b.hub, "a", op) == []
    assert remote.apply(b.hub, "a", cluster.Part("nobody", "#r")) == []
    assert remote.apply(b.hub, "c", cluster.Quit("alice")) == []  # not c's user
    assert "alice" in b.hub.nicks


def test_a_second_connection_attaching_is_not_a_new_user_elsewhere() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r")
    a.reg(1, "alice", "#r")
    a.do(1, SetAccount("alice", created=True))
    a.reg(2, "phone", "#r")
    seen = a.do(2, SetAccount("alice"))  # the phone becomes alice: its own name quits
    assert a.ops[-1:] == [cluster.Quit("phone", "logged in as alice on another connection")]
    assert to(seen["b"], 1) == [Left("phone", "logged in as alice on another connection", "~phone")]
    assert "phone" not in b.hub.nicks and b.hub.sessions[b.hub.nicks["alice"]].account == "alice"


def test_no_connection_attaches_to_a_ghost_and_nick_protection_leaves_ghosts_alone() -> None:
    a, b = pair(Limits(nick_grace=0))
    a.hub.connect(1)
    a.do(1, SetAccount("alice", created=True))
    a.do(1, Register("alice", ("#r",)))
    assert "alice" in b.hub.registered  # (a logged-in user's account exists)
    assert b.hub.accounts == {}
    b.reg(1, "al", "#r")
    seen = b.do(1, SetAccount("alice"))  # alice is online on a: no attaching, no taking her nick
    assert [type(e) for e in to(seen["b"], 1)] == [AccountChanged]
    assert b.hub.links == {} and b.hub.devices == {} and b.hub.nick_of(1) == "al"
    assert remote.is_ghost(b.hub.nicks["alice"]) and b.hub.guards == {}
    # A ghost holding a registered name it is not logged in to (its node runs its grace period):
    # logging in to that account here does not take the name from it.
    remote.apply(b.hub, "a", cluster.Arrive(RemoteUser("carol", "~carol", "carol")))
    b.hub.load_accounts(["carol"])
    b.reg(2, "cee")
    seen = b.do(2, SetAccount("carol"))
    assert [type(e) for e in to(seen["b"], 2)] == [AccountChanged]
    assert b.hub.nick_of(2) == "cee" and remote.is_ghost(b.hub.nicks["carol"])
    # KILL of a user of another node is refused here.
    b.do(1, Checked(Oper("root", "x"), True))
    [failed] = b.hub.handle(1, Kill("alice", "no"))
    assert isinstance(failed.event, Failed) and isinstance(failed.event.error, NoSuchNick)
    assert "another node" in failed.event.error.reason and "alice" in b.hub.nicks


def test_snapshot_and_reconcile_repair_what_was_missed_each_change_told_once() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r", "#s")
    a.reg(1, "alice", "#r")
    a.reg(2, "carol", "#r")
    a.peers = []  # the bus loses a's ops from here
    a.do(1, Join("#s"))
    a.do(1, Part("#r"))
    a.do(1, SetAway("lunch"))
    a.do(2, Quit())
    a.reg(3, "dave", "#s")
    snap = remote.snapshot(a.hub)
    assert [p.user.nick for p in snap] == ["alice", "dave"]
    out = remote.reconcile(b.hub, "a", snap)
    assert to(out, 1) == [
        Left("carol", "", "~carol"),
        AwayChanged("alice", "lunch"),
        Parted("#r", "alice", "", "~alice"),
        Joined("#s", "alice", "lunch", "~alice", realname="alice"),
        Joined("#s", "dave", user="~dave", realname="dave"),
    ]
    assert remote.reconcile(b.hub, "a", snap) == []  # nothing left to repair
    names = ask(b, 1, Who("#s"))
    assert isinstance(names, Members) and names.nicks == ("bob", "alice", "dave")


def test_reconcile_gives_a_nick_held_by_another_nodes_ghost_to_the_snapshots_node() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r")
    remote.apply(b.hub, "c", cluster.Arrive(RemoteUser("zed", "~zed", "zed", signon=NOW)))
    remote.apply(b.hub, "c", cluster.Join("zed", "#r"))
    old = b.hub.nicks["zed"]
    user = RemoteUser("zed", "~z", "Zed of a", signon=NOW)
    out = remote.reconcile(b.hub, "a", [Presence(user, (("#r", "@"),))])
    assert to(out, 1) == [Left("zed", "nick taken over by a", "~zed"),
                          Joined("#r", "zed", user="~z", realname="Zed of a"),
                          ModeChanged("#r", "ChanServ", (ModeChange(True, "o", "zed"),))]
    new = b.hub.nicks["zed"]
    assert new != old and b.hub.remote == {new: "a"} and b.hub.rooms["#r"].ops == {1, new}
    # A local user's nick stays its own.
    assert remote.reconcile(b.hub, "a", [Presence(RemoteUser("bob", "~bob", "bob"))]) == [
        Outbound([1], Left("zed", "", "~z"))]
    assert b.hub.nicks["bob"] == 1


def test_a_node_gone_takes_its_users_with_it_each_quit_told_once() -> None:
    a, b = pair()
    b.reg(1, "bob", "#r", "#s")
    b.reg(2, "carol", "#s")
    a.reg(1, "alice", "#r", "#s")
    a.reg(2, "dave", "#r")
    out = remote.drop_node(b.hub, "a", "a is gone")
    assert to(out, 1) == [Left("alice", "a is gone", "~alice"), Left("dave", "a is gone", "~dave")]
    assert to(out, 2) == [Left("alice", "a is gone", "~alice")]
    assert b.hub.remote == {} and sorted(b.hub.nicks) == ["bob", "carol"]
    stats = ask(b, 1, Stats())
    assert stats.users == 2  # type: ignore[union-attr]
    assert remote.drop_node(b.hub, "a", "again") == []


def test_a_message_from_another_node_reaches_local_members_and_the_nicks_holder() -> None:
    limits = dataclasses.replace(Limits())
    a, b = pair(limits)
    b.reg(1, "bob", "#r")
    b.reg(2, "carol")
    a.reg(1, "alice", "#r")
    [sent] = [o for o in a.hub.handle(1, Say("#r", "hi")) if isinstance(o.event, Message)]
    assert isinstance(sent.event, Message)
    assert remote.recipients(b.hub, sent.event) == [1]  # not alice's ghost
    [private] = [o for o in a.hub.handle(1, Say("carol", "psst")) if isinstance(o.event, Message)]
    assert isinstance(private.event, Message) and remote.recipients(b.hub, private.event) == [2]
    to_ghost = dataclasses.replace(private.event, target="alice")
    assert remote.recipients(b.hub, to_ghost) == []
    assert remote.recipients(b.hub, dataclasses.replace(sent.event, target="#nowhere")) == []
    # bob on two connections: both get it.
    b.hub.links[5], b.hub.devices[1] = 1, [1, 5]
    assert remote.recipients(b.hub, sent.event) == [1, 5]


def test_renames_in_the_same_change_are_followed_on_the_other_node() -> None:
    a, b = pair(Limits(nick_grace=0))
    a.hub.load_accounts(["alice"])
    b.hub.load_accounts(["alice"])
    b.reg(1, "bob", "#r")
    # Registering as a protected name, not logged in: renamed at once.
    seen = a.reg(1, "alice", "#r")
    assert a.ops[-3:] == [cluster.Arrive(RemoteUser("alice", "~alice", "", signon=NOW)),
                          cluster.Nick("alice", "Guest1"), cluster.Join("Guest1", "#r")]
    assert to(seen["b"], 1) == [Joined("#r", "Guest1", user="~alice", realname="Guest1")]
    # Logging in to the account whose name someone else holds: that one is renamed, and the name is ours.
    a, b = pair(Limits(nick_grace=30))
    for node in (a, b):
        node.hub.load_accounts(["alice"])
    b.reg(1, "bob", "#r")
    a.reg(2, "al", "#r")
    a.reg(3, "alice", "#r")  # not logged in: renamed when the account's user logs in
    seen = a.do(2, SetAccount("alice"))
    assert a.ops[-3:] == [cluster.Account("al", "alice"), cluster.Nick("alice", "Guest1"), cluster.Nick("al", "alice")]
    assert [e for e in to(seen["b"], 1) if not isinstance(e, AccountChanged)] == [
        NickChanged("alice", "Guest1", "~alice"), NickChanged("al", "alice", "~al")]
    assert b.hub.sessions[b.hub.nicks["alice"]].account == "alice"
    assert b.hub.sessions[b.hub.nicks["guest1"]].account is None


def test_a_login_with_its_host_oper_and_user_modes_show_on_the_other_node() -> None:
    a, b = pair(account_host="account/{account}")
    b.reg(1, "bob", "#r")
    a.reg(1, "alice", "#r")
    seen = a.do(1, SetAccount("alice", created=True))
    assert to(seen["b"], 1) == [
        AccountChanged("alice", "alice"),
        HostChanged("alice", "~alice", "~alice@account/alice"),
        HostRejoined("#r", "alice", "~alice@account/alice", "", "alice", "alice"),
    ]
    a.do(1, Checked(Oper("root", "x"), True))
    a.do(1, Mode("alice", (ModeChange(True, "i"),)))
    whois = ask(b, 1, Whois("alice"))
    assert isinstance(whois, WhoisReply) and whois.info.oper and whois.info.host == "account/alice"
    stats = ask(b, 1, Stats())
    assert isinstance(stats, ServerStats) and (stats.users, stats.opers, stats.invisible) == (2, 1, 1)
    a.do(1, Mode("alice", (ModeChange(False, "o"), ModeChange(False, "i"))))
    stats = ask(b, 1, Stats())
    assert isinstance(stats, ServerStats) and (stats.opers, stats.invisible) == (0, 0)
