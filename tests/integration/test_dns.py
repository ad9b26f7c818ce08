"""DNS for direct delivery against real servers: dns::Resolver on the io_uring EventLoop (through
engine::DnsDriver, driven by `dns_bench resolve`, which prints one JSON line per domain) asking a
private dnsmasq, and tests/integration/dnsserver.py misbehaving on purpose (SERVFAIL, garbage,
compression loops, truncation → TCP). Only 127.0.0.1.

Env: RINGMTA_DNS_BENCH (default: bench/dns_bench next to RINGMTA_BIN's cli/ directory).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from dnsmasq import Dnsmasq, binary as dnsmasq_binary  # noqa: E402
from dnsserver import DnsServer  # noqa: E402


def dns_bench() -> str:
    explicit = os.environ.get("RINGMTA_DNS_BENCH")
    if explicit:
        return explicit
    return str(Path(ringmta_bin()).resolve().parents[1] / "bench" / "dns_bench")


@pytest.fixture(scope="module")
def bench_bin():
    b = dns_bench()
    if not os.access(b, os.X_OK):
        pytest.skip(f"{b} not built (the bench/ directory is not part of this build)")
    return b


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def resolve(bench_bin, port, *domains, extra=(), timeout=30):
    t0 = time.monotonic()
    out = subprocess.run(
        [bench_bin, "resolve", "--server", f"127.0.0.1:{port}", "--timeout-ms", "300", "--tries", "2",
         *extra, *domains],
        capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    stats = [x["stats"] for x in lines if "stats" in x][0]
    results = [x for x in lines if "domain" in x]
    assert len(results) == len(domains)
    return results, stats, time.monotonic() - t0


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory):
    if dnsmasq_binary() is None:
        pytest.skip("dnsmasq not installed")
    lines = ["mx-host=pref.test,mx2.pref.test,20", "mx-host=pref.test,mx1.pref.test,10",
             "host-record=mx1.pref.test,127.0.0.11", "host-record=mx2.pref.test,127.0.0.12",
             "mx-host=eq.test,a.eq.test,10", "mx-host=eq.test,b.eq.test,10",
             "host-record=a.eq.test,127.0.0.21", "host-record=b.eq.test,127.0.0.22",
             "dns-rr=null.test,15,000000", "host-record=null.test,127.0.0.23",
             "host-record=nomx.test,127.0.0.24,::1",
             "mx-host=cname.test,alias.cname.test,10", "cname=alias.cname.test,real.cname.test",
             "host-record=real.cname.test,127.0.0.25",
             "host-record=mx.bulk.test,127.0.0.26"]
    lines += [f"mx-host=d{i}.bulk.test,mx.bulk.test,10" for i in range(1000)]
    server = Dnsmasq(tmp_path_factory.mktemp("dnsmasq"), lines).start()
    try:
        yield server.port
    finally:
        server.stop()


LOOPBACK = ("--allow-loopback",)


def test_rfc5321_rules_against_dnsmasq(bench_bin, dnsmasq):
    results, stats, _ = resolve(bench_bin, dnsmasq, "pref.test", "nope.test", "null.test",
                                "nomx.test", "cname.test", extra=LOOPBACK)
    by = {r["domain"]: r for r in results}
    pref = by["pref.test"]
    assert pref["ok"] and not pref["implicit_mx"]
    assert [(c["host"], c["preference"], c["address"]) for c in pref["candidates"]] == [
        ("mx1.pref.test", 10, "127.0.0.11"), ("mx2.pref.test", 20, "127.0.0.12")]
    assert by["nope.test"]["ok"] is False and by["nope.test"]["permanent"] is True
    assert by["nope.test"]["code"] == "5.1.2" and by["nope.test"]["text"] == "domain does not exist"
    assert by["null.test"]["permanent"] is True and by["null.test"]["code"] == "5.1.10"
    nomx = by["nomx.test"]
    assert nomx["ok"] and nomx["implicit_mx"]
    assert [c["address"] for c in nomx["candidates"]] == ["127.0.0.24", "::1"]
    assert [c["host"] for c in by["cname.test"]["candidates"]] == ["alias.cname.test"]
    assert by["cname.test"]["candidates"][0]["address"] == "127.0.0.25"
    assert stats["mx_queries"] == 5


def test_equal_preferences_both_first_over_many_lookups(bench_bin, dnsmasq):
    results, stats, _ = resolve(bench_bin, dnsmasq, *(["eq.test"] * 60), extra=LOOPBACK)
    firsts = {r["candidates"][0]["host"] for r in results}
    assert firsts == {"a.eq.test", "b.eq.test"}
    assert stats["mx_queries"] == 1  # one query, the other 59 coalesced or cached


def test_loopback_mx_refused_without_the_flag(bench_bin, dnsmasq):
    results, _, _ = resolve(bench_bin, dnsmasq, "pref.test")
    assert results[0]["permanent"] is True and results[0]["code"] == "5.4.6"
    assert "MX points at ourselves/loopback" in results[0]["text"]


def test_thousand_domains_one_mx_query_each(bench_bin, dnsmasq):
    domains = [f"d{i}.bulk.test" for i in range(1000)]
    results, stats, _ = resolve(bench_bin, dnsmasq, *domains, *domains, extra=LOOPBACK)
    assert all(r["ok"] and r["candidates"][0]["address"] == "127.0.0.26" for r in results)
    assert stats["mx_queries"] == 1000
    assert stats["address_queries"] == 2  # mx.bulk.test A + AAAA
    assert stats["failures"] == 0


def test_dns_server_down_defers_without_a_fallback(bench_bin):
    results, stats, elapsed = resolve(bench_bin, free_port(), "pref.test", extra=LOOPBACK)
    r = results[0]
    assert r["ok"] is False and r["permanent"] is False and r["code"] == "4.4.3"
    assert "DNS lookup failed, will retry" in r["text"]
    assert stats["address_queries"] == 0
    assert elapsed < 10


@pytest.fixture()
def hostile():
    zone = {
        "servfail.test": "servfail",
        "garbage.test": "garbage",
        "loop.test": "loop",
        "silent.test": "silent",
        "big.test": {"MX": [(i, f"mx-with-a-long-name-for-truncation-{i}.big.test") for i in range(30)],
                     "truncate_udp": True},
    }
    for i in range(30):
        zone[f"mx-with-a-long-name-for-truncation-{i}.big.test"] = {"A": [f"127.0.1.{i + 1}"]}
    server = DnsServer(zone).start()
    yield server
    server.stop()


def test_hostile_answers_defer_and_never_hang(bench_bin, hostile):
    results, stats, elapsed = resolve(bench_bin, hostile.port, "servfail.test", "garbage.test",
                                      "loop.test", "silent.test", extra=LOOPBACK)
    for r in results:
        assert r["ok"] is False and r["permanent"] is False and r["code"] == "4.4.3", r
    assert stats["address_queries"] == 0  # never an A fallback
    assert elapsed < 10  # 300 ms + 600 ms timeouts, not a hang


def test_truncated_udp_answer_is_retried_over_tcp(bench_bin, hostile):
    results, _, _ = resolve(bench_bin, hostile.port, "big.test", extra=LOOPBACK)
    r = results[0]
    assert r["ok"], r
    assert [c["host"] for c in r["candidates"]][:2] == [
        "mx-with-a-long-name-for-truncation-0.big.test", "mx-with-a-long-name-for-truncation-1.big.test"]
    assert len(r["candidates"]) == 5  # addresses of the first five MX hosts
    assert ("big.test", 15) in hostile.udp_queries
    assert ("big.test", 15) in hostile.tcp_queries
