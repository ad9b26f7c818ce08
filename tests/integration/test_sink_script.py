"""`ringmta sink --script`: the sink misbehaving for chosen domains, and ringmta (smart-host mode, clear text, to the
sink directly) coping: a share of 4xx at RCPT is deferred and the rest delivered, 5xx after the dot fails,
421 after N messages costs reconnections but no recipient, a delay slows only its domain, a RCPT that is never
answered times out into a deferral without holding up the other domains. Only 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402


def records(record: Path, count: int, timeout: float = 10) -> list[str]:
    """The sink's record once it holds `count` lines (it flushes every 100 ms), or what it has at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = record.read_text().split() if record.exists() else []
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def send(ringmta, work: Path, port: int, addresses: list[str], *extra, timeout=120, retry_after="600"):
    (work / "m.eml").write_text("From: a@sender.test\nSubject: s {{name}}\n\nhi {{name}}\n")
    (work / "l.csv").write_text("email,name\n" + "".join(f"{a},N{i}\n" for i, a in enumerate(addresses)))
    return ringmta("send", "--message", work / "m.eml", "--recipients", work / "l.csv", "--queue", work / "q",
                   "--smarthost", f"127.0.0.1:{port}", "--tls", "none", "--json", "--no-progress",
                   "--admin", "none", "--retry-after", retry_after, *extra, timeout=timeout)


def test_share_of_rcpt_4xx_is_deferred_the_rest_delivered(ringmta, work, sink):
    sk = sink("grey.test:rcpt-4xx=30")
    port, record = sk.port, sk.record
    addrs = [f"u{i}@grey.test" for i in range(400)] + [f"u{i}@fine.test" for i in range(100)]
    r = send(ringmta, work, port, addrs)
    assert r.rc == 3, r
    deferred, delivered = r.json["deferred"], r.json["delivered"]
    assert deferred + delivered == 500 and r.json["failed"] == 0
    assert 60 <= deferred <= 180, r.json  # 30 % of 400, give or take
    got = records(record, delivered)
    assert len(got) == delivered and sum(x.endswith("@fine.test") for x in got) == 100


def test_data_5xx_fails_and_421_after_n_costs_only_reconnections(ringmta, work, sink):
    sk = sink("spam.test:data-5xx=100", "busy.test:421-after=5")
    port, record = sk.port, sk.record
    addrs = [f"u{i}@spam.test" for i in range(10)] + [f"u{i}@busy.test" for i in range(60)]
    r = send(ringmta, work, port, addrs, "--max-connections", "2")
    assert r.rc == 1, r  # some failed, nothing left queued
    # the 10 failures reach the envelope Sender (a@sender.test, on this sink too) as one digest DSN
    assert (r.json["delivered"], r.json["failed"], r.json["queued"], r.json["dsns_queued"]) == (61, 10, 0, 1), r
    assert r.json["connections"]["opened"] >= 60 // 5
    got = records(record, 61)
    assert sorted(got) == sorted([a for a in addrs if a.endswith("@busy.test")] + ["a@sender.test"])


def test_a_never_answering_domain_times_out_without_holding_up_the_others(ringmta, work, sink):
    sk = sink("hole.test:never-answer", "slow.test:delay-ms=200")
    port, record = sk.port, sk.record
    addrs = [f"u{i}@hole.test" for i in range(3)] + [f"u{i}@fine.test" for i in range(300)] + \
        [f"u{i}@slow.test" for i in range(3)]
    t0 = time.monotonic()
    r = send(ringmta, work, port, addrs, "--command-timeout", "2", "--max-connections", "4", "--wait-for-retries", "0")
    assert r.rc == 3, r
    assert r.json["delivered"] == 303 and r.json["queued"] == 3, r
    assert time.monotonic() - t0 < 60
    got = records(record, 303)
    assert sum(x.endswith("@fine.test") for x in got) == 300
    assert sum(x.endswith("@slow.test") for x in got) == 3


def test_bad_script_is_a_clear_error():
    p = subprocess.run([ringmta_bin(), "sink", "--listen", "127.0.0.1:0", "--script", "x.test:bogus=1"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "unknown key 'bogus'" in p.stderr, p


def test_stats_every_prints_running_counts(ringmta, work, sink):
    """`--stats-every MS`: benchmarks watch the count grow (bench/run times Postfix by it)."""
    sk = sink(args=["--stats-every", "100"])
    r = send(ringmta, work, sk.port, [f"u{i}@stats.test" for i in range(30)])
    assert r.json["delivered"] == 30, r
    time.sleep(0.3)
    out = sk.summary()
    running = [line for line in out.splitlines() if line.startswith("sink: at ")]
    assert len(running) >= 3, out
    last = running[-1]
    assert " s: 30 messages, 30 recipients, " in last, out
    times = [float(line.split()[2]) for line in running]
    assert times == sorted(times) and times[0] < times[-1], out


def test_starttls_with_a_verifying_client_and_ringmta(ringmta, work, tmp_path, sink):
    """`--tls-cert/--tls-key`: STARTTLS to Python's smtplib (verifying the certificate and 127.0.0.1) and to
    ringmta --tls starttls --ca-file (every connection encrypted); clear-text input after STARTTLS is dropped."""
    import smtplib
    import ssl

    from mailstack import make_certificate

    cert, key = make_certificate(tmp_path)
    sk = sink(args=["--tls-cert", cert, "--tls-key", key])
    port = sk.port
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.ehlo("client.test")
            assert c.has_extn("starttls")
            c.starttls(context=ssl.create_default_context(cafile=str(cert)))
            assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
            c.ehlo("client.test")
            assert not c.has_extn("starttls")
            assert c.sendmail("a@sender.test", ["b@tls.test"], "Subject: x\r\n\r\nover TLS\r\n") == {}
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.recv(512)
            raw.sendall(b"EHLO x\r\n")
            time.sleep(0.2)
            raw.recv(4096)
            raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
            time.sleep(0.3)
            assert raw.recv(4096) == b"220 2.0.0 Ready to start TLS\r\n"
        (work / "m.eml").write_text("From: a@sender.test\nSubject: s\n\nhi\n")
        (work / "l.csv").write_text("email\n" + "".join(f"u{i}@tls{i % 3}.test\n" for i in range(300)))
        r = ringmta("send", "--message", work / "m.eml", "--recipients", work / "l.csv", "--queue", work / "q",
                    "--smarthost", f"127.0.0.1:{port}", "--tls", "starttls", "--ca-file", cert, "--json",
                    "--no-progress", "--admin", "none", timeout=120)
        assert r.json["delivered"] == 300, r
        assert r.json["connections"]["tls"] == r.json["connections"]["opened"] > 0, r
    finally:
        out = sk.summary()
    assert "sink: 301 messages, 301 recipients" in out, out


def test_chunking_bdat_over_a_socket(sink):
    """CHUNKING: a BDAT message in two chunks (one line of it a lone dot, which BDAT does not stuff) is counted."""
    sk = sink()
    port, record = sk.port, sk.record
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            f = s.makefile("rb")
            assert f.readline().startswith(b"220 ")
            s.sendall(b"EHLO client.test\r\n")
            caps = []
            while True:
                line = f.readline()
                caps.append(line[4:].strip())
                if line[3:4] == b" ":
                    break
            assert b"CHUNKING" in caps, caps
            chunk1, chunk2 = b"Subject: x\r\n\r\n.\r\n", b"last line\r\n"
            s.sendall(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@chunk.test>\r\n" + b"BDAT %d\r\n" % len(chunk1) + chunk1
                      + b"BDAT %d LAST\r\n" % len(chunk2) + chunk2 + b"QUIT\r\n")
            replies = [f.readline() for _ in range(5)]
        assert replies[2] == b"250 2.0.0 Ok: %d octets received\r\n" % len(chunk1), replies
        assert replies[3].startswith(b"250 2.0.0 queued as "), replies
        assert replies[4].startswith(b"221 "), replies
    finally:
        out = sk.summary()
    assert f"sink: 1 messages, 1 recipients, {len(chunk1) + len(chunk2)} bytes" in out, out
    assert record.read_text().split() == ["b@chunk.test"]


def test_a_send_finishes_its_job_through_421s(ringmta, work, sink):
    """20 % of one domain's RCPTs get `421 slow down` and the session is closed: those recipients are tried again on
    a new connection, and if that is lost too, in seconds (15 s doubling, here at most --retry-after 4) — the same
    `send` delivers every one, and the other domains are never held back."""
    sk = sink("hot.test:rcpt-421=20")
    addrs = [f"u{i}@hot.test" for i in range(200)] + [f"u{i}@fine{i % 5}.test" for i in range(800)]
    t0 = time.monotonic()
    r = send(ringmta, work, sk.port, addrs, "--delivery-log", work / "log.jsonl", retry_after="4")
    assert r.rc == 0, r
    assert r.json["delivered"] == 1000 and r.json["queued"] == 0, r
    assert time.monotonic() - t0 < 60
    lines = [json.loads(x) for x in (work / "log.jsonl").read_text().splitlines()]
    deferred = [x for x in lines if x["outcome"] == "deferred"]
    assert all(x["recipient"].endswith("@hot.test") for x in deferred), deferred[:5]
    got = records(sk.record, 1000)
    assert sorted(got) == sorted(addrs)


def test_deferrals_beyond_the_wait_are_left_for_run_with_a_line_saying_when(ringmta, work, sink):
    sk = sink("grey.test:rcpt-4xx=100")
    r = send(ringmta, work, sk.port, ["a@grey.test", "b@fine.test"])
    assert r.rc == 3 and r.json["deferred"] == 1, r
    assert re.search(r"still queued  1 \(1 deferred; the first is due at \S+Z, in 1\dm \d+s: "
                     r"`ringmta run --queue \S+` delivers them then, or run with --until-done\)", r.stderr), r
