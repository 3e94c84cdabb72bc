"""The metrics plumbing: histograms in plain ints, the dashboard's names, config."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chinwag.config import Config, ConfigError, load_config, metrics_host_port
from chinwag.transport.metrics import Buckets
from chinwag.transport.server import ListenError, Server
from tests.conftest import make_config

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-chinwag.json"


def test_buckets_are_cumulative_with_sum_and_inf() -> None:
    b = Buckets((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 3.0):
        b.observe(v)
    family = b.family("x_seconds", "doc")
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("x_seconds_bucket", "0.1")] == 2  # le: 0.1 itself counts
    assert samples[("x_seconds_bucket", "1.0")] == 3
    assert samples[("x_seconds_bucket", "+Inf")] == 4
    assert samples[("x_seconds_count", None)] == 4
    assert samples[("x_seconds_sum", None)] == pytest.approx(3.65)


async def test_every_metric_the_dashboard_queries_is_exposed() -> None:
    srv = Server(make_config())
    await srv.start()
    try:
        families = list(text_string_to_metric_families(srv.metrics.exposition().decode()))
        # (a labelled family with no sample yet still has its TYPE line)
        exposed = {s.name for f in families for s in f.samples} | {
            f.name + ("_total" if f.type == "counter" else "") for f in families}
    finally:
        await srv.shutdown()
    queries = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p.get("targets", [])]
    used = {name for q in queries for name in re.findall(r"\bchinwag_[a-z_]+", q)}
    assert len(used) >= 15
    assert used - exposed == set()


def test_metrics_address_is_checked_at_load() -> None:
    assert metrics_host_port("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert metrics_host_port("[::1]:0") == ("::1", 0)
    assert load_config(env={"CHINWAG_METRICS_ADDRESS": "127.0.0.1:9108"}).metrics_address == "127.0.0.1:9108"
    for bad in ("9108", "localhost", ":9108", "127.0.0.1:x", "127.0.0.1:70000"):
        with pytest.raises(ConfigError, match="metrics_address must be host:port"):
            Config(metrics_address=bad)


async def test_a_taken_metrics_address_names_its_key() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        cfg = dataclasses.replace(make_config(), metrics_address=f"127.0.0.1:{taken.getsockname()[1]}")
        with pytest.raises(ListenError, match="cannot listen for metrics on 127.0.0.1:") as caught:
            await Server(cfg).start()
        assert caught.value.key == "metrics_address"
    finally:
        taken.close()


async def test_healthz_answers_json_to_who_asks_and_ok_to_the_rest() -> None:
    srv = Server(make_config())
    await srv.start()
    try:
        url = f"http://127.0.0.1:{srv.port('web')}/healthz"
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Accept": "application/json"}) as resp:
                assert (resp.status, await resp.json()) == (200, {"status": "ok"})
            async with http.get(url) as resp:
                assert (resp.status, await resp.text()) == (200, "ok")
    finally:
        await srv.shutdown()
