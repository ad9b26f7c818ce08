"""A private dnsmasq on 127.0.0.1 serving only the records it is given (no upstream, no /etc/hosts), for the
direct-delivery tests. Lines are dnsmasq.conf lines such as ``mx-host=example.test,mx.example.test,10``.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_udp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both), chosen below the kernel's ephemeral
    range (32768-60999) so that an outgoing connection cannot take it between this check and dnsmasq's bind."""
    for _ in range(200):
        port = random.randint(10000, 32000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free UDP+TCP port on 127.0.0.1 in 10000-32000")


def binary() -> str | None:
    b = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    return b if os.access(b, os.X_OK) else None


class PortTaken(RuntimeError):
    pass


class Dnsmasq:
    def __init__(self, directory: Path, records: list[str], local_zone: str = "test"):
        self.dir = directory
        self.records = records
        self.zone = local_zone
        self.port = free_udp_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Dnsmasq":
        # Another test's server may still take the port between the check and dnsmasq's bind: a new port then.
        for attempt in range(5):
            try:
                return self._start_once()
            except PortTaken:
                self.port = free_udp_port()
        return self._start_once()

    def _start_once(self) -> "Dnsmasq":
        exe = binary()
        if exe is None:
            raise RuntimeError("dnsmasq is not installed (tools/install-deps installs it)")
        lines = [f"port={self.port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts",
                 f"local=/{self.zone}/", "local-ttl=300", "pid-file=", "user=root",
                 f"log-facility={self.dir}/dnsmasq.log", "log-queries", *self.records]
        conf = self.dir / "dnsmasq.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([exe, "--keep-in-foreground", f"--conf-file={conf}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait until it answers: any reply to a query for the root's SOA will do.
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x01"
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.settimeout(0.1)
        deadline = time.monotonic() + 10
        try:
            while True:
                if self.proc.poll() is not None:
                    error = self.proc.stderr.read().decode(errors="replace")
                    if "Address already in use" in error:
                        raise PortTaken(error)
                    raise RuntimeError(f"dnsmasq exited: {error}")
                if time.monotonic() > deadline:
                    raise RuntimeError("dnsmasq did not answer within 10 s")
                probe.sendto(query, ("127.0.0.1", self.port))
                try:
                    probe.recv(512)
                    return self
                except socket.timeout:
                    continue
        finally:
            probe.close()

    def queries(self, name: str, qtype: str = "MX") -> int:
        """How many queries dnsmasq logged for (name, type) — e.g. to prove one MX lookup per domain."""
        log = self.dir / "dnsmasq.log"
        if not log.exists():
            return 0
        needle = f"query[{qtype}] {name} from"
        return sum(1 for line in log.read_text(errors="replace").splitlines() if needle in line)

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
