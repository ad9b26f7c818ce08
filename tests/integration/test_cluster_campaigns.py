"""Campaigns split across a cluster (issue 20): three `ringmta serve` nodes, each in its own network namespace with
its own address (netns.py; 127.0.0.51-53 where namespaces cannot be made), its own queue, its API and its cluster
listener (--cluster-listen), sharing one redis-server and one smart host in the hub: a recording SMTP sink written
for the test, which sees the source address of every connection. A campaign posted to one node's API is split by
destination domain: every domain's mail leaves from one node, all three nodes send, and GET campaigns/{id} on any
node reports the whole. A node killed with SIGKILL: the next campaign's part for it is queued on the node that took
the campaign, and the answer says so; nothing is lost. A suppression added through one node's API, and its removal
through another's, reach every node's list. Only the test's own namespaces (or 127.0.0.0/8).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from mailstack import free_port  # noqa: E402
from test_cluster import redis, smart_host, topo  # noqa: E402,F401  (fixtures)

TOKEN = "cluster-test-token-0123456789abcdef"
DOMAINS = [f"d{i}.split.test" for i in range(30)]


class ServeNode:
    def __init__(self, root: Path, index: int, redis, sink):
        self.topo, self.index, self.name = sink.topo, index, f"node{index}"
        self.dir = root / self.name
        self.dir.mkdir(exist_ok=True)
        self.address = self.topo.node_addresses[index]
        port = free_port((socket.AF_INET,))
        self.api = f"http://{self.address}:{port}"
        self.cluster_port = free_port((socket.AF_INET,))
        (self.dir / "token").write_text(TOKEN + "\n")
        self.args = [ringmta_bin(), "serve", "--queue", str(self.dir / "q"), "--smarthost",
                     f"{sink.host}:{sink.port}", "--tls", "none", "--bind-address", self.address,
                     "--ehlo", f"{self.name}.cluster.test", "--admin", "none", "--log-format", "json",
                     "--api-listen", f"{self.address}:{port}", "--api-token-file", str(self.dir / "token"),
                     "--cluster-listen", f"{self.address}:{self.cluster_port}", "--redis", redis.address,
                     "--redis-password-file", str(redis.password_file), "--cluster-name", "split",
                     "--cluster-node", self.name, "--spool-dir", str(self.dir)]
        self.proc = None

    def start(self) -> "ServeNode":
        self.log = open(self.dir / "serve.log", "a")
        self.proc = subprocess.Popen([*self.topo.run_in(self.name), *self.args], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.text()
            try:
                if self.call("GET", "/api/v1/queue")[0] == 200:
                    return self
            except RuntimeError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name} did not answer within 30 s:\n{self.text()}")

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, text = self.topo.http(self.name, self.api + path, method,
                                      json.dumps(body).encode() if body is not None else None,
                                      {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        return status, json.loads(text)

    def text(self) -> str:
        return (self.dir / "serve.log").read_text(errors="replace")[-4000:]

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nodes(tmp_path, redis, smart_host):
    started = [ServeNode(tmp_path, i, redis, smart_host).start() for i in range(3)]
    yield started
    for n in started:
        n.stop()


def campaign(name: str, per_domain: int, extra: list[dict] | None = None) -> dict:
    recipients = [{"email": f"u{j}@{d}", "name": f"R{j}"} for d in DOMAINS for j in range(per_domain)]
    return {"campaign": name, "message": "From: News <news@sender.test>\r\nSubject: Hi {{name}}\r\n\r\nHello.\r\n",
            "recipients": recipients + (extra or [])}


def wait_finished(node: ServeNode, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = node.call("GET", f"/api/v1/campaigns/{name}")
        if status == 200 and body.get("finished") or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def test_a_campaign_is_split_by_domain_across_the_nodes_and_reported_whole_by_any(nodes, smart_host):
    time.sleep(1.5)  # every node's first heartbeat with its URL
    bad = {"email": "not-an-address", "name": "X"}
    status, answer = nodes[0].call("POST", "/api/v1/campaigns", campaign("spring", 10, [bad]))
    assert status == 201, answer
    assert answer["accepted"] == 300 and answer["rejected"] == 1, answer
    # The bad row is named by its index in this request, though another node's part may have held it.
    assert answer["rejected_rows"] == [{"email": "not-an-address", "index": 300,
                                        "reason": answer["rejected_rows"][0]["reason"]}], answer
    parts = {n["node"]: n for n in answer["nodes"]}
    assert set(parts) == {"node0", "node1", "node2"}, answer
    assert all(p["accepted"] > 0 for p in parts.values()), answer
    assert sum(p["accepted"] for p in parts.values()) == 300, answer

    # Any node reports the whole campaign.
    whole = wait_finished(nodes[1], "spring")
    assert whole["finished"] and whole["complete"] and whole["accepted"] == 300, whole
    assert whole["queued"] == 0 and whole["failed"] == 0 and whole["delivered_or_withdrawn"] == 300, whole
    assert {n["node"]: n["accepted"] for n in whole["nodes"]} == {k: v["accepted"] for k, v in parts.items()}

    # At the sink: every domain's mail left from one node's address, and each node sent its own part.
    messages = smart_host.events("message")
    by_domain: dict[str, set[str]] = {}
    for m in messages:
        for r in m["rcpts"]:
            by_domain.setdefault(r.rpartition("@")[2], set()).add(m["peer"])
    assert sorted(by_domain) == sorted(DOMAINS)
    assert all(len(peers) == 1 for peers in by_domain.values()), by_domain
    sent_from = {n.address: sum(len(m["rcpts"]) for m in messages if m["peer"] == n.address) for n in nodes}
    assert sent_from == {n.address: parts[n.name]["accepted"] for n in nodes}, (sent_from, parts)

    # The same campaign posted again, to another node: nothing is queued twice.
    status, again = nodes[2].call("POST", "/api/v1/campaigns", campaign("spring", 10, [bad]))
    assert status == 200 and again["already_queued"], json.dumps(again, indent=1)
    # Paused as a whole from any node.
    status, paused = nodes[2].call("POST", "/api/v1/campaigns/spring/pause")
    assert status == 200 and len(paused["nodes"]) == 3, paused
    assert wait_finished(nodes[0], "spring")["state"] == "paused"


def test_a_dead_nodes_part_is_queued_where_the_campaign_arrived(nodes, smart_host):
    time.sleep(1.5)
    nodes[2].stop(signal.SIGKILL)  # its heartbeat stays live for up to 10 s: it is still asked
    status, answer = nodes[0].call("POST", "/api/v1/campaigns", campaign("after-kill", 4))
    assert status == 201 and answer["accepted"] == 120, answer
    dead = [n for n in answer["nodes"] if n["node"] == "node2"]
    assert len(dead) == 1 and dead[0]["kept_here"] and dead[0]["rows"] > 0 and "accepted" not in dead[0], answer
    assert "refused" in dead[0]["why"] or "connect" in dead[0]["why"], dead
    whole = wait_finished(nodes[0], "after-kill")
    assert whole["finished"] and whole["accepted"] == 120, whole
    delivered = [r for m in smart_host.events("message") for r in m["rcpts"]]
    assert len(delivered) == 120 and len(set(delivered)) == 120
    assert not any(m["peer"] == nodes[2].address for m in smart_host.events("message"))


def test_a_suppression_and_its_removal_on_one_node_reach_the_others(nodes):
    address = "Someone@Shared.Test"

    def suppressed_on(node: ServeNode) -> bool:
        status, body = node.call("GET", "/api/v1/suppressions?address=someone%40shared.test")
        assert status == 200, body
        return body["suppressed"]

    def wait_for(want: bool, node: ServeNode) -> bool:
        deadline = time.monotonic() + 10
        while suppressed_on(node) != want and time.monotonic() < deadline:
            time.sleep(0.2)
        return suppressed_on(node) == want

    status, body = nodes[0].call("POST", "/api/v1/suppressions", {"addresses": [address], "reason": "asked"})
    assert status == 200, body
    assert wait_for(True, nodes[1]) and wait_for(True, nodes[2])
    status, body = nodes[1].call("DELETE", "/api/v1/suppressions/someone%40shared.test")
    assert status == 200 and body["removed"] == 1, body
    # Taken off the other two nodes' lists, the one it came from included.
    assert wait_for(False, nodes[0]) and wait_for(False, nodes[2])
