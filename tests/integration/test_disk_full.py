"""The queue on a tiny tmpfs that fills up: `send` refuses to enqueue more with a clear error naming the queue and
the number of recipients accepted, and loses none of those; with the disk still full `run` says so and changes
nothing; once space returns, `run` delivers every accepted recipient exactly once. Needs root (mount); the sink
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import small_tmpfs  # noqa: E402
from mailstack import free_port  # noqa: E402

ROWS = 300_000


@pytest.fixture
def tiny(tmp_path):
    yield from small_tmpfs(tmp_path / "tiny", "8m")


def test_full_disk_refuses_clearly_loses_nothing_and_resumes(ringmta, work, tiny, sink):
    (work / "m.eml").write_text("From: a@sender.test\nSubject: s {{name}}\n\nhi {{name}}\n")
    with open(work / "l.csv", "w") as f:
        f.write("email,name\n")
        f.writelines(f"u{i}@d{i % 50}.test,N{i}\n" for i in range(ROWS))
    queue = tiny / "q"
    route = ["--tls", "none", "--no-progress", "--admin", "none", "--json"]

    # Enqueue until the disk is full. No server listens at the smart host: nothing is delivered yet.
    dead = free_port((__import__("socket").AF_INET,))
    r = ringmta("send", "--message", work / "m.eml", "--recipients", work / "l.csv", "--queue", queue,
                "--smarthost", f"127.0.0.1:{dead}", "--retry-after", "600", *route, timeout=120)
    assert r.rc == 2, r
    m = re.search(r"queue write failed after (\d+) recipients were accepted: .*no space left on device", r.stderr)
    assert m, r
    accepted = int(m.group(1))
    assert 0 < accepted < ROWS, r

    # Still full: `run` delivers nothing (it could not record the outcomes), and says why.
    with open(tiny / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    sk = sink()
    port = sk.port
    try:
        r = ringmta("run", "--queue", queue, "--smarthost", f"127.0.0.1:{port}", *route, timeout=120)
        assert r.rc == 2, r
        assert "no space left on device" in r.stderr and str(queue) in r.stderr, r

        # Space returns: every accepted recipient is delivered, each once.
        (tiny / "filler").unlink()
        r = ringmta("run", "--queue", queue, "--smarthost", f"127.0.0.1:{port}", *route, timeout=300)
        assert r.rc == 0, r
        assert (r.json["delivered"], r.json["queued"]) == (accepted, 0), r
        time.sleep(0.3)  # the sink flushes its record every 100 ms
    finally:
        sk.summary()
    got = sk.record.read_text().split()
    assert len(got) == accepted and set(got) == {f"u{i}@d{i % 50}.test" for i in range(accepted)}
