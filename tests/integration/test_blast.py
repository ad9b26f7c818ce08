"""`ringmta blast`, the load generator, against `ringmta sink` and the suite's Postfix: counts that match what the
server counted, every command timed, a rate held, refusals broken down by reply, STARTTLS + AUTH through a real
Postfix submission port with Dovecot SASL. Only 127.0.0.1; every run bounded by --messages or --duration.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import parse_json, ringmta_bin  # noqa: E402
from mailstack import free_port  # noqa: E402


def blast(*args, timeout: float = 120) -> tuple[int, dict | None, str]:
    r = subprocess.run([ringmta_bin(), "blast", "--json", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, parse_json(r.stdout), r.stdout + r.stderr


def test_counts_match_the_sink_and_every_command_is_timed(sink):
    sk = sink()
    port = sk.port
    rc, j, out = blast("--target", f"127.0.0.1:{port}", "--messages", 3000, "--connections", 8, "--threads", 2,
                       "--size", 2000, "--recipients-per-message", 2, "--duration", 0)
    assert rc == 0 and j, out
    assert j["messages"] == j["messages_accepted"] == 3000, out
    assert j["recipients_accepted"] == 6000 and j["recipients_refused"] == 0, out
    assert j["replies"] == {"250": 3000}, out
    assert j["sessions_ready"] >= 8 and j["sessions_failed"] == 0, out
    c = j["commands_ms"]
    assert c["MAIL"]["count"] == c["DATA"]["count"] == c["end of data"]["count"] == 3000, c
    assert c["RCPT"]["count"] == 6000 and c["greeting"]["count"] == c["EHLO"]["count"] >= 8, c
    for name, q in list(c.items()) + [("end to end", j["end_to_end_ms"])]:
        assert 0 <= q["p50"] <= q["p90"] <= q["p99"] <= q["p99.9"] <= q["max"] * 1.07 + 0.01, (name, q)
    assert j["messages_per_second"] > 0 and j["bytes"] >= 3000 * 2000 * 0.95, out
    assert "sink: 3000 messages, 6000 recipients" in sk.summary()


@pytest.mark.alone
def test_rate_is_held(sink):
    sk = sink()
    port = sk.port
    rc, j, out = blast("--target", f"127.0.0.1:{port}", "--rate", 200, "--duration", 2, "--connections", 4)
    assert rc == 0 and j, out
    # 2 s at 200/s, plus the bucket's first token; a slow start may lose a few.
    assert 340 <= j["messages_accepted"] <= 402, out
    sk.summary()


def test_refusals_are_broken_down_by_reply_and_exit_1(sink):
    sk = sink("blast.test:rcpt-4xx=50")
    port = sk.port
    rc, j, out = blast("--target", f"127.0.0.1:{port}", "--messages", 400, "--duration", 0)
    assert rc == 1 and j, out
    assert set(j["replies"]) == {"250", "451 4.7.1"}, out
    assert j["replies"]["250"] + j["replies"]["451 4.7.1"] == 400 and 100 < j["replies"]["250"] < 300, out
    assert j["messages_accepted"] == j["replies"]["250"] == j["recipients_accepted"], out
    sk.summary()


def test_nothing_listening_ends_at_once_with_the_reason():
    port = free_port((socket.AF_INET,))
    rc, j, out = blast("--target", f"127.0.0.1:{port}", "--duration", 0, "--messages", 10, timeout=30)
    assert rc == 1 and j and j["sessions_failed"] >= 1 and j["messages"] == 0, out
    assert any("refused" in e for e in j["errors"]), out


def test_starttls_and_auth_through_postfix_submission(job):
    rc, j, out = blast("--target", f"127.0.0.1:{job.stack.ports['submission']}", "--tls", "starttls",
                       "--ca-file", job.stack.ca_file, "--user", "alice", "--password-file", job.password_file,
                       "--sender", "alice@example.org", "--to-domain", job.domain, "--messages", 40,
                       "--connections", 2, "--duration", 0, "--size", 3000)
    assert rc == 0 and j, out
    assert j["messages_accepted"] == 40 and j["commands_ms"]["STARTTLS"]["count"] == 2, out
    assert j["commands_ms"]["AUTH"]["count"] >= 2, out
    assert len(job.delivered_at_sink(40)) == 40
