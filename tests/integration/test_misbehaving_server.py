"""A server that answers out of place never makes ringmta count mail as delivered.

`ringmta send` (smart-host mode, clear text) and `ringmta blast` against `misbehaving_smtp.MisbehavingSmtp`, which
answers one stage of every session (greeting, EHLO, MAIL, RCPT, DATA, end of data) with each wrong kind of reply —
a 2xx or 3xx that is not the one due, a 4xx, a 5xx, a malformed line, a multiline reply with mixed codes, a reply
sent ahead of its command — with PIPELINING on and off. After each, the summary, the delivery log and the queue
agree with the server's own ledger: only what it accepted with a 2xx after the body is delivered, and every other
recipient is still queued or failed. Only 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from misbehaving_smtp import MisbehavingSmtp  # noqa: E402

STAGES = ["greeting", "ehlo", "mail", "rcpt", "data", "dot"]
WRONGS = ["2xx", "3xx", "4xx", "5xx", "malformed", "mixed", "early"]
PROTOCOL_ERRORS = {"2xx", "3xx", "malformed", "mixed", "early"}
ADDRESSES = [f"u{i}@dest{i % 2}.test" for i in range(3)]


def cases():
    for stage in STAGES:
        for wrong in WRONGS:
            if stage == "dot" and wrong == "2xx":
                continue  # every 2xx there is an acceptance
            if stage == "greeting" and wrong == "early":
                continue  # nothing comes before it
            for pipelining in (False, True):
                if wrong == "early" and pipelining and stage in ("rcpt", "data"):
                    continue  # pipelined MAIL, RCPT and DATA go out together: their replies are all due
                yield pytest.param(stage, wrong, pipelining,
                                   id=f"{stage}-{wrong}-{'pipelining' if pipelining else 'lockstep'}")


def send(ringmta, work: Path, port: int):
    (work / "m.eml").write_text("From: a@sender.test\nSubject: s {{name}}\n\nhi {{name}}\n")
    (work / "l.csv").write_text("email,name\n" + "".join(f"{a},N{i}\n" for i, a in enumerate(ADDRESSES)))
    return ringmta("send", "--message", work / "m.eml", "--recipients", work / "l.csv", "--queue", work / "q",
                   "--smarthost", f"127.0.0.1:{port}", "--tls", "none", "--json", "--no-progress",
                   "--admin", "none", "--retry-after", "600", "--command-timeout", "3", "--bounce-mode", "none",
                   "--wait-for-retries", "0", "--delivery-log", work / "deliveries.jsonl", timeout=90)


def log_lines(work: Path) -> list[dict]:
    path = work / "deliveries.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("stage,wrong,pipelining", list(cases()))
def test_nothing_the_server_did_not_accept_counts_as_delivered(ringmta, work, stage, wrong, pipelining):
    with MisbehavingSmtp(stage, wrong, pipelining) as server:
        r = send(ringmta, work, server.port)
        accepted = sorted(server.accepted)
    assert r.json is not None, r
    assert accepted == [], f"the script accepts nothing: {accepted}"
    assert r.json["delivered"] == 0, r
    assert r.rc in (1, 3), r  # never "all delivered"
    lines = log_lines(work)
    assert not [x for x in lines if x["outcome"] == "delivered"], lines
    # Nothing lost: every recipient either failed (by the server's 5xx) or is still in the queue.
    assert r.json["failed"] + r.json["queued"] == len(ADDRESSES), r
    q = ringmta("queue", "--queue", work / "q", "--json")
    assert q.rc == 0 and q.json["total"] == r.json["queued"], q
    if wrong in PROTOCOL_ERRORS:
        assert r.json["failed"] == 0, r
        deferred = [x for x in lines if x["outcome"] == "deferred"]
        assert deferred, lines
        for x in deferred:
            assert x["reply"].startswith("451 4."), x
            assert "protocol error" in x["reply"] or "malformed reply" in x["reply"], x


def test_a_flood_of_replies_after_the_greeting_delivers_nothing(ringmta, work):
    with MisbehavingSmtp("greeting", "flood", pipelining=True) as server:
        r = send(ringmta, work, server.port)
        assert server.accepted == []
    assert r.json["delivered"] == 0 and r.json["queued"] == len(ADDRESSES), r
    deferred = [x for x in log_lines(work) if x["outcome"] == "deferred"]
    assert deferred and all("arrived before EHLO was sent" in x["reply"] for x in deferred), deferred


def test_a_well_behaved_script_delivers(ringmta, work):
    # The control: the same server and checks without misbehaviour deliver everything, so the cases above can fail.
    with MisbehavingSmtp("none", "none", pipelining=True) as server:
        r = send(ringmta, work, server.port)
        assert sorted(server.accepted) == sorted(ADDRESSES)
    assert r.rc == 0 and r.json["delivered"] == len(ADDRESSES), r
    assert sorted(x["recipient"] for x in log_lines(work) if x["outcome"] == "delivered") == sorted(ADDRESSES)


@pytest.mark.parametrize("stage,wrong", [("data", "2xx"), ("dot", "3xx"), ("dot", "mixed"), ("rcpt", "3xx"),
                                         ("data", "early")])
def test_blast_counts_only_what_the_server_accepted(stage, wrong):
    with MisbehavingSmtp(stage, wrong, pipelining=False) as server:
        p = subprocess.run([ringmta_bin(), "blast", "--json", "--target", f"127.0.0.1:{server.port}",
                            "--messages", "4", "--connections", "1", "--command-timeout", "3"],
                           capture_output=True, text=True, timeout=60)
        assert server.accepted == []
    j = json.loads(p.stdout)
    assert p.returncode == 1, p.stdout + p.stderr
    assert j["messages_accepted"] == 0 and j["recipients_accepted"] == 0, j


@pytest.mark.parametrize("limit_at", ["mail", "rcpt"])
@pytest.mark.parametrize("pipelining", [False, True], ids=["lockstep", "pipelining"])
def test_a_452_per_connection_limit_retires_the_connection_not_the_recipients(ringmta, work, limit_at, pipelining):
    """A server that takes 3 messages per connection and answers the 4th MAIL (or RCPT) with 452 4.5.3: the
    connection is done, and the recipient goes out at once on a new one — one `send` delivers all 20, nothing waits
    for --retry-after (600 s here)."""
    addresses = [f"r{i}@dest.test" for i in range(20)]
    with MisbehavingSmtp(per_connection=3, limit_at=limit_at, pipelining=pipelining) as srv:
        (work / "m.eml").write_text("From: a@sender.test\nSubject: s\n\nhi\n")
        (work / "l.csv").write_text("email\n" + "".join(f"{a}\n" for a in addresses))
        p = ringmta("send", "--message", work / "m.eml", "--recipients", work / "l.csv", "--queue", work / "q",
                    "--smarthost", f"127.0.0.1:{srv.port}", "--tls", "none", "--json", "--no-progress",
                    "--admin", "none", "--retry-after", "600", "--command-timeout", "5", "--max-connections", "2",
                    "--delivery-log", work / "deliveries.jsonl", timeout=90)
        assert p.rc == 0, p
        assert p.json["delivered"] == 20 and p.json["queued"] == 0, p
        assert sorted(srv.accepted) == sorted(addresses)
        assert srv.connections >= 7  # 20 messages, 3 a connection
    assert not [x for x in log_lines(work) if x["outcome"] != "delivered"], log_lines(work)
