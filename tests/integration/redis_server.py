"""A private redis-server (Debian's redis-server 7) for the cluster tests: on 127.0.0.1 (or `host`, run with the
command prefix `run_in`: in a network namespace of netns.py), a free port, a password, no persistence (with tls=True:
on TLS only, a self-signed certificate); stop() kills it (as a crash would) and start() brings it back on the same
port, empty. `python3 redis_server.py HOST PORT PASSWORD COMMAND...` prints a command's first reply line (for a
Redis in a namespace).
"""

from __future__ import annotations

import secrets
import shutil
import sys
import socket
import ssl
import subprocess
import time
from pathlib import Path

from mailstack import free_port, make_certificate


def binary() -> str | None:
    return shutil.which("redis-server") or (p if Path(p := "/usr/bin/redis-server").exists() else None)


class RedisServer:
    def __init__(self, directory: Path, tls: bool = False, host: str = "127.0.0.1", run_in: list[str] | None = None):
        self.dir = directory
        self.host, self.run_in = host, run_in or []
        self.port = free_port((socket.AF_INET,))
        self.password = secrets.token_hex(12)
        self.password_file = directory / "redis.password"
        self.password_file.write_text(self.password + "\n")
        self.log = directory / "redis.log"
        self.proc: subprocess.Popen | None = None
        # TLS only (no plain port): a self-signed certificate for 127.0.0.1, no client certificates asked for.
        self.cert = self.key = None
        if tls:
            self.cert, self.key = make_certificate(directory)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "RedisServer":
        exe = binary()
        if exe is None:
            raise RuntimeError("redis-server is not installed (tools/install-deps installs it)")
        ports = ["--port", str(self.port)]
        if self.cert:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.cert), "--tls-key-file",
                     str(self.key), "--tls-ca-cert-file", str(self.cert), "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen(
            [*self.run_in, exe, *ports, "--bind", self.host, "--save", "", "--appendonly", "no",
             "--requirepass", self.password, "--dir", str(self.dir), "--logfile", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log.read_text(errors='replace')[-2000:]}")
            if self.command("PING") == "+PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 10 s")

    def command(self, *args: str) -> str:
        """One command (AUTH first); the first line of the reply, "" if Redis does not answer."""
        if self.run_in:
            done = subprocess.run([*self.run_in, sys.executable, __file__, self.host, str(self.port), self.password,
                                   *args], capture_output=True, text=True, timeout=20)
            return done.stdout.strip()
        return command(self.host, self.port, self.password, self.cert, *args)

    def stop(self):
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None


def command(host: str, port: int, password: str, cert: Path | None, *args: str) -> str:
    """One command (AUTH first); the first line of the reply, "" if Redis does not answer."""
    def encode(parts):
        return b"".join([f"*{len(parts)}\r\n".encode()] +
                        [f"${len(p.encode())}\r\n{p}\r\n".encode() for p in parts])
    try:
        with socket.create_connection((host, port), timeout=2) as raw:
            s = raw
            if cert:
                context = ssl.create_default_context(cafile=str(cert))
                s = context.wrap_socket(raw, server_hostname="127.0.0.1")
            s.sendall(encode(["AUTH", password]) + encode(list(args)))
            data = b""
            while data.count(b"\r\n") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\r\n")[1].decode(errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    print(command(sys.argv[1], int(sys.argv[2]), sys.argv[3], None, *sys.argv[4:]))
