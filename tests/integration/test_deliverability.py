"""`ringmta check --deliverability` (issue 18): what in the sender's DNS or set-up will get the mail refused, looked
up in a private dnsmasq on 127.0.0.1 holding good and broken records for each case: SPF (evaluated for the sending
address, with include: and mx), the DKIM selector's key against the configured key, DMARC and its alignment, the
envelope Sender domain's MX, and for --direct the PTR of the source address with its forward confirmation and the
EHLO name, and whether outbound port 25 is open: an MX host of each --port25-probe domain must greet (test servers on
127.0.0.1 greet, refuse, or accept and stay silent, as a network that intercepts port 25 does). Relaxed alignment and
the organizational domain's DMARC policy follow the public suffix list (libpsl). Exit 0 when nothing would be refused,
1 otherwise; --json for scripts.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dnsmasq import Dnsmasq  # noqa: E402
from test_queue_command import rm, show  # noqa: E402


def txt(name: str, text: str) -> str:
    parts = ",".join(f'"{text[i:i + 255]}"' for i in range(0, len(text), 255))
    return f"txt-record={name},{parts}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("deliv-keys")
    records = {}
    for name in ("good", "other"):
        p = rm("dkim", "keygen", "--domain", "good.test", "--selector", name, "--out", d / f"{name}.key")
        assert p.returncode == 0, show(p)
        records[name] = re.search(r"\(one string: (v=DKIM1;[^)]*)\)", p.stdout).group(1)
    return d, records


@pytest.fixture(scope="module")
def greeters():
    """One port on three loopback addresses: 127.0.0.1 greets like an MX host, 127.0.0.2 has nothing listening
    (refused), 127.0.0.3 accepts and never says a word. Yields the port."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    stop = threading.Event()
    held = []

    def serve(address: str, greeting: bytes | None):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((address, port))
        srv.listen(16)
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            if greeting is None:
                held.append(conn)  # silent: kept open until the fixture ends
            else:
                conn.sendall(greeting)
                conn.close()
        srv.close()

    threads = [threading.Thread(target=serve, args=a, daemon=True)
               for a in (("127.0.0.1", b"220 mx.probe-open.test ESMTP\r\n"), ("127.0.0.3", None))]
    for t in threads:
        t.start()
    yield port
    stop.set()
    for t in threads:
        t.join(5)
    for c in held:
        c.close()


@pytest.fixture(scope="module")
def zone(keys, tmp_path_factory):
    d, records = keys
    lines = [
        # good.test: everything right for mail sent from 127.0.0.1 as mail.good.test.
        txt("good.test", "v=spf1 mx include:_spf.provider.test -all"),
        txt("_spf.provider.test", "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.1 -all"),
        "mx-host=good.test,mail.good.test,10", "host-record=mail.good.test,127.0.0.9",
        txt("good._domainkey.good.test", records["good"]),
        txt("_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"),
        "ptr-record=1.0.0.127.in-addr.arpa,mail.good.test", "host-record=mail.good.test,127.0.0.1",
        # bad.test: no SPF, no DMARC, no MX; its selector publishes another key.
        txt("other._domainkey.bad.test", records["other"]),
        # soft.test: SPF that does not cover 127.0.0.1, DMARC p=none.
        txt("soft.test", "v=spf1 ip4:192.0.2.1 ~all"), "mx-host=soft.test,mail.good.test,10",
        txt("_dmarc.soft.test", "v=DMARC1; p=none"),
        # The public suffix list knows co.uk: news.shop.co.uk's organizational domain is shop.co.uk, whose DMARC
        # policy applies; a key of shop.co.uk aligns with it, one of co.uk would not.
        "local=/co.uk/", txt("news.shop.co.uk", "v=spf1 ip4:127.0.0.1 -all"), "mx-host=news.shop.co.uk,mail.good.test,10",
        txt("_dmarc.shop.co.uk", "v=DMARC1; p=quarantine"),
        txt("good._domainkey.shop.co.uk", records["good"]),
        # Port 25 probes: MX hosts that greet, refuse, or say nothing.
        "mx-host=probe-open.test,mx.probe-open.test,10", "host-record=mx.probe-open.test,127.0.0.1",
        "mx-host=probe-closed.test,mx.probe-closed.test,10", "host-record=mx.probe-closed.test,127.0.0.2",
        "mx-host=probe-silent.test,mx.probe-silent.test,10", "host-record=mx.probe-silent.test,127.0.0.3",
    ]
    server = Dnsmasq(tmp_path_factory.mktemp("deliv-dns"), lines, local_zone="test").start()
    yield server
    server.stop()


NO_PROBE = ["--port25-probe", "none"]


def check(zone, keys, sender_domain: str, *extra, selector="good", key_domain="good.test", probe=NO_PROBE):
    d, _ = keys
    return rm("check", "--deliverability", "--from", f"news@{sender_domain}", "--direct", "--dns-server",
              f"127.0.0.1:{zone.port}", "--bind-address", "127.0.0.1", "--json", "--dkim-domain", key_domain,
              "--dkim-selector", selector, "--dkim-key", d / f"{selector}.key", *probe, *extra)


def findings(p) -> dict[str, list[dict]]:
    j = json.loads(p.stdout.strip().splitlines()[-1])
    out: dict[str, list[dict]] = {}
    for f in j["findings"]:
        out.setdefault(f["check"], []).append(f)
    return out


def test_a_sender_with_everything_right_passes(zone, keys, greeters):
    p = check(zone, keys, "good.test", "--ehlo", "mail.good.test", "--mx-port", str(greeters),
              probe=["--port25-probe", "probe-open.test"])
    assert p.returncode == 0, show(p)
    f = findings(p)
    assert all(x["ok"] for xs in f.values() for x in xs), show(p)
    assert "authorizes 127.0.0.1" in f["spf"][0]["words"]
    assert "is published and matches the configured key" in f["dkim"][0]["words"]
    assert "p=reject) passes" in f["dmarc"][0]["words"]
    assert "mx.probe-open.test" in f["port25"][0]["words"] and "greeted (220 mx.probe-open.test ESMTP)" in \
        f["port25"][0]["words"], show(p)
    assert "nothing found that would get the mail refused" in p.stdout


def test_blocked_outbound_port_25_says_to_use_a_smart_host(zone, keys, greeters):
    p = check(zone, keys, "good.test", "--ehlo", "mail.good.test", "--mx-port", str(greeters),
              probe=["--port25-probe", "probe-closed.test,probe-silent.test"])
    assert p.returncode == 1, show(p)
    f = findings(p)
    assert all(x["ok"] for k, xs in f.items() if k != "port25" for x in xs), show(p)
    (port25,) = f["port25"]
    assert not port25["ok"], port25
    assert "mx.probe-closed.test (127.0.0.2" in port25["words"] and "refused" in port25["words"].lower(), port25
    assert "mx.probe-silent.test (127.0.0.3" in port25["words"] and "no greeting within 5 s" in port25["words"]
    assert "block outbound port 25" in port25["words"] and "--smarthost" in port25["words"]
    # One greeting host is enough; a domain without MX only says so; "none" skips the probe.
    p = check(zone, keys, "good.test", "--ehlo", "mail.good.test", "--mx-port", str(greeters),
              probe=["--port25-probe", "probe-closed.test,probe-open.test"])
    assert p.returncode == 0 and findings(p)["port25"][0]["ok"], show(p)
    p = check(zone, keys, "good.test", "--ehlo", "mail.good.test", probe=["--port25-probe", "nowhere.test"])
    assert p.returncode == 0 and "not checked" in findings(p)["port25"][0]["words"], show(p)
    p = check(zone, keys, "good.test", "--ehlo", "mail.good.test")
    assert p.returncode == 0 and "port25" not in findings(p), show(p)


def test_organizational_domain_from_the_public_suffix_list(zone, keys):
    p = check(zone, keys, "news.shop.co.uk", "--ehlo", "mail.good.test", key_domain="shop.co.uk")
    f = findings(p)
    assert "_dmarc.shop.co.uk, p=quarantine) passes" in f["dmarc"][0]["words"], show(p)
    assert all(x["ok"] for xs in f.values() for x in xs), show(p)
    p = check(zone, keys, "news.shop.co.uk", "--ehlo", "mail.good.test", key_domain="co.uk")
    f = findings(p)
    assert any("does not align" in x["words"] for x in f["dkim"]), show(p)


def test_the_wrong_ehlo_name_is_named(zone, keys):
    p = check(zone, keys, "good.test", "--ehlo", "vm.local")
    assert p.returncode == 1, show(p)
    (ptr,) = findings(p)["ptr"]
    assert not ptr["ok"] and "pass --ehlo mail.good.test" in ptr["words"], ptr


def test_missing_and_wrong_records_are_each_explained(zone, keys):
    p = check(zone, keys, "bad.test", "--ehlo", "mail.good.test", selector="good", key_domain="bad.test")
    assert p.returncode == 1, show(p)
    f = findings(p)
    assert "bad.test has no SPF record" in f["spf"][0]["words"] and "ip4:127.0.0.1" in f["spf"][0]["words"]
    assert "is not published" in f["dkim"][0]["words"] and "good._domainkey.bad.test" in f["dkim"][0]["words"]
    assert "bad.test has no DMARC record" in f["dmarc"][0]["words"]
    assert "has no MX record" in f["mx"][0]["words"]
    assert "PROBLEM" in p.stdout and "fix the problems above" in p.stdout
    # The selector publishes a key, but not the configured one.
    q = rm("check", "--deliverability", "--from", "news@bad.test", "--direct", "--dns-server",
           f"127.0.0.1:{zone.port}", "--bind-address", "127.0.0.1", "--json", "--ehlo", "mail.good.test",
           "--dkim-domain", "bad.test", "--dkim-selector", "other", "--dkim-key", keys[0] / "good.key",
           "--port25-probe", "none")
    assert q.returncode == 1
    assert "is not the configured key's public half" in findings(q)["dkim"][0]["words"], show(q)


def test_spf_softfail_and_dmarc_none_and_no_dkim(zone, keys):
    p = rm("check", "--deliverability", "--from", "news@soft.test", "--direct", "--dns-server",
           f"127.0.0.1:{zone.port}", "--bind-address", "127.0.0.1", "--json", "--ehlo", "mail.good.test", *NO_PROBE)
    assert p.returncode == 1, show(p)
    f = findings(p)
    assert "does not authorize 127.0.0.1" in f["spf"][0]["words"] and "softfail" in f["spf"][0]["words"]
    assert "No DKIM key is configured" in f["dkim"][0]["words"]
    assert "will fail" in f["dmarc"][0]["words"] and "p=none" in f["dmarc"][0]["words"]
    assert f["mx"][0]["ok"]


def test_usage_errors(zone, keys):
    p = rm("check", "--deliverability", "--direct", "--dns-server", f"127.0.0.1:{zone.port}")
    assert p.returncode == 2 and "--deliverability needs --from" in p.stderr, show(p)
