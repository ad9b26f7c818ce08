"""`ringmta serve` (issue 19), end to end with real processes on 127.0.0.1: the service delivers to `ringmta sink`
what applications hand it over the HTTP/JSON API (Python's urllib as the client), with the bearer token required;
the rejected rows come back with their reasons, a campaign id given again is idempotent and the same list under
another id is refused while queued; campaigns that arrive after the queue ran empty are delivered too; the
suppression list is read and written live; bad requests get a 4xx naming the field; SIGTERM ends the service
cleanly; `kill -9` right after the API's 201 loses nothing: the next start delivers it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin, stopped_after  # noqa: E402
from mailstack import free_port, wait_for_port  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
MESSAGE = "From: News <news@example.org>\r\nTo: {{name}} <{{email}}>\r\nSubject: Hello {{name}}\r\n\r\nDear {{name}}\r\n"


class Service:
    def __init__(self, tmp_path: Path, smarthost_port: int, *extra: str, queue: Path | None = None):
        self.tmp = tmp_path
        self.queue = queue or tmp_path / "queue"
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        token_file.chmod(0o600)
        self.api_port = free_port()
        self.admin_port = free_port()
        self.log = open(tmp_path / f"serve-{self.api_port}.log", "w")
        self.proc = subprocess.Popen(
            [ringmta_bin(), "serve", "--queue", self.queue, "--smarthost", f"127.0.0.1:{smarthost_port}",
             "--tls", "none", "--ehlo", "test.example.org", "--admin", f"127.0.0.1:{self.admin_port}",
             "--api-listen", f"127.0.0.1:{self.api_port}", "--api-token-file", token_file, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, text=True)
        wait_for_port("127.0.0.1", self.api_port, 30, self.proc, "ringmta serve")

    def call(self, method: str, path: str, body=None, token: str | None = TOKEN, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text.decode(errors="replace")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.tmp / f"serve-{self.api_port}.log").read_text()

    def events(self) -> list[dict]:
        """The service's log: JSON lines on stderr (not a terminal here); other lines (start-up warnings) skipped."""
        out = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.log.close()
        return rc


@pytest.fixture
def service(tmp_path):
    yield from stopped_after(lambda port, *extra, queue=None: Service(tmp_path, port, *extra, queue=queue))


def recorded(sink, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = sink.record.read_text().split() if sink.record.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    return lines


def campaign(recipients, **options) -> dict:
    return {"message": MESSAGE, "recipients": recipients, **options}


def wait_finished(svc: Service, cid: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    status, body = svc.call("GET", f"/api/v1/campaigns/{cid}")
    while time.monotonic() < deadline and not (status == 200 and body["finished"]):
        time.sleep(0.2)
        status, body = svc.call("GET", f"/api/v1/campaigns/{cid}")
    assert status == 200 and body["finished"], (status, body, svc.output())
    return body


def test_campaigns_over_the_api_are_delivered_while_the_service_runs(tmp_path, sink, service):
    s = sink()
    svc = service(s.port)
    # No token, a wrong one: 401, nothing queued.
    assert svc.call("GET", "/api/v1/queue", token=None)[0] == 401
    assert svc.call("POST", "/api/v1/campaigns", campaign([{"email": "x@d.test"}]), token="wrong" * 5)[0] == 401

    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": "ann@one.test", "name": "Ann"}, {"email": "bob@two.test", "name": "Bob"},
         {"email": "not an address", "name": "Nobody"}, {"email": "ann@ONE.test", "name": "Ann again"}],
        campaign="winter"))
    assert status == 201, body
    assert body["campaign"] == "winter"
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 1, 1), body
    assert body["rejected_rows"][0]["index"] == 2, body
    assert body["rejected_rows"][0]["email"] == "not an address"
    assert body["rejected_rows"][0]["reason"], body
    assert sorted(recorded(s, 2)) == ["ann@one.test", "bob@two.test"]
    done = wait_finished(svc, "winter")
    assert (done["accepted"], done["queued"], done["failed"]) == (2, 0, 0), done
    # The status page knows the size of a campaign that arrived while the service ran.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{svc.admin_port}/status", timeout=10) as r:
            status_json = json.loads(r.read())
        row = next((c for c in status_json["campaigns"] if c["id"] == "winter"), None)
        if row and row["delivered"] == 2:
            break
        time.sleep(0.2)
    assert row and row["total"] == 2 and row["progress"] == 1.0, status_json["campaigns"]

    # The same id again: idempotent (200, nothing queued twice). The queue has run empty; a new campaign that
    # arrives now is delivered all the same.
    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": "ann@one.test", "name": "Ann"}, {"email": "bob@two.test", "name": "Bob"},
         {"email": "not an address", "name": "Nobody"}, {"email": "ann@ONE.test", "name": "Ann again"}],
        campaign="winter"))
    assert status == 200 and body["already_queued"], body
    time.sleep(1.5)
    status, body = svc.call("POST", "/api/v1/campaigns", campaign([{"email": f"r{i}@three.test", "name": f"R{i}"}
                                                                   for i in range(50)]))
    assert status == 201 and body["accepted"] == 50, body
    assert len(recorded(s, 52)) == 52
    status, q = svc.call("GET", "/api/v1/queue")
    assert status == 200 and q["queued"] == 0, q

    # The suppression list, live: added, read, honoured by the next campaign, removed.
    status, body = svc.call("POST", "/api/v1/suppressions", {"addresses": ["Gone@Four.test"], "reason": "asked"})
    assert (status, body) == (200, {"added": 1})
    assert svc.call("GET", "/api/v1/suppressions?address=gone%40four.test")[1]["suppressed"] is True
    listed = svc.call("GET", "/api/v1/suppressions")[1]["suppressions"]
    assert [e["address"] for e in listed] == ["gone@four.test"], listed
    status, body = svc.call("POST", "/api/v1/campaigns", campaign([{"email": "gone@four.test", "name": "G"},
                                                                   {"email": "kept@four.test", "name": "K"}]))
    assert status == 201 and (body["accepted"], body["suppressed"]) == (1, 1), body
    assert svc.call("DELETE", "/api/v1/suppressions/gone%40four.test")[1]["removed"] == 1
    assert svc.call("GET", "/api/v1/suppressions?address=gone%40four.test")[1]["suppressed"] is False
    assert "kept@four.test" in recorded(s, 53)

    assert svc.stop() == 0, svc.output()
    events = svc.events()
    assert events[0]["event"] == "start" and events[0]["queue"] == str(svc.queue), events[0]
    queued = [e for e in events if e["event"] == "campaign_queued"]
    assert [e["campaign"] for e in queued][0] == "winter" and queued[0]["accepted"] == 2, queued
    assert any(e["event"] == "suppressions_added" and e["count"] == 1 for e in events), events
    assert events[-1]["event"] == "stop" and events[-1]["delivered"] == 53 and events[-1]["queued"] == 0, events[-1]
    assert all(e["ts"].endswith("Z") for e in events)


def test_bad_requests_name_the_field(tmp_path, sink, service):
    s = sink()
    svc = service(s.port, "--api-max-body", "1")
    cases = [
        (b"{not json", 400, ""),
        (json.dumps({"recipients": [{"email": "a@x.test"}]}).encode(), 400, "message"),
        (json.dumps(campaign([{"email": "a@x.test", "name": {"first": "A"}}])).encode(), 400, "recipients[0].name"),
        (json.dumps(campaign([{"email": "a@x.test"}], verp="yes")).encode(), 400, "verp"),
        (json.dumps(campaign([{"email": "a@x.test"}], sender="not an address")).encode(), 400, "sender"),
        (json.dumps({"message": "no header block at all", "recipients": [{"email": "a@x.test"}]}).encode(), 400,
         "message"),
    ]
    for raw, code, field in cases:
        status, body = svc.call("POST", "/api/v1/campaigns", raw=raw)
        assert status == code, (raw, status, body)
        assert isinstance(body, dict) and body.get("field", "") == field and body["error"], (raw, body)
    # A column the message uses that the recipients lack: named, nothing queued.
    status, body = svc.call("POST", "/api/v1/campaigns", raw=json.dumps(
        {"message": MESSAGE, "recipients": [{"email": "a@x.test"}]}).encode())
    assert status == 400 and "name" in body["error"] and body["field"] == "recipients", body
    big = json.dumps(campaign([{"email": f"u{i}@big.test", "name": "x" * 20} for i in range(40_000)])).encode()
    assert len(big) > 1 << 20
    assert svc.call("POST", "/api/v1/campaigns", raw=big)[0] == 413
    assert svc.call("GET", "/api/v1/campaigns/nosuch")[0] == 404
    assert svc.call("PUT", "/api/v1/campaigns")[0] == 405
    assert svc.call("GET", "/api/v1/nothing")[0] == 404
    assert svc.call("POST", "/api/v1/suppressions", {"addresses": ["ok@x.test", "bad"]})[1]["field"] == "addresses[1]"
    assert svc.call("GET", "/api/v1/queue")[1]["queued"] == 0  # nothing of the above was queued
    assert svc.stop() == 0


def test_a_campaign_answered_201_survives_kill_9(tmp_path, sink, service):
    # The first service's smart host never answers: the recipients are in flight, not delivered, when the service
    # is killed right after the API's answer. The next start, with a working smart host, delivers every one.
    silent = sink("*:never-answer")
    svc = service(silent.port)
    status, body = svc.call("POST", "/api/v1/campaigns", campaign([{"email": f"k{i}@kill.test", "name": "K"}
                                                                   for i in range(20)], campaign="k9"))
    assert status == 201 and body["accepted"] == 20, body
    assert svc.stop(signal.SIGKILL) == -signal.SIGKILL
    good = sink()
    again = service(good.port, queue=svc.queue)
    assert sorted(recorded(good, 20)) == sorted(f"k{i}@kill.test" for i in range(20))
    assert wait_finished(again, "k9")["queued"] == 0
    assert again.stop() == 0


def test_serve_refuses_an_api_without_a_good_token(tmp_path, sink):
    s = sink()
    base = [ringmta_bin(), "serve", "--queue", tmp_path / "q", "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none",
            "--admin", "none", "--api-listen", f"127.0.0.1:{free_port()}"]
    p = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--api-token-file" in p.stderr, p.stderr
    short = tmp_path / "short"
    short.write_text("abc\n")
    p = subprocess.run([*base, "--api-token-file", short], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "only 3 characters" in p.stderr and "openssl rand" in p.stderr, p.stderr


def delivered_to(sink) -> list[str]:
    return sink.record.read_text().split() if sink.record.exists() else []


def test_pause_resume_cancel_campaigns_and_domains(tmp_path, sink, service):
    # slow.test answers each RCPT after 100 ms over one connection: a campaign there takes seconds, long enough
    # to pause and cancel it while it runs.
    s = sink("slow.test:delay-ms=100")
    svc = service(s.port, "--max-connections", "1")

    # A paused domain: its recipients wait, the others go; resumed, they go too.
    assert svc.call("POST", "/api/v1/domains/Held.test/pause") == (200, {"domain": "held.test", "state": "paused"})
    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": f"h{i}@held.test", "name": "H"} for i in range(5)] +
        [{"email": f"f{i}@free.test", "name": "F"} for i in range(5)], campaign="mixed"))
    assert status == 201, body
    assert sorted(recorded(s, 5)) == sorted(f"f{i}@free.test" for i in range(5))
    time.sleep(1.5)
    assert len(delivered_to(s)) == 5, delivered_to(s)
    assert svc.call("GET", "/api/v1/queue")[1]["paused_domains"] == ["held.test"]
    assert svc.call("GET", "/api/v1/campaigns/mixed")[1]["queued"] == 5
    assert svc.call("POST", "/api/v1/domains/held.test/resume")[0] == 200
    assert len(recorded(s, 10)) == 10

    # A paused campaign keeps its recipients, also across a restart of the service, and resumes where it stopped.
    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": f"p{i}@slow.test", "name": "P"} for i in range(40)], campaign="slow"))
    assert status == 201, body
    status, body = svc.call("POST", "/api/v1/campaigns/slow/pause")
    assert status == 200 and body["state"] == "paused", body
    time.sleep(1.5)  # what was on its way when the pause came is delivered; nothing after
    sent = len(delivered_to(s)) - 10
    time.sleep(1.5)
    assert len(delivered_to(s)) - 10 == sent < 40, delivered_to(s)
    progress = svc.call("GET", "/api/v1/campaigns/slow")[1]
    assert progress["state"] == "paused" and progress["queued"] == 40 - sent, progress
    assert svc.stop() == 0
    svc = service(s.port, "--max-connections", "1", queue=svc.queue)
    time.sleep(1.5)
    assert len(delivered_to(s)) - 10 == sent, "a paused campaign was sent after a restart"
    assert svc.call("POST", "/api/v1/campaigns/slow/resume")[1]["state"] == "active"
    assert len(recorded(s, 50, timeout=60)) == 50
    assert wait_finished(svc, "slow", timeout=60)["state"] == "active"

    # A cancelled campaign: what was not yet sent is removed, never sent; it cannot be resumed.
    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": f"c{i}@slow.test", "name": "C"} for i in range(40)], campaign="gone"))
    assert status == 201, body
    status, body = svc.call("POST", "/api/v1/campaigns/gone/cancel")
    assert status == 200 and body["state"] == "cancelled" and body["removed"] > 0, body
    done = wait_finished(svc, "gone")
    assert done["state"] == "cancelled" and done["queued"] == 0, done
    time.sleep(1)
    cancelled_sent = len(delivered_to(s)) - 50
    assert cancelled_sent < 40 - body["removed"] + 5, (cancelled_sent, body)
    assert svc.call("POST", "/api/v1/campaigns/gone/resume")[0] == 409
    status, body = svc.call("POST", "/api/v1/campaigns", campaign([{"email": "late@slow.test", "name": "L"}],
                                                                  campaign="gone"))
    assert status == 409 and body["field"] == "campaign" and "cancelled" in body["error"], body
    assert svc.call("POST", "/api/v1/campaigns/nosuch/pause")[0] == 404
    assert svc.call("POST", "/api/v1/campaigns/gone/restart")[0] == 404
    assert svc.call("GET", "/api/v1/campaigns/gone/pause")[0] == 405
    assert svc.stop() == 0


def test_the_api_request_rate_is_limited(tmp_path, sink, service):
    s = sink()
    svc = service(s.port, "--api-max-requests", "5/second")
    codes = [svc.call("GET", "/api/v1/queue", token=t)[0] for t in [TOKEN, "wrong-token-wrong-token"] * 6]
    assert codes.count(429) >= 5 and set(codes) <= {200, 401, 429}, codes  # a wrong token counts too
    status, body = svc.call("GET", "/api/v1/queue")
    assert status == 429 and "5/second" in body["error"], body
    time.sleep(1.2)
    assert svc.call("GET", "/api/v1/queue")[0] == 200
    assert svc.stop() == 0


def test_suppress_and_queue_reach_a_running_service(tmp_path, sink, service):
    s = sink()
    svc = service(s.port)

    def rm(*args):
        return subprocess.run([ringmta_bin(), *map(str, args)], capture_output=True, text=True, timeout=60)

    p = rm("suppress", "add", "--queue", svc.queue, "Blocked@Five.test", "--reason", "complained")
    assert p.returncode == 0 and "1 address suppressed" in p.stdout, p.stdout + p.stderr
    (tmp_path / "import.txt").write_text("email\nimp1@five.test\nnot-an-address\nimp2@five.test\n")
    p = rm("suppress", "import", "--queue", svc.queue, tmp_path / "import.txt")
    assert p.returncode == 1 and "2 addresses imported, 1 line skipped" in p.stdout, p.stdout + p.stderr
    p = rm("suppress", "list", "--queue", svc.queue)
    assert p.returncode == 0, p.stderr
    rows = [line.split(",") for line in p.stdout.splitlines()[1:]]
    assert sorted(r[0] for r in rows) == ["blocked@five.test", "imp1@five.test", "imp2@five.test"], p.stdout
    assert svc.call("GET", "/api/v1/suppressions?address=imp2%40five.test")[1]["suppressed"] is True
    p = rm("suppress", "remove", "--queue", svc.queue, "imp1@five.test")
    assert p.returncode == 0 and "1 of 1 removed" in p.stdout, p.stdout + p.stderr

    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": "blocked@five.test", "name": "B"}, {"email": "ok@five.test", "name": "O"}], campaign="five"))
    assert status == 201 and body["suppressed"] == 1, body
    assert recorded(s, 1) == ["ok@five.test"]
    wait_finished(svc, "five")
    p = rm("queue", "--queue", svc.queue)
    assert p.returncode == 0 and "held by ringmta serve" in p.stdout and "0 recipients" in p.stdout, p.stdout + p.stderr
    p = rm("queue", "--queue", svc.queue, "--campaign", "five", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["accepted"] == 1, p.stdout + p.stderr
    p = rm("queue", "flush", "five.test", "--queue", svc.queue)  # through POST /api/v1/queue/flush
    assert p.returncode == 0 and "0 deferred recipients due now for five.test" in p.stdout, p.stdout + p.stderr
    assert any(e["event"] == "queue_flushed" and e["domain"] == "five.test" for e in svc.events()), svc.output()
    p = rm("queue", "drop", "--queue", svc.queue, "--campaign", "five")
    assert p.returncode == 2 and "held by ringmta serve" in p.stderr and "cancel" in p.stderr, p.stderr

    assert svc.stop() == 0
    assert not (svc.queue / "ringmta-service.json").exists()
    p = rm("suppress", "list", "--queue", svc.queue)  # the queue itself again, now that it is free
    assert p.returncode == 0 and "blocked@five.test" in p.stdout and "imp1" not in p.stdout, p.stdout


def test_the_log_says_what_a_route_meets(tmp_path, sink, service):
    s = sink("grey.test:rcpt-4xx=100")
    svc = service(s.port)
    status, body = svc.call("POST", "/api/v1/campaigns", campaign([{"email": "g@grey.test", "name": "G"}]))
    assert status == 201, body
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(e["event"] == "route_refusal" for e in svc.events()):
        time.sleep(0.2)
    refusal = next(e for e in svc.events() if e["event"] == "route_refusal")
    assert refusal["route"] == f"127.0.0.1:{s.port}" and refusal["reply"].startswith("4"), refusal
    assert svc.stop() == 0
    assert svc.events()[-1]["event"] == "stop" and svc.events()[-1]["queued"] == 1
    # Not a line of text among the JSON (the admin listener's address is in the start event).
    lines = svc.output().splitlines()
    assert lines and all(line.startswith("{") for line in lines), lines[:5]
    assert svc.events()[0]["event"] == "start" and svc.events()[0]["admin"].startswith("http://")


def test_send_hands_its_campaign_to_a_running_service(tmp_path, sink, service):
    s = sink()
    svc = service(s.port)
    message = tmp_path / "m.eml"
    message.write_text("From: News <news@example.org>\nSubject: Hi {{name}}\n\nDear {{name}}\n")
    csv = tmp_path / "list.csv"
    csv.write_text("email,name\none@six.test,One\nnot an address,Bad\ntwo@six.test,Two,extra\nthree@six.test,Three\n")
    p = subprocess.run([ringmta_bin(), "send", "--queue", svc.queue, "--message", message, "--recipients", csv,
                        "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none", "--admin", "none",
                        "--campaign", "viacli"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "held by ringmta serve" in p.stderr and "queued 2 recipients (2 rows rejected" in p.stderr, p.stderr
    rejects = (tmp_path / "list.csv.rejects.csv").read_text().splitlines()
    assert rejects[0] == "line,reason,email" and sorted(r.split(",")[0] for r in rejects[1:]) == ["3", "4"], rejects
    assert sorted(recorded(s, 2)) == ["one@six.test", "three@six.test"]
    assert wait_finished(svc, "viacli")["accepted"] == 2
    assert svc.stop() == 0


def test_report_reaches_a_running_service(tmp_path, sink, service):
    # `ringmta report` on a queue the service holds asks its API (GET campaigns/ID/report and /bounces): the same
    # counts and CSV as from the queue itself once the service has stopped.
    s = sink("gone.test:rcpt-5xx=100")
    svc = service(s.port, "--bounce-mode", "none")
    status, body = svc.call("POST", "/api/v1/campaigns", campaign(
        [{"email": f"x{i}@gone.test", "name": "X"} for i in range(3)] + [{"email": "ok@fine.test", "name": "O"}],
        campaign="rep"))
    assert status == 201, body
    wait_finished(svc, "rep")

    def rm(*args):
        return subprocess.run([ringmta_bin(), *map(str, args)], capture_output=True, text=True, timeout=60)

    live = rm("report", "--queue", svc.queue, "--campaign", "rep", "--json")
    assert live.returncode == 0, live.stdout + live.stderr
    counts = json.loads(live.stdout)
    assert counts["failed"] == 3 and counts["hard"] == 3 and sum(counts["by_category"].values()) == 3, counts
    text = rm("report", "--queue", svc.queue, "--campaign", "rep")
    assert text.returncode == 0 and "campaign rep: 3 permanent failures (3 hard)" in text.stdout, text.stdout
    csv_file = tmp_path / "bounces.csv"
    live_csv = rm("report", "--queue", svc.queue, "--campaign", "rep", "--bounces", "--output", csv_file)
    assert live_csv.returncode == 0 and "3 bounced recipients of campaign rep" in live_csv.stderr, live_csv.stderr
    rows = csv_file.read_text().splitlines()
    assert rows[0] == "recipient,category,hard,reply,time" and sorted(r.split(",")[0] for r in rows[1:]) == [
        "x0@gone.test", "x1@gone.test", "x2@gone.test"], rows
    unknown = rm("report", "--queue", svc.queue, "--campaign", "nope")
    assert unknown.returncode == 2 and "404" in unknown.stderr, unknown.stderr
    assert svc.stop() == 0
    offline = rm("report", "--queue", svc.queue, "--campaign", "rep", "--json")
    assert offline.returncode == 0 and json.loads(offline.stdout) == counts, offline.stdout + offline.stderr
    offline_csv = rm("report", "--queue", svc.queue, "--campaign", "rep", "--bounces")
    assert offline_csv.stdout.splitlines() == rows


def test_the_api_over_https(tmp_path, sink, service):
    # --api-tls-cert/--api-tls-key: the API speaks HTTPS only; applications verify its certificate, and the
    # commands that reach a running service (suppress, report, ...) pin the very certificate the service uses.
    import ssl
    from mailstack import make_certificate
    cert, key = make_certificate(tmp_path)
    s = sink()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    port = free_port()
    log = open(tmp_path / "https.log", "w")
    proc = subprocess.Popen([ringmta_bin(), "serve", "--queue", tmp_path / "q", "--smarthost", f"127.0.0.1:{s.port}",
                             "--tls", "none", "--ehlo", "test.example.org", "--admin", "none", "--api-listen",
                             f"127.0.0.1:{port}", "--api-token-file", token_file, "--api-tls-cert", cert,
                             "--api-tls-key", key], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, 30, proc, "ringmta serve")
        context = ssl.create_default_context(cafile=str(cert))
        req = urllib.request.Request(f"https://127.0.0.1:{port}/api/v1/campaigns", method="POST",
                                     data=json.dumps(campaign([{"email": "tls@api.test", "name": "T"}],
                                                              campaign="tls")).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30, context=context) as r:
            assert r.status == 201 and json.loads(r.read())["accepted"] == 1
        assert recorded(s, 1) == ["tls@api.test"]
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(f"https://127.0.0.1:{port}/api/v1/queue"), timeout=30,
                                   context=context)
        assert e.value.code == 401
        with pytest.raises(Exception):  # plain HTTP is not answered as HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/queue", timeout=5)
        p = subprocess.run([ringmta_bin(), "suppress", "add", "--queue", tmp_path / "q", "gone@api.test"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        p = subprocess.run([ringmta_bin(), "report", "--queue", tmp_path / "q", "--campaign", "tls", "--json"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and json.loads(p.stdout)["failed"] == 0, p.stdout + p.stderr
        # A certificate that is not the service's is refused by the commands.
        other_dir = tmp_path / "other"
        other_dir.mkdir()
        other, _ = make_certificate(other_dir)
        service_file = tmp_path / "q" / "ringmta-service.json"
        noted = json.loads(service_file.read_text())
        service_file.write_text(json.dumps({**noted, "tls_cert": str(other)}))
        p = subprocess.run([ringmta_bin(), "suppress", "list", "--queue", tmp_path / "q"], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode != 0 and "is not the one in" in p.stderr, p.stdout + p.stderr
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
