"""`ringmta check --deliverability` (issue 18): what in the sender's DNS or set-up will get the mail refused, looked
up in a private dnsmasq on 127.0.0.1 holding good and broken records for each case: SPF (evaluated for the sending
address, with include: and mx), the DKIM selector's key against the configured key, DMARC and its alignment, the
envelope Sender domain's MX, and for --direct the PTR of the source address with its forward confirmation and the
EHLO name. Exit 0 when nothing would be refused, 1 otherwise; --json for scripts.
"""

from __future__ import annotations

import json
import re
import sys
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
    ]
    server = Dnsmasq(tmp_path_factory.mktemp("deliv-dns"), lines, local_zone="test").start()
    yield server
    server.stop()


def check(zone, keys, sender_domain: str, *extra, selector="good", key_domain="good.test"):
    d, _ = keys
    return rm("check", "--deliverability", "--from", f"news@{sender_domain}", "--direct", "--dns-server",
              f"127.0.0.1:{zone.port}", "--bind-address", "127.0.0.1", "--json", "--dkim-domain", key_domain,
              "--dkim-selector", selector, "--dkim-key", d / f"{selector}.key", *extra)


def findings(p) -> dict[str, list[dict]]:
    j = json.loads(p.stdout.strip().splitlines()[-1])
    out: dict[str, list[dict]] = {}
    for f in j["findings"]:
        out.setdefault(f["check"], []).append(f)
    return out


def test_a_sender_with_everything_right_passes(zone, keys):
    p = check(zone, keys, "good.test", "--ehlo", "mail.good.test")
    assert p.returncode == 0, show(p)
    f = findings(p)
    assert all(x["ok"] for xs in f.values() for x in xs), show(p)
    assert "authorizes 127.0.0.1" in f["spf"][0]["words"]
    assert "is published and matches the configured key" in f["dkim"][0]["words"]
    assert "p=reject) passes" in f["dmarc"][0]["words"]
    assert "nothing found that would get the mail refused" in p.stdout


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
           "--dkim-domain", "bad.test", "--dkim-selector", "other", "--dkim-key", keys[0] / "good.key")
    assert q.returncode == 1
    assert "is not the configured key's public half" in findings(q)["dkim"][0]["words"], show(q)


def test_spf_softfail_and_dmarc_none_and_no_dkim(zone, keys):
    p = rm("check", "--deliverability", "--from", "news@soft.test", "--direct", "--dns-server",
           f"127.0.0.1:{zone.port}", "--bind-address", "127.0.0.1", "--json", "--ehlo", "mail.good.test")
    assert p.returncode == 1, show(p)
    f = findings(p)
    assert "does not authorize 127.0.0.1" in f["spf"][0]["words"] and "softfail" in f["spf"][0]["words"]
    assert "No DKIM key is configured" in f["dkim"][0]["words"]
    assert "will fail" in f["dmarc"][0]["words"] and "p=none" in f["dmarc"][0]["words"]
    assert f["mx"][0]["ok"]


def test_usage_errors(zone, keys):
    p = rm("check", "--deliverability", "--direct", "--dns-server", f"127.0.0.1:{zone.port}")
    assert p.returncode == 2 and "--deliverability needs --from" in p.stderr, show(p)
