"""Bounces end to end with a real Postfix on both sides (direct delivery, a private dnsmasq for the MX records):
Postfix is the recipients' MX (its "mx" listener refuses chosen recipients with 550 5.1.1 / 450 4.2.1 through
check_recipient_access, mailstack.Postfix.RECIPIENT_ACCESS) and the envelope Sender's mail server (bounces.test is
a virtual mailbox domain delivered into a Maildir). The DSNs ringmta sends come back through that Postfix into
the Maildir, where Python's email package parses them. Also: the suppression list skips hard-bounced addresses
on the next send, `report --bounces`, a DSN that bounces is not bounced again, 5,000 failures in digest mode
give the expected number of DSNs, and a VERP round trip: recipients Postfix accepts and then bounces itself (its
error transport) come back as Postfix-written DSNs to their VERP addresses, which `bounces ingest` attributes to
the campaign and recipient.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import parse_json, ringmta_bin  # noqa: E402
from dnsmasq import Dnsmasq, binary as dnsmasq_binary  # noqa: E402

MX = "127.0.0.4"  # mailstack.Postfix.MX_HOST
RECORDS = [
    "mx-host=rcpt.bt.test,mx.bt.test,10", "mx-host=allbad.bt.test,mx.bt.test,10",
    "mx-host=bounces.test,mx.bt.test,10", "mx-host=latebounce.bt.test,mx.bt.test,10",
    "mx-host=unauth.bt.test,mx.bt.test,10",
    f"host-record=mx.bt.test,{MX}",
]
MESSAGE = """\
From: The Newsletter <news@example.org>
Subject: Issue {{issue}} for {{name}}
Message-ID: <issue-{{issue}}@example.org>

Hello {{name}}.
"""


@pytest.fixture(scope="module")
def dns(stack, tmp_path_factory):
    if dnsmasq_binary() is None:
        pytest.skip("dnsmasq not installed")
    d = Dnsmasq(tmp_path_factory.mktemp("bt-dns"), RECORDS).start()
    yield d
    d.stop()


def send(work: Path, stack, dns, addresses: list[str], sender: str, campaign: str, *extra, timeout=180):
    (work / "m.eml").write_text(MESSAGE)
    lst = work / f"{campaign}.csv"
    lst.write_text("email,name,issue\n" + "".join(f"{a},Reader {i},7\n" for i, a in enumerate(addresses)))
    args = [ringmta_bin(), "send", "--message", work / "m.eml", "--recipients", lst, "--queue", work / "queue",
            "--campaign", campaign, "--json", "--no-progress", "--admin", "none", "--direct",
            "--dns-server", f"127.0.0.1:{dns.port}", "--mx-port", stack.ports["mx"], "--allow-loopback-mx",
            "--sender", sender, "--retry-after", "600", "--delivery-log", work / "delivery.jsonl", *extra]
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    p.json = parse_json(p.stdout)
    return p


def rm(*args, timeout=60):
    return subprocess.run([ringmta_bin(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def mailbox(stack, to: str, count: int, timeout: float = 60) -> list[email.message.EmailMessage]:
    """The messages in the Maildir delivered to `to`: once there are `count` (then a second more, so that a
    message beyond the expected count would show), or what is there after `timeout`."""
    new = stack.postfix.mailbox_dir / "new"

    def read():
        if not new.is_dir():
            return []
        msgs = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in sorted(new.iterdir())]
        return [m for m in msgs if m.get("Delivered-To", "").lower() == to.lower()]

    deadline = time.monotonic() + timeout
    found = read()
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        found = read()
    time.sleep(1.0)
    return read()


def field(group: email.message.Message, name: str) -> str:
    """A delivery-status field with the blanks after "type;" removed: "rfc822; a@b" -> "rfc822;a@b"."""
    return str(group[name]).replace("; ", ";", 1)


def show(p) -> str:
    return f"exit {p.returncode}\n--- stdout\n{p.stdout[-3000:]}\n--- stderr\n{p.stderr[-3000:]}"


def delivery_status(dsn: email.message.EmailMessage) -> list[email.message.Message]:
    """The per-message and per-recipient field groups of the message/delivery-status part."""
    part = next(p for p in dsn.walk() if p.get_content_type() == "message/delivery-status")
    return list(part.get_payload())


def test_refusals_by_a_postfix_mx_come_back_as_a_dsn_in_the_senders_mailbox(work, stack, dns):
    good = [f"reader{i}@rcpt.bt.test" for i in range(5)]
    refused = ["unknown1@rcpt.bt.test", "unknown2@rcpt.bt.test"]
    r = send(work, stack, dns, good + refused + ["busy@rcpt.bt.test"], "news@bounces.test", "autumn")
    assert r.returncode == 3 and r.json, show(r)  # busy@ stays deferred
    assert (r.json["delivered"], r.json["failed"], r.json["deferred"]) == (5 + 1, 2, 1), show(r)  # + the DSN
    assert r.json["dsns_queued"] == 1 and r.json["suppressions_added"] == 2, show(r)

    [dsn] = mailbox(stack, "news@bounces.test", 1)
    assert dsn["Return-Path"] == "<>", "a DSN is sent with the null reverse-path"
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert "MAILER-DAEMON" in dsn["From"]
    human = next(p for p in dsn.walk() if p.get_content_type() == "text/plain")
    assert "unknown1@rcpt.bt.test" in human.get_content()
    groups = delivery_status(dsn)
    per_message, per_recipient = groups[0], groups[1:]
    assert field(per_message, "Reporting-MTA").startswith("dns;")
    assert per_message["Arrival-Date"]
    assert sorted(field(g, "Final-Recipient") for g in per_recipient) == [f"rfc822;{a}" for a in refused]
    for g in per_recipient:
        assert g["Action"] == "failed"
        assert g["Status"] == "5.1.1"
        assert field(g, "Remote-MTA") == "dns;mx.bt.test"
        assert field(g, "Diagnostic-Code").startswith("smtp;550 5.1.1")
        assert "User unknown" in g["Diagnostic-Code"]
        assert g["Last-Attempt-Date"]
    headers = next(p for p in dsn.walk() if p.get_content_type() == "text/rfc822-headers")
    original = headers.get_payload(decode=True).decode()
    # the headers of the first listed recipient's copy as sent: merge fields filled in, its own Message-ID
    # (seq, message, the queue's 64-bit identity)
    assert "Subject: Issue 7 for Reader 5" in original and "{{" not in original, original
    assert re.search(r"^Message-ID: <[1-9a-f][0-9a-f]*\.[0-9a-f]+\.[0-9a-f]{16}@[^>]+>", original, re.M), original

    # The list owner's view: the CSV for list cleaning and the suppression list.
    rep = rm("report", "--queue", work / "queue", "--campaign", "autumn", "--bounces")
    assert rep.returncode == 0, show(rep)
    rows = list(csv.DictReader(io.StringIO(rep.stdout)))
    assert sorted(x["recipient"] for x in rows) == refused
    assert {(x["category"], x["hard"]) for x in rows} == {("invalid_recipient", "true")}
    assert all("550 5.1.1" in x["reply"] for x in rows)
    sup = rm("suppress", "list", "--queue", work / "queue")
    assert sorted(x["address"] for x in csv.DictReader(io.StringIO(sup.stdout))) == refused, show(sup)

    # The next send of the same list skips the suppressed addresses and counts them.
    again = send(work, stack, dns, good + refused, "news@bounces.test", "winter")
    assert again.json and again.json["suppressed"] == 2 and again.json["failed"] == 0, show(again)
    assert again.json["delivered"] == 5, show(again)
    assert "2 suppressed" in again.stderr


def test_unauthenticated_mail_refused_by_a_postfix_mx_holds_the_domain_and_bounces_nothing(work, stack, dns):
    """A real Postfix MX answering like Gmail to mail that fails DMARC (550 5.7.26): a configuration problem of
    the sender's domain, not of the recipients — they are deferred with a diagnosis that names what to publish
    or configure, nothing is failed, suppressed or bounced, and the other domains are delivered."""
    held = [f"reader{i}@unauth.bt.test" for i in range(4)]
    good = [f"fine{i}@rcpt.bt.test" for i in range(3)]
    r = send(work, stack, dns, held + good, "news@bounces.test", "dmarc")
    assert r.returncode == 3 and r.json, show(r)
    assert (r.json["delivered"], r.json["failed"], r.json["deferred"]) == (3, 0, 4), show(r)
    assert r.json["dsns_queued"] == 0 and r.json["suppressions_added"] == 0, show(r)
    assert "refuses the mail as not authenticated for the sender's domain (550 5.7.26" in r.stderr, show(r)
    assert "No DKIM key is configured" in r.stderr and "ringmta dkim keygen" in r.stderr, show(r)
    assert r.stderr.count("refuses the mail as not authenticated") == 1, "said once, not per recipient"
    log = [json.loads(line) for line in (work / "delivery.jsonl").read_text().splitlines()]
    outcomes = {e["recipient"]: e for e in log if e["campaign"] == "dmarc"}
    for a in held:
        assert outcomes[a]["outcome"] == "deferred" and outcomes[a]["reply"].startswith("451 4.7.0 "), outcomes[a]
    q = rm("queue", "--queue", work / "queue", "--campaign", "dmarc", "--json")
    assert q.returncode == 0 and json.loads(q.stdout)["deferred"] == 4, show(q)


def test_a_dsn_that_bounces_is_not_bounced_again(work, stack, dns):
    r = send(work, stack, dns, ["unknown1@rcpt.bt.test", "reader0@rcpt.bt.test"], "gone@bounces.test", "loop")
    assert r.json, show(r)
    # the recipient's failure, then the DSN's own failure at gone@bounces.test: no second DSN
    assert (r.json["delivered"], r.json["failed"], r.json["dsns_queued"]) == (1, 2, 1), show(r)
    assert r.json["queued"] == 0, show(r)
    assert mailbox(stack, "gone@bounces.test", 1, timeout=2) == []
    # the DSN's failure leaves neither a failure record in the campaign nor a suppression of our sender
    sup = rm("suppress", "list", "--queue", work / "queue")
    assert "gone@bounces.test" not in sup.stdout and "unknown1@rcpt.bt.test" in sup.stdout, show(sup)


def test_five_thousand_failures_in_digest_mode_give_fifty_dsns(work, stack, dns):
    n, per_dsn = 5000, 100
    r = send(work, stack, dns, [f"u{i}@allbad.bt.test" for i in range(n)], "digest@bounces.test", "big",
             "--bounce-digest-size", per_dsn, timeout=300)
    assert r.json and r.json["failed"] == n and r.json["queued"] == 0, show(r)
    # one domain is one shard's: its failures are gathered into ceil(5000 / 100) digests
    assert r.json["dsns_queued"] == n // per_dsn, show(r)
    dsns = mailbox(stack, "digest@bounces.test", n // per_dsn, timeout=120)
    assert len(dsns) == n // per_dsn
    listed = [field(g, "Final-Recipient") for d in dsns for g in delivery_status(d)[1:]]
    assert len(listed) == n and len(set(listed)) == n, "every failure is in exactly one DSN"
    summary = rm("report", "--queue", work / "queue", "--campaign", "big")
    assert "5000 permanent failures" in summary.stdout and "invalid_recipient" in summary.stdout, summary.stdout


def test_verp_round_trip_from_postfix_generated_bounces_into_bounces_ingest(work, stack, dns):
    late = ["late1@latebounce.bt.test", "late2@latebounce.bt.test"]
    r = send(work, stack, dns, late + ["reader0@rcpt.bt.test"], "verp@bounces.test", "verpcamp", "--verp")
    assert r.json and r.json["delivered"] == 3 and r.json["failed"] == 0, show(r)  # Postfix accepted all

    # Postfix bounces the two itself, each to the envelope Sender it was given: the VERP address.
    new = stack.postfix.mailbox_dir / "new"
    returned = work / "returned"
    returned.mkdir()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(returned.iterdir())) < 2:
        for f in new.iterdir() if new.is_dir() else []:
            m = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            if str(m.get("Delivered-To", "")).startswith("verp+"):
                shutil.copy(f, returned / f.name)
        time.sleep(0.3)
    bounces = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in returned.iterdir()]
    assert len(bounces) == 2, "Postfix's bounces did not arrive"
    tags = sorted(str(b["Delivered-To"]) for b in bounces)
    assert all(re.fullmatch(r"verp\+m\d+-late[12]=latebounce\.bt\.test@bounces\.test", t) for t in tags), tags
    assert all(b["Return-Path"] == "<>" and "MAILER-DAEMON" in str(b["From"]) for b in bounces)

    ing = rm("bounces", "ingest", returned, "--queue", work / "queue", "--json")
    assert ing.returncode == 0, show(ing)
    lines = [json.loads(x) for x in ing.stdout.splitlines()]
    found = sorted((x["recipient"], x["campaign"], x["category"], x["verp"]) for x in lines[:-1])
    assert found == [(a, "verpcamp", "invalid_recipient", True) for a in late], ing.stdout
    assert lines[-1]["reports"] == 2 and lines[-1]["suppressed"] == 2, ing.stdout

    rep = rm("report", "--queue", work / "queue", "--campaign", "verpcamp", "--bounces")
    assert sorted(x["recipient"] for x in csv.DictReader(io.StringIO(rep.stdout))) == late, show(rep)
    sup = rm("suppress", "list", "--queue", work / "queue")
    assert all(a in sup.stdout for a in late), show(sup)
    # A message that is not a report is refused by name, and the rest still counts.
    (returned / "junk.eml").write_text("From: someone@x.test\nSubject: hi\n\nnot a bounce\n")
    again = rm("bounces", "ingest", returned, "--queue", work / "queue")
    assert again.returncode == 1 and "junk.eml" in again.stderr and "not a delivery status" in again.stderr, \
        show(again)
