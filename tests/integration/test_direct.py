"""Direct delivery (--direct) against real servers on 127.0.0.x: a private dnsmasq serves the MX, A and CNAME
records; `ringmta sink` instances, a scripted misbehaving SMTP server (scripted_mx.py) and the stack's real Postfix
(its "mx" listener on 127.0.0.4, STARTTLS offered) are the MX hosts, all on the same port (--mx-port). Every
outcome is checked in ringmta's JSON summary, its --delivery-log and at the receiving server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from dnsmasq import Dnsmasq, binary as dnsmasq_binary, free_udp_port  # noqa: E402
from mailstack import CERT_NAME, wait_for_port  # noqa: E402
from scripted_mx import ScriptedMx  # noqa: E402

SINK_A, SINK_B, DEAD, BUSY, GREYLIST, BROKEN_TLS = ("127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14",
                                                   "127.0.0.15", "127.0.0.16")
BULK_DOMAINS = 1000

RECORDS = [
    # preference order: mx1 (10) before mx2 (20)
    "mx-host=pref.dd.test,mx2.pref.dd.test,20", "mx-host=pref.dd.test,mx1.pref.dd.test,10",
    f"host-record=mx1.pref.dd.test,{SINK_A}", f"host-record=mx2.pref.dd.test,{SINK_B}",
    # the preferred MX refuses connections: the second is used
    "mx-host=failover.dd.test,mx1.failover.dd.test,10", "mx-host=failover.dd.test,mx2.failover.dd.test,20",
    f"host-record=mx1.failover.dd.test,{DEAD}", f"host-record=mx2.failover.dd.test,{SINK_B}",
    # every MX answers 4xx: deferred
    "mx-host=defer.dd.test,mx1.defer.dd.test,10", "mx-host=defer.dd.test,mx2.defer.dd.test,20",
    f"host-record=mx1.defer.dd.test,{BUSY}", f"host-record=mx2.defer.dd.test,{GREYLIST}",
    # null MX (RFC 7505) with an A record that must not be used
    "dns-rr=null.dd.test,15,000000", f"host-record=null.dd.test,{SINK_A}",
    # no MX at all: the domain's own A record (implicit MX)
    f"host-record=nomx.dd.test,{SINK_B}",
    # the MX target is a CNAME
    "mx-host=cname.dd.test,alias.cname.dd.test,10", "cname=alias.cname.dd.test,real.cname.dd.test",
    f"host-record=real.cname.dd.test,{SINK_A}",
    # a real Postfix offering STARTTLS
    "mx-host=pfx.dd.test,mx.pfx.dd.test,10", "host-record=mx.pfx.dd.test,127.0.0.4",
    # the same Postfix under the name its certificate carries (CERT_NAME in mailstack.py)
    "mx-host=verified.dd.test,smarthost.test,10", "host-record=smarthost.test,127.0.0.4",
    # STARTTLS offered, handshake broken
    "mx-host=brokentls.dd.test,mx.brokentls.dd.test,10", f"host-record=mx.brokentls.dd.test,{BROKEN_TLS}",
    "mx-host=brokentls2.dd.test,mx.brokentls.dd.test,10",
    # 1,000 domains sharing one MX host
    f"host-record=mx.bulk.dd.test,{SINK_A}",
] + [f"mx-host=d{i}.bulk.dd.test,mx.bulk.dd.test,10" for i in range(BULK_DOMAINS)]


@dataclass
class Sink:
    host: str
    port: int
    record: Path
    proc: subprocess.Popen | None = None

    def start(self, binary: str) -> "Sink":
        self.proc = subprocess.Popen([binary, "sink", "--listen", f"{self.host}:{self.port}", "--record",
                                      str(self.record), "--threads", "1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.host, self.port, 20, self.proc, f"ringmta sink {self.host}")
        return self

    def recipients(self, domain: str) -> list[str]:
        if not self.record.exists():
            return []
        return [r for r in self.record.read_text().split() if r.endswith("@" + domain)]

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class MxNet:
    port: int
    dns: Dnsmasq
    sinks: dict[str, Sink] = field(default_factory=dict)
    scripted: dict[str, ScriptedMx] = field(default_factory=dict)


@pytest.fixture(scope="module")
def mxnet(stack, tmp_path_factory):
    if dnsmasq_binary() is None:
        pytest.skip("dnsmasq not installed")
    d = tmp_path_factory.mktemp("mxnet")
    port = stack.ports["mx"]  # Postfix's MX listener on 127.0.0.4 fixes the port all MX hosts share
    net = MxNet(port, Dnsmasq(d, RECORDS).start())
    try:
        for host in (SINK_A, SINK_B):
            net.sinks[host] = Sink(host, port, d / f"sink-{host}.txt").start(ringmta_bin())
        for host, mode in ((BUSY, "greeting421"), (GREYLIST, "rcpt451"), (BROKEN_TLS, "broken_tls")):
            net.scripted[host] = ScriptedMx(host, port, mode).start()
        yield net
    finally:
        for s in net.sinks.values():
            s.stop()
        for s in net.scripted.values():
            s.stop()
        net.dns.stop()


MESSAGE = "From: News <news@sender.test>\nSubject: Direct {{name}}\n\nHello {{name}}, straight to your MX.\n"


def send(ringmta, work: Path, net: MxNet, addresses: list[str], *extra, dns_port: int | None = None,
         timeout: float = 120):
    (work / "message.eml").write_text(MESSAGE)
    with open(work / "list.csv", "w") as f:
        f.write("email,name\n")
        for i, a in enumerate(addresses):
            f.write(f"{a},Reader {i}\n")
    log = work / "delivery.jsonl"
    r = ringmta("send", "--message", work / "message.eml", "--recipients", work / "list.csv",
                "--queue", work / "queue", "--json", "--no-progress", "--admin", "none",
                "--direct", "--dns-server", f"127.0.0.1:{dns_port or net.dns.port}", "--mx-port", net.port,
                "--allow-loopback-mx", "--sender", "bounces@sender.test", "--retry-after", "600",
                "--delivery-log", log, "--bounce-mode", "none", *extra, timeout=timeout)
    time.sleep(0.3)  # the sinks flush their records every 100 ms
    lines = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return r, {x["recipient"]: x for x in lines}, lines


def addrs(domain: str, n: int) -> list[str]:
    return [f"user{i}@{domain}" for i in range(n)]


def test_mx_rules_preference_failover_nxdomain_null_mx_implicit_mx_cname(ringmta, work, mxnet):
    groups = {d: addrs(d, 4) for d in ("pref.dd.test", "failover.dd.test", "nomx.dd.test", "cname.dd.test")}
    failing = ["someone@nope.dd.test", "someone@null.dd.test"]
    r, log, _ = send(ringmta, work, mxnet, [a for g in groups.values() for a in g] + failing)
    assert r.rc == 1, f"some failed → exit 1\n{r}"
    assert r.json["delivered"] == 16 and r.json["failed"] == 2 and r.json["queued"] == 0, r

    a, b = mxnet.sinks[SINK_A], mxnet.sinks[SINK_B]
    assert sorted(a.recipients("pref.dd.test")) == sorted(groups["pref.dd.test"])  # MX 10, not MX 20
    assert b.recipients("pref.dd.test") == []
    assert sorted(b.recipients("failover.dd.test")) == sorted(groups["failover.dd.test"])
    assert sorted(b.recipients("nomx.dd.test")) == sorted(groups["nomx.dd.test"])
    assert sorted(a.recipients("cname.dd.test")) == sorted(groups["cname.dd.test"])
    assert a.recipients("null.dd.test") == []  # its A record is never used

    for x in groups["pref.dd.test"]:
        assert (log[x]["outcome"], log[x]["host"], log[x]["ip"]) == (
            "delivered", "mx1.pref.dd.test", f"{SINK_A}:{mxnet.port}")
    for x in groups["failover.dd.test"]:
        assert (log[x]["host"], log[x]["ip"]) == ("mx2.failover.dd.test", f"{SINK_B}:{mxnet.port}")
    for x in groups["nomx.dd.test"]:
        assert log[x]["host"] == "nomx.dd.test"
    for x in groups["cname.dd.test"]:
        assert log[x]["host"] == "alias.cname.dd.test"
    assert log["someone@nope.dd.test"]["outcome"] == "failed"
    assert log["someone@nope.dd.test"]["reply"].startswith("550 5.1.2")
    assert log["someone@null.dd.test"]["reply"].startswith("556 5.1.10")
    assert log["someone@null.dd.test"]["host"] is None
    # one MX lookup per domain (6 domains; the dnsmasq log agrees)
    assert r.json["dns"]["mx_queries"] == 6, r.json
    assert mxnet.dns.queries("pref.dd.test", "MX") >= 1


def test_every_mx_answering_4xx_defers_and_keeps_them_queued(ringmta, work, mxnet):
    group = addrs("defer.dd.test", 3)
    busy_before = mxnet.scripted[BUSY].connections
    r, log, _ = send(ringmta, work, mxnet, group)
    assert r.rc == 3, f"still queued → exit 3\n{r}"
    assert (r.json["delivered"], r.json["failed"], r.json["queued"], r.json["deferred"]) == (0, 0, 3, 3), r
    assert mxnet.scripted[BUSY].connections > busy_before  # the 421 MX was tried first
    for x in group:
        assert log[x]["outcome"] == "deferred"
        assert log[x]["host"] == "mx2.defer.dd.test"
        assert log[x]["reply"].startswith("451 4.7.1"), log[x]


def test_dns_server_down_defers_never_fails(ringmta, work, mxnet):
    group = addrs("pref.dd.test", 2)
    r, log, _ = send(ringmta, work, mxnet, group, dns_port=free_udp_port(), timeout=90)
    assert r.rc == 3, r
    assert (r.json["delivered"], r.json["failed"], r.json["queued"]) == (0, 0, 2), r
    assert r.json["dns"]["failures"] >= 1
    for x in group:
        assert log[x]["outcome"] == "deferred" and "4.4.3" in log[x]["reply"], log[x]


def test_postfix_mx_offers_starttls_and_it_is_used_and_recorded(ringmta, work, mxnet, stack):
    group = addrs("pfx.dd.test", 5)
    r, log, _ = send(ringmta, work, mxnet, group)
    assert r.rc == 0, r
    got = stack.sink.wait_for("pfx.dd.test", 5)  # Postfix relays to the stack's sink
    assert sorted(got) == sorted(group)
    for x in group:
        assert log[x]["host"] == "mx.pfx.dd.test" and log[x]["ip"] == f"127.0.0.4:{mxnet.port}"
        assert log[x]["tls"] and log[x]["tls"].startswith("TLSv1."), log[x]
    assert r.json["connections"]["tls"] >= 1
    assert "TLS connection established from" in stack.postfix.log_tail(400)


def test_broken_tls_handshake_is_retried_in_clear_text_when_opportunistic(ringmta, work, mxnet):
    server = mxnet.scripted[BROKEN_TLS]
    tries = server.starttls_attempts
    group = addrs("brokentls.dd.test", 3)
    r, log, _ = send(ringmta, work, mxnet, group)
    assert r.rc == 0, r
    assert server.starttls_attempts > tries
    assert sorted(x for x in server.delivered if x.endswith("@brokentls.dd.test")) == sorted(group)
    for x in group:
        assert log[x]["outcome"] == "delivered" and log[x]["tls"] is None, log[x]
    assert "retrying it in clear text" in r.stderr


def test_broken_tls_handshake_defers_when_tls_is_required(ringmta, work, mxnet):
    server = mxnet.scripted[BROKEN_TLS]
    group = addrs("brokentls2.dd.test", 3)
    r, log, _ = send(ringmta, work, mxnet, group, "--mx-tls", "required")
    assert r.rc == 3, r
    assert (r.json["delivered"], r.json["queued"]) == (0, 3), r
    assert not [x for x in server.delivered if x.endswith("@brokentls2.dd.test")]
    for x in group:
        assert log[x]["outcome"] == "deferred", log[x]


def test_100k_recipients_over_1000_domains_one_mx_lookup_each_one_shared_route(ringmta, work, mxnet):
    n = 100_000
    group = [f"r{i}@d{i % BULK_DOMAINS}.bulk.dd.test" for i in range(n)]
    r, _, lines = send(ringmta, work, mxnet, group, "--max-connections", "8", timeout=600)
    assert r.rc == 0, r
    assert r.json["delivered"] == n, r
    assert r.json["dns"]["mx_queries"] == BULK_DOMAINS, r.json  # exactly one MX lookup per domain
    assert r.json["dns"]["address_queries"] <= 2 * 2  # mx.bulk.dd.test A + AAAA (at most once per shard)
    # the 1,000 domains share one route: its pool, not one connection per domain
    assert r.json["connections"]["opened"] < BULK_DOMAINS // 4, r.json  # 100 k / 1,000 per connection = 100
    got = mxnet.sinks[SINK_A].record.read_text().split()
    bulk = [x for x in got if ".bulk.dd.test" in x]
    assert len(bulk) == n and len(set(bulk)) == n
    assert mxnet.dns.queries("d7.bulk.dd.test", "MX") == 1
    assert len(lines) == n


def test_direct_route_from_a_config_file(ringmta, work, mxnet):
    (work / "message.eml").write_text(MESSAGE)
    (work / "list.csv").write_text("email,name\nann@pref.dd.test,Ann\n")
    (work / "ringmta.toml").write_text(
        f'route = "direct"\ndns-server = ["127.0.0.1:{mxnet.dns.port}"]\nmx-port = {mxnet.port}\n'
        f'allow-loopback-mx = true\nsender = "bounces@sender.test"\nadmin = "none"\n')
    r = ringmta("send", "--config", work / "ringmta.toml", "--message", work / "message.eml",
                "--recipients", work / "list.csv", "--queue", work / "queue", "--json", "--no-progress")
    assert r.rc == 0 and r.json["delivered"] == 1, r
    assert "ann@pref.dd.test" in mxnet.sinks[SINK_A].recipients("pref.dd.test")
    (work / "bad.toml").write_text('route = "carrier-pigeon"\n')
    bad = ringmta("send", "--config", work / "bad.toml", "--message", work / "message.eml",
                  "--recipients", work / "list.csv", "--queue", work / "queue2")
    assert bad.rc == 2 and "'route' must be" in bad.stderr, bad


def test_verify_checks_the_mx_certificate_and_name(ringmta, work, mxnet, stack):
    assert CERT_NAME == "smarthost.test"
    ok_group = addrs("verified.dd.test", 2)
    r, log, _ = send(ringmta, work, mxnet, ok_group, "--mx-tls", "verify", "--ca-file", stack.ca_file)
    assert r.rc == 0, r
    assert all(log[x]["tls"] for x in ok_group)
    assert sorted(stack.sink.wait_for("verified.dd.test", 2)) == sorted(ok_group)
    # mx.pfx.dd.test is not a name in that certificate: deferred, not sent in clear
    (work / "queue").rename(work / "queue-1")
    (work / "delivery.jsonl").unlink()
    bad_group = addrs("pfx.dd.test", 2)
    r, log, _ = send(ringmta, work, mxnet, bad_group, "--mx-tls", "verify", "--ca-file", stack.ca_file)
    assert r.rc == 3 and r.json["queued"] == 2 and r.json["connections"]["tls_failed"] >= 1, r
    assert all(log[x]["outcome"] == "deferred" for x in bad_group)


def test_bind_address_is_the_source_of_mx_connections(ringmta, work, mxnet, stack):
    group = addrs("pfx.dd.test", 1)
    r, log, _ = send(ringmta, work, mxnet, group, "--bind-address", "127.0.0.9")
    assert r.rc == 0, r
    assert "connect from unknown[127.0.0.9]" in stack.postfix.log_tail(400)
