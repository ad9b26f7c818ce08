"""The Prometheus alerting rules shipped in packaging/prometheus (issue 19): a real `promtool` checks them and runs
their unit tests (each alert fires on the series meant to fire it, and not on healthy ones), and every ringmta_*
metric the rules use is one that a running `ringmta serve` really exposes on /metrics, so that no rule watches a
name that does not exist.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO, ringmta_bin  # noqa: E402
from mailstack import free_port, wait_for_port  # noqa: E402

RULES = REPO / "packaging" / "prometheus" / "ringmta.rules.yml"
TESTS = REPO / "packaging" / "prometheus" / "ringmta.rules.test.yml"


def test_promtool_checks_the_rules_and_their_tests_pass():
    p = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "6 rules found" in p.stdout, p.stdout + p.stderr
    p = subprocess.run(["promtool", "test", "rules", TESTS], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr


def test_every_metric_the_rules_use_is_exposed(tmp_path, sink):
    used = set(re.findall(r"\bringmta_[a-z_]+\b", RULES.read_text()))
    assert {"ringmta_route_paused", "ringmta_queue_depth", "ringmta_domain_recipients_total"} <= used
    s = sink()
    admin = free_port()
    message = tmp_path / "m.eml"
    message.write_text("From: News <news@example.org>\nSubject: Hi\n\nHello\n")
    csv = tmp_path / "list.csv"
    csv.write_text("email\n" + "".join(f"r{i}@rules.test\n" for i in range(5)))
    proc = subprocess.Popen([ringmta_bin(), "send", "--message", message, "--recipients", csv, "--queue",
                             tmp_path / "queue", "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none",
                             "--no-progress", "--admin", f"127.0.0.1:{admin}", "--linger", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port("127.0.0.1", admin, 30, proc, "ringmta send")
        exposed: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not used <= exposed:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as r:
                    text = r.read().decode()
            except urllib.error.HTTPError:  # 503 until the first snapshot
                time.sleep(0.1)
                continue
            exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("ringmta_")}
            exposed |= {re.sub(r"_(bucket|sum|count)$", "", n) for n in exposed}
            time.sleep(0.3)
        assert used <= exposed, f"used by the rules but not exposed: {sorted(used - exposed)}"
    finally:
        proc.terminate()
        proc.wait(30)
