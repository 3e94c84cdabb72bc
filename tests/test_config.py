from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.config import ConfigError, load_config


def test_defaults() -> None:
    c = load_config(env={})
    assert (c.host, c.text_port, c.db, c.default_room) == ("127.0.0.1", 2626, "chinwag.db", "#lobby")
    assert (c.limits.max_line, c.limits.nick_len, c.limits.room_len, c.limits.sendq) == (
        4096, 32, 64, 1 << 20)


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('host = "0.0.0.0"\ntext_port = 1111\nlog_level = "DEBUG"\n[limits]\nnick_len = 10\n')
    env = {"CHINWAG_TEXT_PORT": "2222", "CHINWAG_LIMITS__MAX_LINE": "1000", "OTHER": "x"}
    c = load_config(f, env, {"text_port": None, "db": "x.db"})
    assert (c.host, c.text_port, c.db, c.log_level) == ("0.0.0.0", 2222, "x.db", "DEBUG")
    assert (c.limits.nick_len, c.limits.max_line) == (10, 1000)
    c = load_config(f, env, {"text_port": 0})
    assert c.text_port == 0


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("bogus = 1\n", {}, "unknown key 'bogus'"),
        ("[limits]\nwhat = 1\n", {}, "unknown key limits.what"),
        ("[limits]\nmax_line = -1\n", {}, "limits.max_line must be a positive integer"),
        ("", {"CHINWAG_TEXT_PORT": "abc"}, "CHINWAG_TEXT_PORT"),
        ("text_port = 70000\n", {}, "text_port must be 0..65535"),
        ("not toml [", {}, "cannot read config"),
        ("[limits]\nauth_delay_ms = 5000\nauth_delay_max_ms = 1000\n", {}, "auth_delay_max_ms must be at least"),
    ],
)
def test_bad_config_is_reported(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(f, env)


def test_example_config_lists_every_key_with_its_default() -> None:
    import dataclasses
    import tomllib

    from chinwag.config import Config, Limits

    path = Path(__file__).resolve().parents[1] / "chinwag.example.toml"
    data = tomllib.loads(path.read_text())
    limits = data.pop("limits")
    data.pop("operators")
    assert set(limits) == {f.name for f in dataclasses.fields(Limits)}
    assert set(data) | {"limits", "operators"} == {f.name for f in dataclasses.fields(Config)}
    assert load_config(path, {}) == Config()  # every value in it is the default


def test_exempt_and_trusted_proxies(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('exempt = ["10.0.0.0/8", "::1"]\ntrusted_proxies = ["127.0.0.1"]\n'
                 "[limits]\nmax_unregistered_per_ip = 3\nhttp_header_timeout = 4\n")
    c = load_config(f, {})
    assert (c.exempt, c.trusted_proxies) == (("10.0.0.0/8", "::1"), ("127.0.0.1",))
    assert (c.limits.max_unregistered_per_ip, c.limits.http_header_timeout) == (3, 4)
    c = load_config(None, {"CHINWAG_EXEMPT": "192.168.0.0/16, 2001:db8::/32", "CHINWAG_TRUSTED_PROXIES": "::1"})
    assert (c.exempt, c.trusted_proxies) == (("192.168.0.0/16", "2001:db8::/32"), ("::1",))
    d = load_config(env={})
    assert (d.exempt, d.trusted_proxies) == ((), ())
    assert (d.limits.max_unregistered_per_ip, d.limits.register_timeout, d.limits.http_header_timeout,
            d.limits.http_keepalive, d.limits.ipv6_prefix) == (10, 20, 10, 15, 64)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('exempt = "10.0.0.0/8"\n', "must be a list, got"),
        ('exempt = ["10.0.0.300"]\n', "exempt: '10.0.0.300' is not an address or network"),
        ('exempt = ["10.0.0.1/8"]\n', "has host bits set"),
        ("trusted_proxies = [1]\n", "trusted_proxies: 1 is not an address"),
        ("[limits]\nipv6_prefix = 129\n", "limits.ipv6_prefix must be 1..128"),
        ("[limits]\nhttp_header_timeout = 0\n", "limits.http_header_timeout must be a positive integer"),
    ],
)
def test_bad_networks_are_reported(tmp_path: Path, toml: str, message: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(f, {})


def test_multiclient_reads_true_and_false_from_env_and_nick_grace_may_be_zero() -> None:
    assert load_config(env={"CHINWAG_MULTICLIENT": "false"}).multiclient is False
    assert load_config(env={"CHINWAG_MULTICLIENT": "true"}).multiclient is True
    with pytest.raises(ConfigError, match="CHINWAG_MULTICLIENT: cannot read 'maybe' as true or false"):
        load_config(env={"CHINWAG_MULTICLIENT": "maybe"})
    assert load_config(env={"CHINWAG_LIMITS__NICK_GRACE": "0"}).limits.nick_grace == 0
    with pytest.raises(ConfigError, match="limits.nick_grace must be a positive integer"):
        load_config(env={"CHINWAG_LIMITS__NICK_GRACE": "-1"})


def test_cluster_settings_from_file_env_and_flags(tmp_path: Path) -> None:
    d = load_config(env={})
    assert (d.redis, d.node_name, d.cluster_name) == ("", "", "chinwag")
    assert (d.limits.cluster_heartbeat, d.limits.cluster_lease, d.limits.cluster_gap_wait,
            d.limits.cluster_poll, d.limits.cluster_bus_queue) == (2.0, 8.0, 0.05, 0.5, 10_000)
    f = tmp_path / "c.toml"
    f.write_text('postgres = "postgresql://pg/chinwag"\nredis = "redis://file:6379/0"\ncluster_name = "school"\n'
                 "[limits]\ncluster_heartbeat = 1\ncluster_lease = 2.5\ncluster_bus_queue = 50\n")
    c = load_config(f, {"CHINWAG_REDIS": "rediss://:pw@env:6380/1", "CHINWAG_LIMITS__CLUSTER_POLL": "0.25"},
                    {"node_name": "node-a:6667", "cluster_name": None})
    assert (c.postgres, c.redis, c.node_name, c.cluster_name) == (
        "postgresql://pg/chinwag", "rediss://:pw@env:6380/1", "node-a:6667", "school")
    assert (c.limits.cluster_heartbeat, c.limits.cluster_lease, c.limits.cluster_poll,
            c.limits.cluster_bus_queue) == (1.0, 2.5, 0.25, 50)
    assert isinstance(c.limits.cluster_heartbeat, float)  # an int in the file is read as seconds all the same


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ('redis = "redis://127.0.0.1:6379/0"\n', {}, "a cluster needs PostgreSQL"),
        ("", {"CHINWAG_REDIS": "redis://r:6379/0"}, "a cluster needs PostgreSQL"),
        ('postgres = "postgresql://pg/db"\nredis = "127.0.0.1:6379"\n', {}, "redis must be a URL like"),
        ('postgres = "postgresql://pg/db"\nredis = "http://r"\n', {}, "redis must be a URL like"),
        ('postgres = "postgresql://pg/db"\nredis = "redis://r:port/0"\n', {}, "redis must be a URL like"),
        ('postgres = "postgresql://pg/db"\nredis = "redis://r:6379/zero"\n', {}, "redis must be a URL like"),
        ('postgres = "postgresql://pg/db"\nredis = "redis:///0"\n', {}, "redis must be a URL like"),
        ('cluster_name = "my net"\n', {}, "cluster_name must be letters, digits"),
        ('cluster_name = ""\n', {}, "cluster_name must be letters, digits"),
        ('node_name = "a b"\n', {}, "node_name must be one word"),
        ("reuse_port = true\n", {}, "reuse_port is for nodes of a cluster"),
        ("[limits]\ncluster_heartbeat = 4.0\n", {}, "cluster_lease must be more than twice limits.cluster_heartbeat"),
        ("[limits]\ncluster_lease = 4.0\n", {}, "cluster_lease must be more than twice limits.cluster_heartbeat"),
        ("[limits]\ncluster_heartbeat = 0\n", {}, "limits.cluster_heartbeat must be a positive number"),
        ("[limits]\ncluster_gap_wait = -0.1\n", {}, "limits.cluster_gap_wait must be a positive number"),
        ('[limits]\ncluster_poll = "fast"\n', {}, "limits.cluster_poll must be a positive number"),
        ("[limits]\ncluster_poll = nan\n", {}, "limits.cluster_poll must be a positive number"),
        ("[limits]\ncluster_bus_queue = 0\n", {}, "limits.cluster_bus_queue must be a positive integer"),
        ("[limits]\ncluster_bus_queue = 1.5\n", {}, "limits.cluster_bus_queue must be a positive integer"),
        ("", {"CHINWAG_LIMITS__CLUSTER_HEARTBEAT": "soon"}, "CHINWAG_LIMITS__CLUSTER_HEARTBEAT: cannot read"),
    ],
)
def test_bad_cluster_config_is_reported(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(f, env)
