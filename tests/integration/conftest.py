"""pytest fixtures: a private Postfix smart host (Dovecot SASL, TLS) relaying to `ringmta sink`, started once per
session, and helpers that drive the ringmta CLI.

Env:
  RINGMTA_BIN        the binary under test (default: build/cli/ringmta in the repository)
  RINGMTA_TEST_SINK  auto (default: `ringmta sink` when the binary exists) | ringmta | python
  RINGMTA_KEEP_TMP   keep the temporary directory after the run

--part stack|other|alone (default: every test): tools/test runs the suite as three parts, the first two at once
(their tests mostly wait on servers and timeouts, so two processes on two cores halve the wall time): `stack`,
the tests that use the session's Postfix; `other`, those that start their own servers; then `alone`, the tests
marked `alone` (they measure rates or compare timings, and would measure the other part's load), by themselves.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mailstack import USERS, Stack, free_port, wait_for_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"


def ringmta_bin() -> str:
    b = os.environ.get("RINGMTA_BIN", "build/cli/ringmta")
    p = Path(b)
    if not p.is_absolute():
        p = REPO / p
    return str(p)


# ---------------------------------------------------------------------------------------------------------------
# session: the mail stack; artifacts on failure


def pytest_addoption(parser):
    parser.addoption("--part", choices=("all", "stack", "other", "alone"), default="all",
                     help="run one part of the suite (see the module's docstring)")


def pytest_configure(config):
    config.addinivalue_line("markers", "alone: measures rates or timings; runs by itself (--part alone)")


def suite_part(item) -> str:
    if item.get_closest_marker("alone"):
        return "alone"
    return "stack" if "stack" in item.fixturenames else "other"


def pytest_collection_modifyitems(config, items):
    part = config.getoption("--part")
    if part == "all":
        return
    keep = [i for i in items if suite_part(i) == part]
    config.hook.pytest_deselected(items=[i for i in items if suite_part(i) != part])
    items[:] = keep


_FAILED_DIRS: list[Path] = []
_ANY_FAILED = [False]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _ANY_FAILED[0] = True
        work = getattr(item, "_ringmta_work", None)
        if work is not None and work not in _FAILED_DIRS:
            _FAILED_DIRS.append(work)


@pytest.fixture(scope="session")
def stack(request):
    binary = ringmta_bin()
    kind = os.environ.get("RINGMTA_TEST_SINK", "auto")
    st = Stack(binary, kind)
    try:
        st.start()
    except BaseException:
        _save_artifacts(request.config, st, reason="stack failed to start")
        if not os.environ.get("RINGMTA_KEEP_TMP"):
            st.cleanup()
        raise
    try:
        yield st
    finally:
        problems = st.stop()
        failed = _ANY_FAILED[0] or request.session.testsfailed
        if problems or failed:
            _save_artifacts(request.config, st, reason="; ".join(problems) or "test failures")
        if not os.environ.get("RINGMTA_KEEP_TMP"):
            st.cleanup()
        if problems:
            print("\nmail stack teardown problems: " + "; ".join(problems), file=sys.stderr)


def _save_artifacts(config, st: Stack, reason: str):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    dest = ARTIFACTS / f"integration-{stamp}"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "REASON").write_text(reason + "\n")
        for p in st.logs():
            shutil.copy2(p, dest / (p.parent.name + "-" + p.name))
        for work in _FAILED_DIRS:
            if work.exists():
                shutil.copytree(work, dest / "tests" / work.name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("queue*", "*.csv"))
        print(f"\nintegration artifacts saved in {dest}", file=sys.stderr)
    except OSError as e:
        print(f"\ncould not save artifacts: {e}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------
# driving ringmta


@dataclass
class Result:
    cmd: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float
    json: dict | None = None

    @property
    def diagnosis(self) -> str:
        d = (self.json or {}).get("diagnosis")
        return d or ""

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr

    def __str__(self) -> str:
        def tail(s, n=40):
            lines = s.splitlines()
            return "\n".join((["..."] if len(lines) > n else []) + lines[-n:])
        return (f"$ {' '.join(self.cmd)}\nexit {self.rc} after {self.seconds:.1f}s\n"
                f"--- stdout\n{tail(self.stdout)}\n--- stderr\n{tail(self.stderr)}")


def parse_json(stdout: str) -> dict | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        v = json.loads(text)
        return v if isinstance(v, dict) else None
    except ValueError:
        pass
    # the JSON object is the last thing printed: try each line that starts an object, from the end
    starts = [m.start() for m in re.finditer(r"(?m)^\s*\{", text)]
    for s in reversed(starts):
        try:
            v = json.loads(text[s:])
            if isinstance(v, dict):
                return v
        except ValueError:
            continue
    return None


class Ringmta:
    def __init__(self, binary: str, work: Path):
        self.bin = binary
        self.work = work
        self.calls = 0

    def __call__(self, *args, timeout: float = 120, env: dict | None = None) -> Result:
        if not os.access(self.bin, os.X_OK):
            pytest.fail(f"ringmta binary not found or not executable: {self.bin} (set RINGMTA_BIN)")
        self.calls += 1
        cmd = [self.bin, *map(str, args)]
        e = {k: v for k, v in os.environ.items() if k != "RINGMTA_PASSWORD"}
        e.update(env or {})
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, errors="replace", cwd=self.work, env=e, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGINT)
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            r = Result(cmd, -1, out, err, time.monotonic() - t0)
            self._save(r)
            pytest.fail(f"ringmta did not finish within {timeout}s\n{r}")
        r = Result(cmd, proc.returncode, out, err, time.monotonic() - t0, parse_json(out))
        self._save(r)
        return r

    def _save(self, r: Result):
        (self.work / f"ringmta-{self.calls}.log").write_text(str(r) + "\n\n--- full stdout\n" + r.stdout +
                                                             "\n--- full stderr\n" + r.stderr)


@pytest.fixture
def work(request, stack) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    d = stack.root / "tests" / name
    d.mkdir(parents=True, exist_ok=True)
    request.node._ringmta_work = d
    return d


@pytest.fixture
def ringmta(work) -> Ringmta:
    return Ringmta(ringmta_bin(), work)


MESSAGE = """\
From: Alice Example <alice@example.org>
To: {{{{name}}}} <{{{{email}}}}>
Subject: Hello {{{{name}}}}, your {tag} newsletter
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Dear {{{{name}}}},

this is the {tag} issue of our newsletter.
.a line starting with a dot (must be dot-stuffed)
Grüße from ringmta's integration tests.
"""


@dataclass
class Job:
    """One test's input files and route flags. Recipients get a test-specific domain so that the shared
    sink can count them."""
    stack: Stack
    work: Path
    ringmta: Ringmta
    domain: str
    n: int
    message: Path = field(init=False)
    recipients: Path = field(init=False)
    password_file: Path = field(init=False)
    queue: Path = field(init=False)
    rejects: Path = field(init=False)

    def __post_init__(self):
        self.message = self.work / "message.eml"
        self.message.write_text(MESSAGE.format(tag=self.domain.split(".")[0]))
        self.recipients = self.work / "recipients.csv"
        self.write_recipients(self.addresses())
        self.password_file = self.work / "password"
        self.set_password(USERS["alice"])
        self.queue = self.work / "queue"
        self.rejects = self.work / "rejects.txt"

    def addresses(self) -> list[str]:
        return [f"user{i:05d}@{self.domain}" for i in range(self.n)]

    def write_recipients(self, addrs):
        with open(self.recipients, "w", newline="") as f:
            f.write("email,name\r\n")
            for i, a in enumerate(addrs):
                f.write(f"{a},Reader {i}\r\n")

    def set_password(self, pw: str):
        self.password_file.write_text(pw + "\n")
        os.chmod(self.password_file, 0o600)

    def route(self, listener: str = "submission", host: str = "127.0.0.1", *, tls: str | None = None,
              ca: bool = True, user: str | None = "alice", auth: str | None = None, extra=()) -> list[str]:
        port = self.stack.ports[listener]
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        args = ["--smarthost", hostport]
        if tls:
            args += ["--tls", tls]
        if ca:
            args += ["--ca-file", str(self.stack.ca_file)]
        if user:
            args += ["--user", user, "--password-file", str(self.password_file)]
        if auth:
            args += ["--auth", auth]
        return args + list(extra)

    def send(self, *route, timeout: float = 120) -> Result:
        return self.ringmta("send", "--message", self.message, "--recipients", self.recipients,
                            "--queue", self.queue, "--rejects", self.rejects, "--json", "--no-progress",
                            *route, timeout=timeout)

    def run(self, *route, timeout: float = 120) -> Result:
        return self.ringmta("run", "--queue", self.queue, "--json", "--no-progress", *route, timeout=timeout)

    def check(self, to: str, *route, timeout: float = 60) -> Result:
        return self.ringmta("check", "--to", to, *route, timeout=timeout)

    # -- assertions ----------------------------------------------------------------------------------------------

    def delivered_at_sink(self, count: int | None = None, timeout: float = 60) -> list[str]:
        count = self.n if count is None else count
        return self.stack.sink.wait_for(self.domain, count, timeout)

    def assert_all_delivered(self, r: Result, count: int | None = None, timeout: float = 60):
        """Exit 0, JSON delivered == count (nothing failed or queued), and the sink behind Postfix recorded
        exactly `count` distinct recipients of this job's domain (no duplicates)."""
        count = self.n if count is None else count
        problems = []
        if r.rc != 0:
            problems.append(f"exit {r.rc}, expected 0 (all delivered)")
        if r.json is None:
            problems.append("no JSON object on stdout")
        else:
            for key, want in (("delivered", count), ("failed", 0), ("queued", 0)):
                if r.json.get(key) != want:
                    problems.append(f"JSON {key} = {r.json.get(key)!r}, expected {want}")
        got = self.delivered_at_sink(count, timeout if r.rc == 0 else 3)
        if len(got) != count or len(set(got)) != len(got):
            problems.append(f"sink behind Postfix recorded {len(got)} deliveries to {len(set(got))} distinct "
                            f"recipients @{self.domain}, expected {count}")
        assert not problems, ("; ".join(problems) + f"\n{r}\n--- postfix log (tail)\n"
                              + self.stack.postfix.log_tail(15))

    def assert_paused(self, r: Result, pattern: str, what: str):
        assert r.rc == 3, f"expected exit 3 (route paused, recipients still queued)\n{r}"
        assert r.json is not None, f"no JSON object on stdout\n{r}"
        assert r.json.get("queued") == self.n, f"JSON queued != {self.n}\n{r}"
        assert r.json.get("delivered") == 0, f"JSON delivered != 0\n{r}"
        assert r.json.get("failed") == 0, f"recipients must not be bounced for a route problem\n{r}"
        diag = r.diagnosis
        assert diag, f"expected a diagnosis ({what})\n{r}"
        assert re.search(pattern, diag, re.I), f"diagnosis should mention {what} (/{pattern}/): {diag!r}\n{r}"

    def assert_nothing_at_sink(self, wait: float = 1.0):
        time.sleep(wait)
        got = self.stack.sink.recipients_for(self.domain)
        assert not got, f"nothing should have been delivered, but the sink recorded {len(got)}"


@pytest.fixture
def job_factory(stack, work, ringmta, request):
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40].strip("-")
    made = []

    def make(n: int = 3, suffix: str = "") -> Job:
        d = work / f"job{len(made)}" if made else work
        d.mkdir(exist_ok=True)
        domain = f"{base}{('-' + suffix) if suffix else ''}.dest.test"
        j = Job(stack, d, Ringmta(ringmta.bin, d) if made else ringmta, domain, n)
        made.append(j)
        return j
    return make


@pytest.fixture
def job(job_factory) -> Job:
    return job_factory()


def small_tmpfs(mnt: Path, size: str):
    """The body of a fixture: a tmpfs of `size` ("8m") mounted at mnt (made here) that fills up, unmounted after
    the test; the test is skipped where mounting is not allowed (needs root)."""
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def stopped_after(make):
    """The body of a fixture handing out start(...) -> make(...) for objects with a `proc`; every process still
    running at the end of the test is killed."""
    started = []

    def start(*args, **kw):
        s = make(*args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


@dataclass
class Sink:
    """A `ringmta sink` on 127.0.0.1 started by the `sink` fixture."""
    port: int
    record: Path  # every accepted recipient, one per line (flushed every 100 ms)
    proc: subprocess.Popen

    def summary(self) -> str:
        """Stops the sink and returns what it printed (its counts)."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return out


@pytest.fixture
def sink(tmp_path):
    """Starts a `ringmta sink` per call (with `--script` rules, e.g. "grey.test:rcpt-4xx=30", and further
    arguments), recording every recipient; each is stopped at the end of the test."""
    procs = []

    def start(*scripts: str, args: tuple | list = ()) -> Sink:
        port = free_port((socket.AF_INET,))
        record = tmp_path / f"record-{port}.txt"
        cmd = [ringmta_bin(), "sink", "--listen", f"127.0.0.1:{port}", "--record", str(record)]
        for s in scripts:
            cmd += ["--script", s]
        p = subprocess.Popen([*cmd, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        wait_for_port("127.0.0.1", port, 20, p, "sink")
        return Sink(port, record, p)

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)
