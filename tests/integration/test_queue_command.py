"""`ringmta queue` on real queues, without Postfix: recipients are left deferred by a `send` to a closed port
(--retry-after 600), then listed (counts by state and domain, oldest deferred with the last reply, one
campaign's counts), flushed (all or one domain) and delivered by `run` to `ringmta sink`, or dropped by
campaign; a queue held by a running `send` is refused with exit 2. Only 127.0.0.1; a few seconds in all.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import parse_json, ringmta_bin  # noqa: E402
from mailstack import free_port  # noqa: E402


def rm(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    p = subprocess.run([ringmta_bin(), *map(str, args)], capture_output=True, text=True, errors="replace",
                       timeout=timeout, stdin=subprocess.DEVNULL)
    p.json = parse_json(p.stdout)
    return p


def show(p: subprocess.CompletedProcess) -> str:
    return f"$ {' '.join(p.args)}\nexit {p.returncode}\n--- stdout\n{p.stdout[-3000:]}\n--- stderr\n{p.stderr[-3000:]}"


class QueueJob:
    def __init__(self, tmp: Path):
        self.dir = tmp
        self.queue = tmp / "queue"
        self.message = tmp / "m.eml"
        self.message.write_text("From: a@sender.test\nSubject: s {{name}}\n\nhi {{name}}\n")
        self.lists = 0

    def send(self, addresses: list[str], campaign: str, *route) -> subprocess.CompletedProcess:
        """Queues the addresses under `campaign`; without a route they go to a closed port and stay deferred."""
        self.lists += 1
        csv = self.dir / f"list{self.lists}.csv"
        csv.write_text("email,name\n" + "".join(f"{a},N{i}\n" for i, a in enumerate(addresses)))
        if not route:
            route = ("--smarthost", f"127.0.0.1:{free_port((__import__('socket').AF_INET,))}")
        p = rm("send", "--message", self.message, "--recipients", csv, "--queue", self.queue, "--campaign",
               campaign, "--tls", "none", "--json", "--no-progress", "--admin", "none", "--retry-after", "600",
               *route)
        return p

    def queue_cmd(self, *args) -> subprocess.CompletedProcess:
        return rm("queue", *args, "--queue", self.queue)


@pytest.fixture
def qjob(tmp_path) -> QueueJob:
    return QueueJob(tmp_path)


def addrs(domain: str, n: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i}@{domain}" for i in range(n)]


def deferred_queue(qjob: QueueJob) -> None:
    r = qjob.send(addrs("big.test", 30) + addrs("small.test", 5), "spring")
    assert r.returncode == 3 and r.json and r.json["deferred"] == 35, show(r)
    r = qjob.send(addrs("mid.test", 12, "w"), "autumn")
    assert r.returncode == 3 and r.json and r.json["queued"] == 47, show(r)  # the whole queue


def test_listing_counts_domains_and_oldest_deferred(qjob):
    deferred_queue(qjob)
    r = qjob.queue_cmd("--json", "--oldest", "3")
    assert r.returncode == 0 and r.json, show(r)
    j = r.json
    assert (j["total"], j["ready"], j["deferred"], j["domain_count"]) == (47, 0, 47, 3), j
    assert [(d["domain"], d["deferred"]) for d in j["domains"]] == [("big.test", 30), ("mid.test", 12),
                                                                      ("small.test", 5)]
    assert j["next_due"] >= j["now"] + 590
    assert len(j["oldest_deferred"]) == 3
    for e in j["oldest_deferred"]:
        assert e["campaign"] == "spring" and e["attempts"] >= 1 and e["due"] > j["now"], e
        assert "Connection refused" in e["last_reply"] or "cannot connect" in e["last_reply"], e
    # --top; the text form
    r = qjob.queue_cmd("--top", "1", "--json")
    assert [d["domain"] for d in r.json["domains"]] == ["big.test"] and r.json["domain_count"] == 3
    r = qjob.queue_cmd("--top", "2")
    assert r.returncode == 0, show(r)
    assert "47 recipients: 0 ready now, 47 deferred" in r.stdout, show(r)
    assert "domains (top 2 of 3)" in r.stdout and "mid.test" in r.stdout and "small.test" not in \
        r.stdout.split("oldest deferred")[0], show(r)
    assert "last reply: 451" in r.stdout, show(r)


def test_campaign_counts(qjob):
    deferred_queue(qjob)
    r = qjob.queue_cmd("--campaign", "spring", "--json")
    assert r.returncode == 0 and r.json, show(r)
    assert (r.json["known"], r.json["queued"], r.json["ready"], r.json["deferred"]) == (True, 35, 0, 35)
    r = qjob.queue_cmd("--campaign", "autumn")
    assert r.returncode == 0 and "campaign autumn: 12 queued (0 ready now, 12 deferred)" in r.stdout, show(r)
    r = qjob.queue_cmd("--campaign", "never", "--json")
    assert r.returncode == 0 and r.json["known"] is False and r.json["queued"] == 0, show(r)


def test_flush_one_domain_then_all_and_run_delivers(qjob, sink):
    deferred_queue(qjob)
    r = qjob.queue_cmd("flush", "small.test", "--json")
    assert r.returncode == 0 and r.json == {"flushed": 5, "domain": "small.test"}, show(r)
    r = qjob.queue_cmd("--json")
    assert (r.json["ready"], r.json["deferred"]) == (5, 42), show(r)
    sk = sink()
    port, record = sk.port, sk.record
    route = ("--smarthost", f"127.0.0.1:{port}", "--tls", "none", "--admin", "none")
    r = rm("run", "--queue", qjob.queue, "--json", "--no-progress", *route)
    assert r.returncode == 3 and r.json and r.json["delivered"] == 5 and r.json["queued"] == 42, show(r)
    r = qjob.queue_cmd("flush")
    assert r.returncode == 0 and "42 deferred recipients due now" in r.stdout, show(r)
    r = rm("run", "--queue", qjob.queue, "--json", "--no-progress", *route)
    assert r.returncode == 0 and r.json["delivered"] == 42 and r.json["queued"] == 0, show(r)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(record.read_text().split() if record.exists() else []) < 47:
        time.sleep(0.05)
    got = record.read_text().split()
    assert sorted(got) == sorted(addrs("big.test", 30) + addrs("small.test", 5) + addrs("mid.test", 12, "w"))
    r = qjob.queue_cmd("--json")
    assert r.json["total"] == 0 and r.json["domains"] == [], show(r)
    r = qjob.queue_cmd("flush", "--json")
    assert r.json == {"flushed": 0, "domain": None}, show(r)


def test_queue_only_needs_no_route_then_run_delivers(qjob, sink):
    csv = qjob.dir / "list.csv"
    csv.write_text("email,name\n" + "".join(f"{a},N{i}\n" for i, a in enumerate(addrs("later.test", 20))))
    r = rm("send", "--queue-only", "--message", qjob.message, "--recipients", csv, "--queue", qjob.queue,
           "--campaign", "held", "--json")
    assert r.returncode == 0 and r.json and r.json["queued"] == 20 and r.json["campaign"] == "held", show(r)
    assert "delivered" not in r.json, show(r)
    r = qjob.queue_cmd("--json")
    assert (r.json["ready"], r.json["deferred"]) == (20, 0), show(r)
    sk = sink()
    port, record = sk.port, sk.record
    r = rm("run", "--queue", qjob.queue, "--json", "--no-progress", "--smarthost", f"127.0.0.1:{port}", "--tls",
           "none", "--admin", "none")
    assert r.returncode == 0 and r.json["delivered"] == 20 and r.json["queued"] == 0, show(r)


def test_drop_campaign(qjob):
    deferred_queue(qjob)
    r = qjob.queue_cmd("drop", "--campaign", "spring")
    assert r.returncode == 0 and "dropped 35 recipients of campaign spring" in r.stdout, show(r)
    r = qjob.queue_cmd("--json")
    assert r.json["total"] == 12 and [d["domain"] for d in r.json["domains"]] == ["mid.test"], show(r)
    r = qjob.queue_cmd("--campaign", "spring", "--json")
    assert r.json["known"] is False and r.json["queued"] == 0, show(r)
    r = qjob.queue_cmd("drop", "--campaign", "spring", "--json")
    assert r.returncode == 0 and r.json == {"dropped": 0, "campaign": "spring"}, show(r)


def test_a_queue_held_by_a_running_send_is_refused(qjob, sink):
    port = sink("hole.test:never-answer").port
    csv = qjob.dir / "hole.csv"
    csv.write_text("email,name\n" + "".join(f"{a},N\n" for a in addrs("hole.test", 3)))
    job = subprocess.Popen([ringmta_bin(), "send", "--message", str(qjob.message), "--recipients", str(csv),
                            "--queue", str(qjob.queue), "--smarthost", f"127.0.0.1:{port}", "--tls", "none",
                            "--no-progress", "--admin", "none", "--command-timeout", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        r = None
        while time.monotonic() < deadline and job.poll() is None:
            r = qjob.queue_cmd("--json")
            if r.returncode == 2 and "in use" in r.stderr:
                break
            time.sleep(0.1)
        assert job.poll() is None, "the send finished before the check"
        assert r is not None and r.returncode == 2, show(r) if r else "no queue command ran"
        assert "a job (ringmta send or ringmta run) is running on it" in r.stderr, show(r)
        for args in (("flush",), ("drop", "--campaign", "x")):
            r = qjob.queue_cmd(*args)
            assert r.returncode == 2 and "is running on it" in r.stderr, show(r)
        # The same plain words for `suppress list`, and only them: no raw RocksDB line before them.
        r = rm("suppress", "list", "--queue", qjob.queue)
        assert r.returncode == 2 and "is running on it" in r.stderr, show(r)
        assert "go through the running job" in r.stderr and "rocksdb:" not in r.stderr, show(r)
    finally:
        if job.poll() is None:
            job.send_signal(signal.SIGINT)
        job.communicate(timeout=30)
    r = qjob.queue_cmd("--json")
    assert r.returncode == 0 and r.json["total"] == 3, show(r)


def test_usage_errors(qjob, tmp_path):
    r = rm("queue", "--queue", tmp_path / "nothing-here")
    assert r.returncode == 2 and "no queue there" in r.stderr, show(r)
    assert not (tmp_path / "nothing-here").exists()
    r = rm("queue", "drop", "--queue", tmp_path / "nothing-here")
    assert r.returncode == 2 and "needs --campaign" in r.stderr, show(r)


def test_suppress_import_reads_the_email_column_and_names_bad_lines(tmp_path):
    # Long addresses (past the small-string buffer) and a column that is not the first: the address is
    # read from the CSV record in place, a bad line is reported with its line number and skipped.
    listing = tmp_path / "unsubscribed.csv"
    listing.write_text("name,email\n"
                       "Ann,ann.longer-than-sso@unsubscribed.example.test\n"
                       "Bob,not an address\n"
                       "Cy,Cy.Mixed@Unsubscribed.Example.Test\n")
    queue = tmp_path / "queue"
    imp = rm("suppress", "--queue", queue, "import", listing, "--reason", "list cleaning")
    assert imp.returncode == 1, show(imp)  # some lines skipped
    assert "2 addresses imported, 1 line skipped" in imp.stdout, show(imp)
    assert f"{listing}:3: 'not an address'" in imp.stderr, show(imp)
    listed = rm("suppress", "--queue", queue, "list", "--json")
    entries = sorted((e["address"], e["reason"]) for e in map(__import__("json").loads, listed.stdout.splitlines()))
    assert entries == [("ann.longer-than-sso@unsubscribed.example.test", "list cleaning"),
                       ("cy.mixed@unsubscribed.example.test", "list cleaning")], show(listed)


@pytest.mark.parametrize("hostname, warned", [("vm", True), ("mail.example.org", False)])
def test_a_host_name_that_is_not_a_domain_is_warned_about_without_ehlo(tmp_path, sink, hostname, warned):
    """Without --ehlo the EHLO name is the host's name; a bare `vm` would go out as `EHLO vm` with Message-IDs
    @vm.invalid, so `send` says so at start. The host name is set in a UTS namespace of the test's own."""
    s = sink()
    (tmp_path / "m.eml").write_text("From: a@sender.test\nSubject: s\n\nhi\n")
    (tmp_path / "l.csv").write_text("email\nx@dest.test\n")
    p = subprocess.run(["unshare", "--uts", "sh", "-c", f'hostname {hostname} && exec "$0" "$@"', ringmta_bin(),
                        "send", "--message", tmp_path / "m.eml", "--recipients", tmp_path / "l.csv", "--queue",
                        tmp_path / "queue", "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none", "--no-progress",
                        "--admin", "none"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    warning = f'warning: no --ehlo, and this host\'s name "{hostname}" is not a domain name'
    assert (warning in p.stderr) == warned, p.stderr
    if warned:
        assert "@vm.invalid" in p.stderr and "--ehlo mail.example.org" in p.stderr, p.stderr


def test_the_cli_words(tmp_path, sink):
    """What a user who mistypes meets: --version, "did you mean" for a command and a flag, why a file cannot be
    read, the columns of a CSV without `email` and its delimiter, an unknown campaign, no empty rejects file."""
    p = rm("--version")
    assert p.returncode == 0 and re.match(r"ringmta \d+\.\d+\.\d+ \(", p.stdout), show(p)
    p = rm()
    assert p.returncode == 2 and p.stderr.startswith("ringmta: high-throughput") and \
        "Usage: ringmta [OPTIONS] SUBCOMMAND" in p.stderr and "send" in p.stderr, show(p)
    p = rm("send", "--help")
    assert p.returncode == 0 and "Usage: ringmta send [OPTIONS]" in p.stdout, show(p)
    p = rm("sned")
    assert p.returncode == 2 and 'unknown command "sned"; did you mean "send"?' in p.stderr, show(p)
    p = rm("send", "--mesage", "m.eml", "--recipients", "l.csv")
    assert p.returncode == 2 and "--mesage: did you mean --message?" in p.stderr, show(p)
    s = sink()
    route = ["--smarthost", f"127.0.0.1:{s.port}", "--tls", "none", "--no-progress", "--admin", "none",
             "--ehlo", "mail.example.org"]
    p = rm("send", "--message", tmp_path / "nope.eml", "--recipients", tmp_path / "l.csv", "--queue",
           tmp_path / "q", *route)
    assert p.returncode == 2 and "nope.eml: cannot open the message (No such file or directory)" in p.stderr, show(p)
    (tmp_path / "m.eml").write_text("From: a@sender.test\nSubject: s\n\nhi\n")
    (tmp_path / "semi.csv").write_text("email;name\nx@dest.test;X\n")
    p = rm("send", "--message", tmp_path / "m.eml", "--recipients", tmp_path / "semi.csv", "--queue", tmp_path / "q",
           *route)
    assert p.returncode == 2 and 'no "email" column (found "email;name")' in p.stderr, show(p)
    assert "separated by ';'" in p.stderr, show(p)
    (tmp_path / "l.csv").write_text("email\nx@dest.test\n")
    p = rm("send", "--message", tmp_path / "m.eml", "--recipients", tmp_path / "l.csv", "--queue", tmp_path / "q",
           "--campaign", "real", *route)
    assert p.returncode == 0, show(p)
    assert not (tmp_path / "l.csv.rejects.csv").exists(), "no row was rejected: no rejects file"
    p = rm("report", "--queue", tmp_path / "q", "--campaign", "nosuch")
    assert p.returncode == 2 and "no such campaign" in p.stderr, show(p)
    p = rm("report", "--queue", tmp_path / "q", "--campaign", "real")
    assert p.returncode == 0, show(p)


def test_suppress_add_during_a_send_goes_through_the_job_and_withdraws_the_queued_recipient(qjob, sink):
    """While a `send` delivers (paced at 2 messages/s, so the list waits in its backlog), `ringmta suppress add`
    hands the address to the job: the job puts it on the list and withdraws that recipient before it is sent."""
    sk = sink()
    throttle = qjob.dir / "throttle.toml"
    throttle.write_text("[default]\nmessages_per_second = 2\nmessage_burst = 1\nmax_connections = 1\n")
    csv = qjob.dir / "paced.csv"
    csv.write_text("email,name\n" + "".join(f"{a},N\n" for a in addrs("paced.test", 10)))
    job = subprocess.Popen([ringmta_bin(), "send", "--message", str(qjob.message), "--recipients", str(csv),
                            "--queue", str(qjob.queue), "--smarthost", f"127.0.0.1:{sk.port}", "--tls", "none",
                            "--no-progress", "--admin", "none", "--json", "--throttle-file", str(throttle)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (qjob.queue / "suppress-inbox").is_dir():
            time.sleep(0.05)
        assert (qjob.queue / "suppress-inbox").is_dir(), "the job watches no inbox"
        target = addrs("paced.test", 10)[-1]
        r = rm("suppress", "add", target, "--reason", "asked by phone", "--queue", qjob.queue)
        assert r.returncode == 0 and "1 address suppressed" in r.stdout, show(r)
        out, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
            job.communicate()
    assert job.returncode == 0, err
    assert "1 address suppressed (ringmta suppress, during the job)" in err, err
    deadline = time.monotonic() + 5
    while True:  # the sink flushes its record every 100 ms
        got = sk.record.read_text().split() if sk.record.exists() else []
        if len(got) >= 9 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert target not in got and len(got) == 9, got
    assert not (qjob.queue / "suppress-inbox").exists(), "the inbox goes with the job"
    listed = rm("suppress", "list", "--queue", qjob.queue)
    assert target in listed.stdout and "asked by phone" in listed.stdout, show(listed)
