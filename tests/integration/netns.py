"""Network namespaces for the cluster tests (issue 20): a hub namespace holding a bridge, where the shared services
(Redis, the recording sink) listen, and one namespace per node, joined to the hub by a veth pair, each with its own
address. Every name is made by the test (prefix rmt<pid>) and removed after it; nothing changes in the machine's own
namespace. Where namespaces cannot be made (not root, no CAP_SYS_ADMIN), Loopback gives the same shape on
127.0.0.0/8 (hub 127.0.0.50, nodes 127.0.0.51...) so that the tests still run, and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SUBNET = "10.88.0"  # inside the test's own namespaces only


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class Topology:
    """The hub's address, each node's address, and the command prefix that runs a program in a place."""

    netns = False
    hub_address = "127.0.0.50"
    node_addresses: list[str] = []

    def run_in(self, place: str) -> list[str]:  # place: "hub" or "node0", "node1", ...
        return []

    def http(self, place: str, url: str, method: str = "GET", body: bytes | None = None,
             headers: dict | None = None, timeout: float = 30) -> tuple[int, str]:
        """An HTTP request made from `place` (there the nodes' listeners are reachable): (status, body)."""
        request = {"url": url, "method": method, "body": body.decode() if body else None,
                   "headers": headers or {}, "timeout": timeout}
        done = subprocess.run([*self.run_in(place), sys.executable, str(HERE / "netns.py"), "http"],
                              input=json.dumps(request), capture_output=True, text=True, timeout=timeout + 10)
        if done.returncode != 0:
            raise RuntimeError(f"HTTP {method} {url} from {place} failed: {done.stderr[-2000:]}")
        answer = json.loads(done.stdout)
        return answer["status"], answer["body"]

    def close(self):
        pass


class Loopback(Topology):
    def __init__(self, nodes: int):
        self.node_addresses = [f"127.0.0.{51 + i}" for i in range(nodes)]


class Namespaces(Topology):
    netns = True

    def __init__(self, nodes: int):
        tag = f"rmt{os.getpid() % 100000}"
        self.hub = f"{tag}-hub"
        self.nodes = [f"{tag}-n{i}" for i in range(nodes)]
        self.hub_address = f"{SUBNET}.1"
        self.node_addresses = [f"{SUBNET}.{11 + i}" for i in range(nodes)]
        try:
            _ip("netns", "add", self.hub)
            _ip("-n", self.hub, "link", "set", "lo", "up")
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "addr", "add", f"{self.hub_address}/24", "dev", "br0")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            for i, (ns, address) in enumerate(zip(self.nodes, self.node_addresses)):
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", self.hub, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("-n", self.hub, "link", "set", f"v{i}", "master", "br0", "up")
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
        except Exception:
            self.close()
            raise

    def run_in(self, place: str) -> list[str]:
        ns = self.hub if place == "hub" else self.nodes[int(place.removeprefix("node"))]
        return ["ip", "netns", "exec", ns]

    def close(self):
        for ns in [*self.nodes, self.hub]:
            _ip("netns", "del", ns, check=False)


def topology(nodes: int) -> Topology:
    """Namespaces when this process may make them, else Loopback."""
    if shutil.which("ip") and os.geteuid() == 0:
        probe = f"rmtprobe{os.getpid() % 100000}"
        if _ip("netns", "add", probe, check=False).returncode == 0:
            _ip("netns", "del", probe, check=False)
            return Namespaces(nodes)
    return Loopback(nodes)


def _http_main():
    import urllib.error
    import urllib.request
    r = json.load(sys.stdin)
    request = urllib.request.Request(r["url"], method=r["method"], headers=r["headers"],
                                     data=r["body"].encode() if r["body"] is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=r["timeout"]) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    json.dump({"status": status, "body": body.decode(errors="replace")}, sys.stdout)


if __name__ == "__main__" and sys.argv[1:] == ["http"]:
    _http_main()
