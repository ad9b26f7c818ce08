"""One classifier of replies (issue 17): every refusal that `ringmta classify` calls a configuration problem pauses
a real `ringmta send` through a smart host (exit 3, every recipient still queued, no bounce), and every other
permanent refusal fails the recipients, with the category `classify` gives. The wordings: for each rule of the
built-in table that is a configuration problem, a reply made from its own patterns (`ringmta classify --list-rules
--json`), and published relay and authentication refusals of providers and server software. The smart host is
misbehaving_smtp.py answering every RCPT with the reply. Only 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from misbehaving_smtp import MisbehavingSmtp  # noqa: E402

ADDRESSES = [f"u{i}@dest{i % 2}.test" for i in range(3)]
PUBLISHED = [
    "554 5.7.1 <u0@dest0.test>: Relay access denied",                    # Postfix
    "550 relay not permitted",                                           # Exim
    "550 5.7.1 Unable to relay",                                         # Exchange
    "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",  # qmail
    "550 5.7.1 <u0@dest0.test>... Relaying denied",                      # Sendmail
    "550 5.7.1 Relaying denied. IP name lookup failed",                  # Sendmail
    "550 We do not relay non-local mail",                                # MDaemon
    "530 5.7.0 Authentication required",                                 # Postfix, Haraka
    "550 5.7.60 SMTP; Client does not have permissions to send as this sender",  # Exchange Online
    "554 5.7.0 Reject, id=12345 - SendAsDenied",                         # Office 365
    "553 5.7.1 <news@sender.test>: Sender address rejected: not owned by user someone",  # Postfix
    "550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]",   # Postfix (PTR)
    "550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users",
]
NOT_CONFIGURATION = ["550 5.1.1 <u0@dest0.test>: Recipient address rejected: User unknown in local recipient table",
                     "550 5.7.1 Message rejected as spam by Content Filtering"]


def classify(*replies: str) -> list[dict]:
    done = subprocess.run([ringmta_bin(), "classify", "--json", *replies], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def rule_replies() -> list[str]:
    """A permanent reply made from each pattern of each configuration rule of the built-in table."""
    done = subprocess.run([ringmta_bin(), "classify", "--list-rules", "--json"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    out = []
    for rule in map(json.loads, done.stdout.splitlines()):
        if not rule["configuration"] or rule["local"] is True:
            continue
        codes = [c for c in rule["codes"] if c.startswith("5")] or ["550"]
        code = codes[0].split("-")[0].replace("x", "0")
        status = (rule["statuses"] or ["5.7.1"])[0].replace("x", "5")
        status = ".".join((status.split(".") + ["0", "0"])[:3])
        for text in rule["text"] or ["refused"]:
            out.append(f"{code} {status} {text.replace('*', ' ')}")
    return out


def send(ringmta, work: Path, port: int, reply: str, bounces: str = "digest"):
    work = work / hashlib.sha1(reply.encode()).hexdigest()[:12]  # parameters may share a work directory
    work.mkdir()
    (work / "m.eml").write_text("From: news@sender.test\nSubject: s {{name}}\n\nhi {{name}}\n")
    (work / "l.csv").write_text("email,name\n" + "".join(f"{a},N{i}\n" for i, a in enumerate(ADDRESSES)))
    return ringmta("send", "--message", work / "m.eml", "--recipients", work / "l.csv", "--queue", work / "q",
                   "--smarthost", f"127.0.0.1:{port}", "--tls", "none", "--json", "--no-progress",
                   "--admin", "none", "--retry-after", "600", "--command-timeout", "3", "--bounce-mode", bounces,
                   "--wait-for-retries", "0", timeout=90)


def test_the_table_has_configuration_rules_to_test():
    replies = rule_replies()
    assert len(replies) >= 20, replies
    verdicts = classify(*replies)
    assert all(v["configuration"] for v in verdicts), [v for v in verdicts if not v["configuration"]]


@pytest.mark.parametrize("reply", PUBLISHED + rule_replies() if Path(ringmta_bin()).exists() else PUBLISHED)
def test_a_configuration_refusal_pauses_the_route_and_keeps_every_recipient(ringmta, work, reply):
    verdict = classify(reply)[0]
    assert verdict["configuration"], verdict
    with MisbehavingSmtp("rcpt", reply, pipelining=True) as server:
        r = send(ringmta, work, server.port, reply)
    assert r.rc == 3, r
    assert r.json["failed"] == 0 and r.json["queued"] == len(ADDRESSES), r
    assert r.json.get("dsns_queued", 0) == 0, r
    assert r.json.get("diagnosis"), r


@pytest.mark.parametrize("reply", NOT_CONFIGURATION)
def test_a_recipients_refusal_fails_the_recipients(ringmta, work, reply):
    verdict = classify(reply)[0]
    assert not verdict["configuration"], verdict
    with MisbehavingSmtp("rcpt", reply, pipelining=True) as server:
        r = send(ringmta, work, server.port, reply, bounces="none")  # a DSN would be refused there too
    assert r.rc == 1 and r.json["failed"] == len(ADDRESSES) and r.json["queued"] == 0, r
