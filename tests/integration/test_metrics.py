"""The admin listener during a real `ringmta demo`: /metrics passes `promtool check metrics`, a real Prometheus
(Debian's package, started here on loopback) scrapes it every second and its PromQL answer for the delivered
counter equals what the demo's sink counted, and headless Chromium renders the status page (chart canvas and the
campaign row) with the numbers /status reports. A screenshot is kept under tests/artifacts/.

These tests do not need the Postfix stack: the demo brings its own sink. Env: RINGMTA_METRICS_RECIPIENTS (default
200000) sizes the demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ARTIFACTS, ringmta_bin

RECIPIENTS = int(os.environ.get("RINGMTA_METRICS_RECIPIENTS", "200000"))
LINGER = 120  # seconds the admin listener stays up after the job; the test ends it with SIGINT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def wait_for(what: str, predicate, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, ValueError) as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def need(binary: str, package: str):
    if shutil.which(binary) is None:
        r = subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "tools" / "install-deps")],
                           capture_output=True, text=True)
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} not available: the Debian package {package} could not be installed "
                        f"({r.stderr.strip()[-300:]})")


class Demo:
    """`ringmta demo` with an admin listener, lingering after the job until stop()."""

    def __init__(self, work: Path, recipients: int):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.err_path = work / "demo.stderr"
        self.out_path = work / "demo.stdout"
        self.cmd = [ringmta_bin(), "demo", "--recipients", str(recipients), "--admin", f"127.0.0.1:{self.port}",
                    "--linger", str(LINGER), "--json"]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=open(self.out_path, "w"),
                                     stderr=open(self.err_path, "w"), cwd=work, start_new_session=True)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def status(self) -> dict:
        code, _, body = get(self.base + "/status")
        assert code == 200, f"/status answered {code}: {body}"
        return json.loads(body)

    def finished_status(self, timeout: float = 300) -> dict:
        return wait_for("the demo job to finish", lambda: (s := self.status())["finished"] and s, timeout, 0.5)

    def sink_count(self) -> int:
        m = wait_for("the demo's sink line", lambda: re.search(r"sink\s+(\d+) messages, (\d+) recipients",
                                                               self.stderr()), 30)
        return int(m.group(2))

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # ends --linger
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One demo for the module: the tests below look at it during the send, then after it."""
    if not os.access(ringmta_bin(), os.X_OK):
        pytest.fail(f"ringmta binary not found: {ringmta_bin()} (set RINGMTA_BIN)")
    d = Demo(tmp_path_factory.mktemp("demo"), RECIPIENTS)
    try:
        wait_for("the admin listener to serve /metrics",
                 lambda: get(d.base + "/metrics", 2)[0] == 200 or (d.proc.poll() is not None and
                                                                   pytest.fail(f"demo exited: {d.stderr()}")),
                 120)
        yield d
    finally:
        rc = d.stop()
        assert rc == 0, f"demo exit {rc}\n{d.stderr()[-3000:]}"


@pytest.fixture(scope="module")
def prometheus(demo, tmp_path_factory):
    """A real Prometheus scraping the demo every second; yields its API base URL."""
    need("prometheus", "prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = work / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ringmta
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["127.0.0.1:{demo.port}"]
""")
    log = open(work / "prometheus.log", "w")
    proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def promql(api: str, query: str) -> float | None:
    code, _, body = get(api + "/query?query=" + urllib.request.quote(query))
    result = json.loads(body)["data"]["result"] if code == 200 else []
    return float(result[0]["value"][1]) if result else None


def test_metrics_during_send_pass_promtool(demo, prometheus):
    need("promtool", "prometheus")
    code, ctype, text = get(demo.base + "/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4"), (code, ctype)
    assert "ringmta_job_finished 0" in text, "the job was already over: the demo is too small for this test"
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, f"promtool check metrics failed:\n{lint.stdout}\n{lint.stderr}"
    for family in ("ringmta_recipients_delivered_total", "ringmta_queue_depth", "ringmta_shard_loop_busy_ratio",
                   "ringmta_delivery_latency_seconds", "ringmta_smtp_transaction_seconds", "ringmta_connect_seconds",
                   "ringmta_dns_lookup_seconds", "ringmta_connections_open", "ringmta_rocksdb_live_data_bytes",
                   "ringmta_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes",
                   "process_open_fds", "process_max_fds", "process_start_time_seconds"):
        assert f"# TYPE {family} " in text, f"{family} missing from /metrics"
    # The build that runs, as `ringmta --version` names it.
    version = subprocess.run([ringmta_bin(), "--version"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r'ringmta_build_info\{version="([^"]+)",revision="([^"]+)"\} 1', text)
    assert m and f"ringmta {m.group(1)} ({m.group(2)})" in version, (m, version)
    rss = float(re.search(r"^process_resident_memory_bytes (\S+)$", text, re.M).group(1))
    assert 1e6 < rss < 8e9, rss


def chromium(*args: str, profile: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}", "--window-size=1200,900", "--virtual-time-budget=4000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_status_page_renders_chart_and_campaign_matching_status(demo, tmp_path):
    need("chromium", "chromium")
    code, ctype, html = get(demo.base + "/")
    assert code == 200 and ctype.startswith("text/html")
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", html), \
        "the page must be self-contained"
    # during the send: a screenshot for people
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-page-during-send.png"
    r = chromium(f"--screenshot={shot}", demo.base + "/", profile=tmp_path / "chromium-1")
    assert shot.exists() and shot.stat().st_size > 10_000, f"no screenshot\n{r.stderr[-2000:]}"

    # after the job (numbers stand still): the DOM shows what /status says
    final = demo.finished_status()
    r = chromium("--dump-dom", demo.base + "/", profile=tmp_path / "chromium-2")
    dom = r.stdout
    assert 'id="chart"' in dom, f"no chart canvas in the DOM\n{dom[:2000]}\n{r.stderr[-2000:]}"
    points = re.search(r'<canvas id="chart"[^>]*data-points="(\d+)"', dom)
    assert points and int(points.group(1)) >= 2, "the chart was not drawn from /status"
    row = re.search(r'<tr class="campaign" data-campaign="demo" data-delivered="(\d+)">(.*?)</tr>', dom, re.S)
    assert row, f"no campaign row in the DOM\n{dom[:3000]}"
    campaign = next(c for c in final["campaigns"] if c["id"] == "demo")
    assert int(row.group(1)) == campaign["delivered"] == RECIPIENTS
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(2))
    assert f"{campaign['delivered']:,}" in cells and f"{campaign['total']:,}" in cells, cells
    assert "job finished" in dom
    chromium(f"--screenshot={ARTIFACTS / 'status-page-finished.png'}", demo.base + "/",
             profile=tmp_path / "chromium-3")


def test_prometheus_scrapes_and_counts_what_the_sink_counted(demo, prometheus):
    def target_up():
        code, _, body = get(prometheus + "/targets")
        targets = json.loads(body)["data"]["activeTargets"] if code == 200 else []
        return any(t["health"] == "up" for t in targets) and targets
    targets = wait_for("Prometheus to report the ringmta target up", target_up, 60, 0.5)
    assert targets[0]["scrapeUrl"] == f"http://127.0.0.1:{demo.port}/metrics"

    final = demo.finished_status()
    sink = demo.sink_count()
    assert final["totals"]["delivered"] == sink == RECIPIENTS
    # a scrape of the final snapshot (published after every shard's tallies were handed over)
    wait_for("Prometheus to scrape the finished job", lambda: promql(prometheus, "ringmta_job_finished") == 1, 30,
             0.5)
    assert promql(prometheus, "ringmta_recipients_delivered_total") == sink
    # the bounded domain series add up to the same total
    assert promql(prometheus, 'sum(ringmta_domain_recipients_total{outcome="delivered"})') == sink
    assert promql(prometheus, "count(ringmta_domain_recipients_total)") <= (50 + 1) * 3


def test_admin_flag_rules(tmp_path):
    """An explicit --admin that cannot bind is exit 2; the default address being busy is only a warning."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([ringmta_bin(), "demo", "--recipients", "10", "--admin", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert f"127.0.0.1:{port}" in r.stderr and "admin" in r.stderr
    # the default address busy (held here, or by someone else): a warning, and the job goes on
    with socket.socket() as default:
        default.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            default.bind(("127.0.0.1", 9464))
            default.listen()
        except OSError:
            pass  # already taken by someone else: just as busy
        r = subprocess.run([ringmta_bin(), "demo", "--recipients", "10"], capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "warning: admin listener not started" in r.stderr, r.stderr
    r = subprocess.run([ringmta_bin(), "demo", "--recipients", "10", "--admin", "none"], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "admin:" not in r.stderr


def test_the_shipped_grafana_dashboard_queries_what_prometheus_scraped(demo, prometheus):
    # packaging/grafana/ringmta-dashboard.json: every panel's query is run against the real Prometheus that
    # scraped the demo; each must parse and find series (a renamed metric or label would leave a panel empty).
    dashboard = json.loads((Path(__file__).parents[2] / "packaging/grafana/ringmta-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 15
    wait_for("Prometheus to scrape the finished job", lambda: promql(prometheus, "ringmta_job_finished") == 1, 60,
             0.5)
    time.sleep(2)  # a second sample of the final figures, for rate() over them
    empty = []
    for expr in exprs:
        code, _, body = get(prometheus + "/query?query=" + urllib.request.quote(expr))
        answer = json.loads(body)
        assert code == 200 and answer["status"] == "success", (expr, body)
        if not answer["data"]["result"]:
            empty.append(expr)
    assert not empty, f"panels with no series: {empty}"
