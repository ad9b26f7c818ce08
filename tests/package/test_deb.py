"""The .deb (issue 19), as a user installs it: `dpkg -i` of the package CPack built (RINGMTA_DEB), then what it put
where; the unit checked by `systemd-analyze verify`; the ringmta user and the API token the postinst made; `ringmta
serve` started as the unit starts it (its ExecStart, as its User, in the state directory systemd would make, with a
NOTIFY_SOCKET that receives READY=1), delivering a campaign posted with that token to `ringmta sink`, ending on
SIGTERM; and `dpkg --purge`, after which the binary, the unit and the token are gone.

It changes the machine it runs on (a package, a system user): tools/test's package stage runs it as root on a CI
machine; without RINGMTA_DEB it is skipped.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from mailstack import free_port, wait_for_port  # noqa: E402

DEB = os.environ.get("RINGMTA_DEB", "")
UNIT = Path("/usr/lib/systemd/system/ringmta.service")

pytestmark = pytest.mark.skipif(not DEB or os.geteuid() != 0, reason="needs RINGMTA_DEB and root (tools/test package)")


def run(*cmd, check=True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kw)
    if check:
        assert p.returncode == 0, f"{cmd}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture
def installed():
    run("dpkg", "--purge", "ringmta", check=False)
    run("dpkg", "-i", DEB)
    yield
    run("dpkg", "--purge", "ringmta", check=False)


def unit_setting(text: str, key: str) -> str:
    m = re.search(rf"^{key}=(.*)$", text, re.M)
    assert m, f"{key}= missing from the unit"
    return m.group(1).strip()


def test_the_package_installs_a_service_that_starts_and_delivers(tmp_path, installed):
    # What it put where.
    for path in ("/usr/bin/ringmta", UNIT, "/etc/ringmta/ringmta.toml", "/usr/share/man/man1/ringmta.1"):
        assert Path(path).exists(), path
    assert "/etc/ringmta/ringmta.toml" in run("dpkg-query", "--showformat=${Conffiles}", "-W", "ringmta").stdout
    run("systemd-analyze", "verify", UNIT)
    unit = UNIT.read_text()
    assert unit_setting(unit, "Type") == "notify"
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                      "StateDirectory=ringmta"):
        assert hardening in unit, hardening
    user = pwd.getpwnam(unit_setting(unit, "User"))
    token_file = Path("/etc/ringmta/api-token")
    token = token_file.read_text().strip()
    assert len(token) == 64 and token_file.stat().st_mode & 0o777 == 0o640, oct(token_file.stat().st_mode)
    assert "ringmta" in run("man", "-P", "cat", "ringmta", env={**os.environ, "MANWIDTH": "80"}).stdout.lower()

    # The state directory systemd makes for StateDirectory=ringmta, and a notify socket as systemd gives one.
    state = Path("/var/lib/ringmta")
    state.mkdir(exist_ok=True)
    os.chown(state, user.pw_uid, user.pw_gid)
    # Where the service's user can reach it (pytest's own directories are root's alone).
    notify_dir = Path(tempfile.mkdtemp(prefix="ringmta-notify-", dir="/tmp"))
    notify_dir.chmod(0o755)
    notify_path = notify_dir / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify_path.chmod(0o666)
    notify.settimeout(30)

    sink_port, api_port, admin_port = free_port(), free_port(), free_port()
    record = tmp_path / "record.txt"
    sink = subprocess.Popen(["/usr/bin/ringmta", "sink", "--listen", f"127.0.0.1:{sink_port}", "--record", record],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exec_start = shlex.split(unit_setting(unit, "ExecStart"))
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen(
        # setpriv execs (runuser would stay in between and answer SIGTERM itself).
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "env",
         f"NOTIFY_SOCKET={notify_path}", *exec_start,
         "--smarthost", f"127.0.0.1:{sink_port}", "--tls", "none", "--api-listen", f"127.0.0.1:{api_port}",
         "--admin", f"127.0.0.1:{admin_port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", sink_port, 20, sink, "sink")
        messages = []
        while not any(m.startswith("READY=1") for m in messages):
            messages.append(notify.recv(4096).decode())
        wait_for_port("127.0.0.1", api_port, 20, serve, "ringmta serve")
        body = {"message": "From: News <news@example.org>\r\nSubject: Hello {{name}}\r\n\r\nDear {{name}}\r\n",
                "recipients": [{"email": f"r{i}@pkg.test", "name": f"R{i}"} for i in range(10)]}
        req = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/v1/campaigns", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}"}, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 201 and json.loads(r.read())["accepted"] == 10
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not record.exists() or len(record.read_text().split()) < 10):
            time.sleep(0.1)
        assert sorted(record.read_text().split()) == sorted(f"r{i}@pkg.test" for i in range(10))
        # The queue is where the installed configuration puts it, owned by the service's user.
        assert (state / "queue").stat().st_uid == user.pw_uid
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, (tmp_path / "serve.log").read_text()
        while not any(m.startswith("STOPPING=1") for m in messages):
            messages.append(notify.recv(4096).decode())
    finally:
        for p in (serve, sink):
            if p.poll() is None:
                p.kill()
                p.wait(10)
        log.close()
        notify.close()
        run("rm", "-rf", notify_dir)

    run("dpkg", "--purge", "ringmta")
    for path in ("/usr/bin/ringmta", UNIT, "/etc/ringmta/api-token", "/etc/ringmta/ringmta.toml"):
        assert not Path(path).exists(), path
    run("rm", "-rf", state)
