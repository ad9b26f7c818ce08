"""One-click unsubscribe (issue 18, RFC 2369 / RFC 8058), end to end with real processes on 127.0.0.1: `ringmta send`
with --unsubscribe-url/--unsubscribe-mailto/--list-id (and a DKIM key) to `ringmta sink --record-messages`; every
copy has List-Unsubscribe with its own token, List-Unsubscribe-Post and List-Id, all inside the DKIM h= and verified by
Python's `dkim` package. Then, while the send's admin listener lingers, what a mailbox provider and a reader do:
POST /u/{token} with List-Unsubscribe=One-Click (200, the address suppressed, durably: seen by `suppress list`
after the process ended), a forged or altered token (400, nothing changes), GET (a page, no unsubscribe); an
unsubscribe request mailed to the mailto address, fed to `ringmta bounces ingest`; `report --campaign` counts them;
and the next campaign skips them. Bad flags are usage errors before anything is queued.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from mailstack import free_port  # noqa: E402
from test_dkim import DOMAIN, dns_server, keys, key_flags, signatures, verifier  # noqa: E402,F401
from test_queue_command import rm, show  # noqa: E402

URL = "https://news.example.org/u/{token}"
MAILTO = "unsubscribe@example.org"
ADDRESSES = [f"reader{i}@dest.test" for i in range(6)]


def write_inputs(tmp_path: Path, addresses=ADDRESSES) -> tuple[Path, Path]:
    message = tmp_path / "m.eml"
    message.write_text(f"From: News <news@{DOMAIN}>\nTo: {{{{email}}}}\nSubject: December\n\nHello {{{{email}}}}\n")
    csv = tmp_path / f"list{len(list(tmp_path.glob('list*.csv')))}.csv"
    csv.write_text("email\n" + "".join(f"{a}\n" for a in addresses))
    return message, csv


def post(url: str, body: bytes = b"List-Unsubscribe=One-Click", method: str = "POST") -> tuple[int, str]:
    req = urllib.request.Request(url, data=body if method == "POST" else None, method=method,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def suppressed(queue: Path) -> dict[str, list[str]]:
    p = rm("suppress", "list", "--queue", queue)
    assert p.returncode == 0, show(p)
    rows = [line.split(",") for line in p.stdout.splitlines()[1:]]
    return {r[0]: r for r in rows}


def test_one_click_links_signed_and_honoured(tmp_path, sink, keys, dns_server):
    copies = tmp_path / "copies"
    copies.mkdir()
    # refused.test's RCPTs are refused for good: the DSN to the Sender quotes the copy's header block.
    s = sink("refused.test:rcpt-5xx=100", args=["--record-messages", copies])
    message, csv = write_inputs(tmp_path, ADDRESSES + ["gone@refused.test"])
    queue = tmp_path / "queue"
    admin = free_port()
    proc = subprocess.Popen([ringmta_bin(), "send", "--message", message, "--recipients", csv, "--queue", queue,
                             "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none", "--no-progress",
                             "--admin", f"127.0.0.1:{admin}", "--linger", "120", "--unsubscribe-url", URL,
                             "--unsubscribe-mailto", MAILTO, "--list-id", "Example News <news.example.org>",
                             "--campaign", "dec", *map(str, key_flags(keys, "rsa1"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(copies.glob("*.eml"))) < len(ADDRESSES) + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        got = {}
        verify = verifier(dns_server)
        for path in copies.glob("*.eml"):
            m = path.read_bytes()
            head = m.split(b"\r\n\r\n", 1)[0].decode()
            if "Return-Path: <>" in head:  # the DSN about gone@refused.test
                assert b"gone@refused.test" in m and b"\r\nList-Unsubscribe: <https://news.example.org/u/" in m, m
                continue
            rcpt = re.search(r"^Delivered-To: (.*)$", head, re.M).group(1).strip()
            unsub = re.search(r"^List-Unsubscribe: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M).group(1)
            urls = re.findall(r"<([^>]*)>", unsub)
            assert urls[0].startswith("https://news.example.org/u/") and urls[1].startswith(f"mailto:{MAILTO}?")
            token = urls[0].rsplit("/", 1)[1]
            assert urls[1] == f"mailto:{MAILTO}?subject=unsubscribe%20{token}"
            assert "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head + "\r\n"
            assert "\r\nList-Id: Example News <news.example.org>\r\n" in head + "\r\n"
            flat = re.sub(r"\s", "", signatures(m)[0])
            assert re.search(r"h=[^;]*list-unsubscribe:list-unsubscribe-post", flat), flat  # RFC 8058 §4
            assert verify(m, 0)
            got[rcpt] = token
        assert sorted(got) == sorted(ADDRESSES) and len(set(got.values())) == len(ADDRESSES)

        base = f"http://127.0.0.1:{admin}/u/"
        deadline = time.monotonic() + 20
        while True:  # the listener answers /u/ once the job has set it up
            status, _ = post(base + got[ADDRESSES[0]], method="GET")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        status, page = post(base + got[ADDRESSES[0]], method="GET")
        assert status == 200 and ADDRESSES[0] in page and 'method="post"' in page
        # Forged (reader1's payload with reader0's tag) and altered tokens: 400, nothing changes.
        t0, t1 = got[ADDRESSES[0]], got[ADDRESSES[1]]
        forged = t1.split(".")[0] + "." + t0.split(".")[1]
        assert post(base + forged)[0] == 400
        assert post(base + t0[:-3] + ("AAA" if not t0.endswith("AAA") else "BBB"))[0] == 400
        assert post(base + t0, body=b"something=else")[0] == 400
        assert post(base + t0)[0] == 200  # one-click: reader0
        assert post(base + t0)[0] == 200  # again: still fine
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "unsubscribe links answered" in err, err
    listed = suppressed(queue)
    assert listed["gone@refused.test"][1] == "invalid_recipient", listed
    del listed["gone@refused.test"]
    assert list(listed) == [ADDRESSES[0]], listed  # durable: read after the process ended
    assert listed[ADDRESSES[0]][1] == "unsubscribe" and listed[ADDRESSES[0]][3] == "dec"

    # reader2 asks by mail (what a mailbox provider sends to the mailto address).
    request = tmp_path / "request.eml"
    request.write_text(f"From: {ADDRESSES[2]}\nTo: {MAILTO}\nSubject: unsubscribe {got[ADDRESSES[2]]}\n\n\n")
    fake = tmp_path / "fake.eml"
    fake.write_text(f"From: x@y\nTo: {MAILTO}\nSubject: unsubscribe {forged}\n\n\n")
    p = rm("bounces", "ingest", "--queue", queue, request, fake, "--json")
    assert "not valid here" in p.stderr and p.json["unsubscribes"] == 1, show(p)
    assert sorted(suppressed(queue)) == sorted([ADDRESSES[0], ADDRESSES[2], "gone@refused.test"])
    p = rm("report", "--queue", queue, "--campaign", "dec", "--json")
    assert p.returncode == 0 and p.json["unsubscribed"] == 2, show(p)

    # The next campaign to the same list skips them.
    message2, csv2 = write_inputs(tmp_path)
    message2.write_text(message2.read_text().replace("December", "January"))
    p = rm("send", "--message", message2, "--recipients", csv2, "--queue", queue, "--smarthost",
           f"127.0.0.1:{s.port}", "--tls", "none", "--no-progress", "--admin", "none", "--json")
    assert p.returncode == 0 and p.json["suppressed"] == 2 and p.json["delivered"] == len(ADDRESSES) - 2, show(p)


@pytest.mark.parametrize("flags, expected", [
    (["--unsubscribe-url", "http://news.example.org/u/{token}"], "must be an https:// URL"),
    (["--unsubscribe-url", "https://news.example.org/unsubscribe"], "has no {token}"),
    (["--unsubscribe-mailto", "not-an-address"], "--unsubscribe-mailto not-an-address: not a plain address"),
])
def test_bad_unsubscribe_flags_queue_nothing(tmp_path, sink, flags, expected):
    s = sink()
    message, csv = write_inputs(tmp_path)
    p = rm("send", "--message", message, "--recipients", csv, "--queue", tmp_path / "queue", "--smarthost",
           f"127.0.0.1:{s.port}", "--tls", "none", "--no-progress", "--admin", "none", *flags)
    assert p.returncode == 2 and expected in p.stderr, show(p)
    assert not (tmp_path / "queue").exists()


def test_own_list_unsubscribe_header_conflicts(tmp_path, sink):
    s = sink()
    message, csv = write_inputs(tmp_path)
    message.write_text("List-Unsubscribe: <mailto:x@example.org>\n" + message.read_text())
    p = rm("send", "--message", message, "--recipients", csv, "--queue", tmp_path / "queue", "--smarthost",
           f"127.0.0.1:{s.port}", "--tls", "none", "--no-progress", "--admin", "none", "--unsubscribe-url", URL)
    assert p.returncode == 2 and "has its own List-Unsubscribe" in p.stderr, show(p)


def tokens_of(directory: Path) -> dict[str, str]:
    """Recipient -> the token in its copy's List-Unsubscribe, for every copy a sink recorded."""
    out = {}
    for path in directory.glob("*.eml"):
        head = path.read_bytes().split(b"\r\n\r\n", 1)[0].decode()
        rcpt = re.search(r"^Delivered-To: (.*)$", head, re.M).group(1).strip()
        out[rcpt] = re.search(r"https://news\.example\.org/u/([^>]+)>", head).group(1)
    return out


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in\n{text}"
    return float(m.group(1))


def test_an_unsubscribe_during_a_campaign_withdraws_copies_not_yet_sent(tmp_path, sink, keys):
    """Recipients already queued, even already fetched and waiting for a throttled route, are not mailed once they
    unsubscribe: the running delivery withdraws them. Counted on /metrics and in the summary."""
    readers = [f"reader{i}@dest.test" for i in range(8)]
    first = tmp_path / "first"
    first.mkdir()
    s1 = sink(args=["--record-messages", first])
    message, csv = write_inputs(tmp_path, readers)
    queue = tmp_path / "queue"
    p = rm("send", "--message", message, "--recipients", csv, "--queue", queue, "--smarthost", f"127.0.0.1:{s1.port}",
           "--tls", "none", "--no-progress", "--admin", "none", "--unsubscribe-url", URL, "--campaign", "one")
    assert p.returncode == 0, show(p)
    tokens = tokens_of(first)
    assert sorted(tokens) == readers

    # The second campaign goes out at 2 messages a second; the last two readers unsubscribe (with the links of
    # the first) once its first copy has arrived: they are in the route's backlog by then.
    second = tmp_path / "second"
    second.mkdir()
    s2 = sink(args=["--record-messages", second])
    throttle = tmp_path / "throttle.toml"
    # In smart-host mode a rule matches the smart host by its name.
    throttle.write_text('[[rule]]\nname = "slow"\nmx = ["127.0.0.1"]\nmessages_per_second = 2\n'
                        'message_burst = 1\n')
    message.write_text(message.read_text().replace("December", "January"))
    admin = free_port()
    proc = subprocess.Popen([ringmta_bin(), "send", "--message", message, "--recipients", csv, "--queue", queue,
                             "--smarthost", f"127.0.0.1:{s2.port}", "--tls", "none", "--no-progress",
                             "--admin", f"127.0.0.1:{admin}", "--linger", "60", "--unsubscribe-url", URL,
                             "--campaign", "two", "--throttle-file", throttle, *map(str, key_flags(keys, "rsa1"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not list(second.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        for r in readers[-2:]:
            status, body = post(f"http://127.0.0.1:{admin}/u/{tokens[r]}")
            assert status == 200, body
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:  # the final snapshot, once the job is over
            status, text = post(f"http://127.0.0.1:{admin}/metrics", method="GET")
            if status == 200 and metric(text, "ringmta_recipients_delivered_total") + \
                    metric(text, 'ringmta_recipients_withdrawn_total{reason="suppressed"}') == len(readers):
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert sorted(tokens_of(second)) == readers[:-2], err
    assert metric(text, 'ringmta_recipients_withdrawn_total{reason="suppressed"}') == 2, text
    assert metric(text, 'ringmta_unsubscribes_total{via="one-click"}') == 2, text
    assert metric(text, 'ringmta_dkim_copies_total{result="signed"}') == 6, text
    assert metric(text, 'ringmta_dkim_copies_total{result="unsigned"}') == 0, text
    assert "withdrawn     2 (joined the suppression list after they were queued)" in err, err
    assert "DKIM          6 signed\n" in err, err


def test_suppressed_between_runs_is_withdrawn_at_the_next_run(tmp_path, sink):
    """A recipient deferred in the queue whose address is then suppressed (`suppress add`) is not sent by `run`."""
    readers = [f"reader{i}@dest.test" for i in range(5)]
    grey = sink("dest.test:rcpt-4xx=100")
    message, csv = write_inputs(tmp_path, readers)
    queue = tmp_path / "queue"
    p = rm("send", "--message", message, "--recipients", csv, "--queue", queue, "--smarthost",
           f"127.0.0.1:{grey.port}", "--tls", "none", "--no-progress", "--admin", "none", "--retry-after", "1",
           "--wait-for-retries", "0",
           "--json")
    assert p.json["deferred"] == 5, show(p)
    p = rm("suppress", "add", "--queue", queue, readers[1], readers[3].upper())
    assert p.returncode == 0, show(p)
    ok = sink()
    log = tmp_path / "delivery.jsonl"
    time.sleep(1.2)  # the retry falls due
    p = rm("run", "--queue", queue, "--smarthost", f"127.0.0.1:{ok.port}", "--tls", "none", "--no-progress",
           "--admin", "none", "--json", "--delivery-log", log, "--until-done")
    assert p.returncode == 0 and p.json["delivered"] == 3 and p.json["withdrawn_suppressed"] == 2, show(p)
    assert p.json["queued"] == 0, show(p)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert sorted(x["recipient"] for x in lines if x["outcome"] == "suppressed") == [readers[1], readers[3]], lines
    time.sleep(0.3)  # the sink writes its record every 100 ms
    assert sorted(ok.record.read_text().split()) == sorted(set(readers) - {readers[1], readers[3]})
