"""/status, /metrics and the status page while a `send` runs through a scripted `ringmta sink` (smart-host mode,
clear text, 127.0.0.1 only): each domain's state says what happened to it — waiting (taken, no answer yet), failing,
deferred, delivered — the route shows its configured rate, the queue when the next retry is due, the header's and
the campaign's counts agree; the metrics count failures and deferrals by reply category and every reply by stage
and class; a smart host that answers 421 to every session is shown backing off, with until when. Headless
Chromium renders the page: the states, the rate limit, sizes in binary units, a time axis."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ringmta_bin
from mailstack import free_port
from misbehaving_smtp import MisbehavingSmtp


class Send:
    """`ringmta send` to the sink with an admin listener, polled while it runs; stop() ends it with Ctrl-C."""

    def __init__(self, tmp_path: Path, sink_port: int, domains: dict[str, int], throttle: str):
        self.port = free_port((socket.AF_INET,))
        self.base = f"http://127.0.0.1:{self.port}"
        (tmp_path / "m.eml").write_text("From: a@sender.test\nSubject: s {{name}}\n\nhi {{name}}\n")
        rows = [f"u{i}@{d},N{i}\n" for d, n in domains.items() for i in range(n)]
        (tmp_path / "l.csv").write_text("email,name\n" + "".join(rows))
        (tmp_path / "throttle.toml").write_text(throttle)
        self.stderr_path = tmp_path / "send.stderr"
        self.proc = subprocess.Popen(
            [ringmta_bin(), "send", "--message", tmp_path / "m.eml", "--recipients", tmp_path / "l.csv",
             "--queue", tmp_path / "q", "--smarthost", f"127.0.0.1:{sink_port}", "--tls", "none", "--no-progress",
             "--admin", f"127.0.0.1:{self.port}", "--throttle-file", tmp_path / "throttle.toml",
             "--retry-after", "600", "--campaign", "news"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.stderr_path, "w"),
            start_new_session=True)

    def get(self, page: str) -> str:
        with urllib.request.urlopen(self.base + page, timeout=5) as r:
            return r.read().decode()

    def status(self) -> dict:
        return json.loads(self.get("/status"))

    def wait_for(self, what: str, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"send exited {self.proc.returncode}: {self.stderr_path.read_text()}"
            try:
                last = self.status()
                if predicate(last):
                    return last
            except OSError as e:
                last = e
            time.sleep(0.3)
        pytest.fail(f"timed out waiting for {what}; last /status: {json.dumps(last)[:3000]}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                pytest.fail("send did not stop within 30 s of Ctrl-C")


@pytest.fixture
def start_send(tmp_path):
    sends: list[Send] = []

    def start(*args) -> Send:
        s = Send(tmp_path, *args)
        sends.append(s)
        return s
    yield start
    for s in sends:
        s.stop()


def domains_of(status: dict) -> dict:
    return {d["domain"]: d for d in status["domains"]}


def chromium_dom(url: str, profile: Path) -> str:
    if shutil.which("chromium") is None:
        pytest.skip("chromium not installed (tools/install-deps installs it)")
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                        f"--user-data-dir={profile}", "--window-size=1200,900", "--virtual-time-budget=4000",
                        "--dump-dom", url], capture_output=True, text=True, timeout=90)
    return r.stdout


def test_domain_states_limits_next_retry_and_metrics_by_category_and_reply_class(tmp_path, sink, start_send):
    sk = sink("fail.test:rcpt-5xx=100", "grey.test:rcpt-4xx=100", "hole.test:never-answer")
    send = start_send(sk.port, {"ok.test": 40, "fail.test": 20, "grey.test": 10, "hole.test": 3},
                      # One message a connection: hole.test's hanging RCPTs hold up no other domain's.
                      "[default]\nmessages_per_second = 200\nmax_connections = 4\n"
                      "max_messages_per_connection = 1\n")

    def settled(s: dict) -> bool:
        d = domains_of(s)
        return all(x in d for x in ("ok.test", "fail.test", "grey.test", "hole.test")) and \
            d["ok.test"]["delivered"] == 40 and d["fail.test"]["failed"] == 20 and d["grey.test"]["deferred"] == 10
    s = send.wait_for("every answered domain's outcomes", settled)
    d = domains_of(s)
    # hole.test's RCPTs were sent and never answered: taken, in progress, no outcome.
    assert d["hole.test"]["state"] == "waiting" and d["hole.test"]["in_progress"] == 3, d["hole.test"]
    assert d["fail.test"]["state"] == "failing", d["fail.test"]
    assert d["grey.test"]["state"] == "deferred" and d["grey.test"]["in_progress"] == 0, d["grey.test"]
    assert d["ok.test"]["state"] == "delivered" and d["ok.test"]["in_progress"] == 0, d["ok.test"]
    route = s["routes"][0]
    assert route["name"] == f"127.0.0.1:{sk.port}" and route["state"] == "open", route
    assert route["limits"]["messages_per_second"] == 200 and route["limits"]["messages_per_hour"] is None, route
    # The ten deferrals are due again after --retry-after 600 (give or take the schedule's jitter).
    assert 400 <= s["queue"]["next_retry_at"] - s["at"] <= 800, s["queue"]
    # The header's counts are the campaigns' counts.
    news = next(c for c in s["campaigns"] if c["id"] == "news")
    assert (news["delivered"], news["failed"], news["deferred"]) == \
        (s["totals"]["delivered"], s["totals"]["failed"], s["totals"]["deferred"]) == (40, 20, 10), s

    metrics = send.get("/metrics")
    assert 'ringmta_recipients_failed_total{reason="permanent",category="invalid_recipient"} 20\n' in metrics
    assert 'ringmta_recipients_deferred_total{category="invalid_recipient"} 10\n' in metrics
    assert 'ringmta_smtp_replies_total{stage="rcpt",class="5xx"} 20\n' in metrics
    assert 'ringmta_smtp_replies_total{stage="rcpt",class="4xx"} 10\n' in metrics
    rcpt_ok = re.search(r'ringmta_smtp_replies_total\{stage="rcpt",class="2xx"\} (\d+)\n', metrics)
    assert rcpt_ok and int(rcpt_ok.group(1)) == 40, metrics  # hole.test's three were never answered
    greetings = re.search(r'ringmta_smtp_replies_total\{stage="greeting",class="2xx"\} (\d+)\n', metrics)
    assert greetings and int(greetings.group(1)) >= 1

    dom = chromium_dom(send.base + "/", tmp_path / "chromium")
    for domain, state in (("hole.test", "waiting"), ("fail.test", "failing"), ("grey.test", "deferred"),
                          ("ok.test", "delivered")):
        assert re.search(rf'<tr class="domain" data-domain="{re.escape(domain)}" data-state="{state}">', dom), \
            f"{domain} not shown {state}\n{dom[:4000]}"
    assert re.search(r'<tr class="route"[^>]*data-state="open">.*?<td[^>]*>200/s</td>', dom, re.S), dom[:4000]
    assert re.search(r"<td[^>]*>\d[\d.]* (B|KiB|MiB|GiB)</td>", dom), "sizes in binary units"
    assert re.search(r"<td>next retry</td><td>\d\d:\d\d:\d\d \(in \d+ min\)</td>", dom), dom[:4000]
    axis = re.search(r'<canvas id="chart"[^>]*data-axis="([^"]+)"', dom)
    assert axis and re.fullmatch(r"\d\d:\d\d( \d\d:\d\d)*", axis.group(1)), "the chart has a time axis"


def test_a_smart_host_answering_421_to_every_session_is_shown_backing_off_until_when(tmp_path, start_send):
    with MisbehavingSmtp("greeting", "421 4.7.0 Too busy, come back later") as server:
        send = start_send(server.port, {"busy.test": 30}, "[default]\nmax_connections = 2\n")
        s = send.wait_for("the route to back off",
                          lambda s: s["routes"] and s["routes"][0]["state"] == "backing off")
        route = s["routes"][0]
        # Three sessions in a row got 421: 15 s first.
        assert 5 <= route["backing_off_until"] - s["at"] <= 16, route
        assert any(e["change"] == "backing off" for e in s["throttle_events"]), s["throttle_events"]
        dom = chromium_dom(send.base + "/", tmp_path / "chromium")
        assert re.search(r'<tr class="route"[^>]*data-state="backing off"><td>[^<]*</td>'
                         r'<td class="backing-off">backing off until \d\d:\d\d:\d\d</td>', dom), dom[:4000]
