"""Private, throw-away mail servers on loopback for ringmta's integration tests.

Everything is started here, in a temporary directory, on 127.0.0.1 / ::1 with ports picked at run time:

* ``Sink``: the final destination behind Postfix. ``ringmta sink --listen 127.0.0.1:PORT --record FILE``
  (or, for developing the harness without the binary, a small Python SMTP sink writing the same record file:
  one line per accepted recipient).
* ``Dovecot``: SASL (auth service on TCP, used by Postfix) and POP3 (for POP-before-SMTP), users from a
  passwd-file with plain-text passwords, a post-login script that authorises the client IP in a Postfix
  texthash map.
* ``Postfix``: one private instance (``postfix -c CONFDIR``) relaying to the sink, with several smtpd
  listeners that each need something different from the client (see ``Postfix.LISTENERS``).

Run ``/usr/bin/python3 tests/integration/mailstack.py`` to start the stack, print its ports and keep it up
until Ctrl-C (handy for poking at it with swaks).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

USERS = {"alice": "secret", "bob": "hunter2"}
CERT_NAME = "smarthost.test"
DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")


# ---------------------------------------------------------------------------------------------------------------
# small helpers


def free_port(families=(socket.AF_INET, socket.AF_INET6)) -> int:
    """A TCP port that is free right now on 127.0.0.1 and (if asked) ::1."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port_is_free(port, families):
            return port
    raise RuntimeError("no free port found")


def port_is_free(port: int, families=(socket.AF_INET, socket.AF_INET6), reuse: bool = False) -> bool:
    """No socket bound to the port. With reuse=True connections in TIME_WAIT do not count (only listeners)."""
    for fam in families:
        host = "127.0.0.1" if fam == socket.AF_INET else "::1"
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            if reuse:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def wait_for_port(host: str, port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None,
                  what: str = "") -> None:
    deadline = time.monotonic() + timeout
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or 'process'} exited with {proc.returncode} before listening on "
                               f"{host}:{port}")
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect((host, port))
                return
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise RuntimeError(f"{what or 'server'} not listening on {host}:{port} after {timeout}s: {last}")


def read_banner(host: str, port: int, timeout: float = 10.0) -> str:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        with contextlib.suppress(OSError):
            s.sendall(b"QUIT\r\n")
        return data.decode("utf-8", "replace").strip()


def run(cmd, check=True, timeout=60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, timeout=timeout, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def kill_pids(pids, sig=signal.SIGTERM) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def pids_with_env(var: str, value: str) -> list[int]:
    """Processes whose environment holds var=value (how Postfix passes MAIL_CONFIG to its daemons)."""
    needle = f"{var}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry))
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def wait_gone(pids, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if pid_alive(p)]
        if left:
            time.sleep(0.1)
    return left


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Self-signed certificate for smarthost.test, 127.0.0.1 and ::1."""
    key = directory / "smarthost.key"
    cert = directory / "smarthost.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={CERT_NAME}",
         "-addext", f"subjectAltName=DNS:{CERT_NAME},IP:127.0.0.1,IP:::1",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
         "-addext", "extendedKeyUsage=serverAuth"])
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


# ---------------------------------------------------------------------------------------------------------------
# the sink behind Postfix


class _PySink:
    """A minimal asyncio SMTP server that accepts everything and records one line per recipient of each
    accepted message (used only when the ringmta binary is not available)."""

    def __init__(self, host: str, port: int, record: Path):
        self.host, self.port, self.record = host, port, record
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = threading.Event()
        self.server = None

    def start(self):
        self.thread.start()
        if not self.started.wait(10):
            raise RuntimeError("python sink did not start")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, self.host, self.port))
        self.started.set()
        self.loop.run_forever()

    async def _client(self, reader, writer):
        rcpts = []
        try:
            writer.write(b"220 pysink ESMTP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line.decode("latin-1").strip()
                verb = cmd[:4].upper()
                if verb in ("EHLO",):
                    writer.write(b"250-pysink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n")
                elif verb == "HELO":
                    writer.write(b"250 pysink\r\n")
                elif verb == "MAIL":
                    rcpts = []
                    writer.write(b"250 2.1.0 Ok\r\n")
                elif verb == "RCPT":
                    m = re.search(r"<([^>]*)>", cmd)
                    rcpts.append(m.group(1) if m else cmd[8:].strip())
                    writer.write(b"250 2.1.5 Ok\r\n")
                elif verb == "DATA":
                    writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    await writer.drain()
                    while True:
                        dl = await reader.readline()
                        if not dl or dl in (b".\r\n", b".\n"):
                            break
                    with open(self.record, "a") as f:
                        f.writelines(r + "\n" for r in rcpts)
                    rcpts = []
                    writer.write(b"250 2.0.0 Ok: queued\r\n")
                elif verb == "RSET":
                    rcpts = []
                    writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == "QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 Ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def stop(self):
        def _stop():
            if self.server:
                self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(_stop)
        self.thread.join(10)


class Sink:
    def __init__(self, root: Path, ringmta_bin: str | None, kind: str = "auto"):
        self.dir = root / "sink"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.record = self.dir / "record.txt"
        self.log = self.dir / "sink.log"
        self.host = "127.0.0.1"
        self.port = free_port((socket.AF_INET,))
        self.bin = ringmta_bin
        if kind == "auto":
            kind = "ringmta" if ringmta_bin and os.access(ringmta_bin, os.X_OK) else "python"
        self.kind = kind
        self.proc: subprocess.Popen | None = None
        self.pysink: _PySink | None = None

    def start(self):
        self.record.touch()
        if self.kind == "ringmta":
            logf = open(self.log, "wb")
            self.proc = subprocess.Popen(
                [self.bin, "sink", "--listen", f"{self.host}:{self.port}", "--record", str(self.record)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
            logf.close()
            wait_for_port(self.host, self.port, 20, self.proc, "ringmta sink")
        else:
            self.pysink = _PySink(self.host, self.port, self.record)
            self.pysink.start()
            wait_for_port(self.host, self.port, 10, None, "python sink")

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
            self.proc = None
        if self.pysink is not None:
            self.pysink.stop()
            self.pysink = None

    def recipients(self) -> list[str]:
        """Every recorded recipient (normalised: no angle brackets, lower case)."""
        try:
            text = self.record.read_text("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            m = re.search(r"<([^>]*)>", line)
            addr = m.group(1) if m else line.split()[0]
            out.append(addr.lower())
        return out

    def recipients_for(self, domain: str) -> list[str]:
        suffix = "@" + domain.lower()
        return [r for r in self.recipients() if r.endswith(suffix)]

    def wait_for(self, domain: str, count: int, timeout: float = 60.0, settle: float = 1.0) -> list[str]:
        """Polls the record until `count` recipients of `domain` arrived (bounded), then waits `settle`
        seconds more so that extra (duplicate) deliveries would show up too."""
        deadline = time.monotonic() + timeout
        got = self.recipients_for(domain)
        while len(got) < count and time.monotonic() < deadline:
            time.sleep(0.25)
            got = self.recipients_for(domain)
        if len(got) >= count and settle:
            time.sleep(settle)
            got = self.recipients_for(domain)
        return got


# ---------------------------------------------------------------------------------------------------------------
# Dovecot: SASL for Postfix, POP3 for POP-before-SMTP


class Dovecot:
    def __init__(self, root: Path, popmap: Path):
        self.dir = root / "dovecot"
        self.popmap = popmap
        self.auth_port = free_port((socket.AF_INET,))
        self.pop3_port = free_port((socket.AF_INET,))
        self.log = self.dir / "dovecot.log"
        self.conf = self.dir / "dovecot.conf"
        self.proc: subprocess.Popen | None = None

    def write_config(self):
        d = self.dir
        for sub in ("run", "state", "home", "mail"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        os.chmod(d / "run", 0o755)
        # mail and home belong to the (static) mail user
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrgid(nobody.pw_gid)
        for sub in ("home", "mail"):
            os.chmod(d / sub, 0o1777)
        users = d / "users"
        users.write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in USERS.items()))
        os.chmod(users, 0o644)
        script = d / "postlogin.sh"
        # Runs after every successful POP3 login: authorise the client's IP for relaying in Postfix's
        # texthash map (the pop-before-smtp listener reads it fresh for each connection), then go on.
        script.write_text(f"""#!/bin/sh
map={self.popmap}
tmp="$map.$$"
{{ grep -v "^$IP[[:space:]]" "$map" 2>/dev/null; echo "$IP OK"; }} > "$tmp" && mv -f "$tmp" "$map"
echo "$(date '+%F %T') pop-before-smtp: authorised $IP for $USER" >> {d}/postlogin.log
exec "$@"
""")
        os.chmod(script, 0o755)
        self.conf.write_text(f"""# ringmta integration tests: private Dovecot (SASL over TCP + POP3)
instance_name = ringmta-test-{os.getpid()}-{self.auth_port}
base_dir = {d}/run
state_dir = {d}/state
protocols = pop3
listen = 127.0.0.1
log_path = {self.log}
auth_verbose = yes
auth_mechanisms = plain login cram-md5
disable_plaintext_auth = no
ssl = no
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
last_valid_uid = 0
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid={nobody.pw_uid} gid={nogroup.gr_gid} home={d}/home/%u
}}
service auth {{
  inet_listener auth-tcp {{
    address = 127.0.0.1
    port = {self.auth_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service pop3 {{
  executable = pop3 postlogin
}}
service postlogin {{
  executable = script-login {script}
  unix_listener postlogin {{
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")

    def start(self):
        self.write_config()
        check = run(["doveconf", "-c", str(self.conf), "-n"], check=False)
        if check.returncode != 0:
            raise RuntimeError(f"doveconf rejected the configuration:\n{check.stdout}")
        out = open(self.dir / "dovecot.stdout", "wb")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        wait_for_port("127.0.0.1", self.auth_port, 20, self.proc, "dovecot auth")
        wait_for_port("127.0.0.1", self.pop3_port, 20, self.proc, "dovecot pop3")
        banner = read_banner("127.0.0.1", self.pop3_port)
        if not banner.startswith("+OK"):
            raise RuntimeError(f"dovecot POP3 banner: {banner!r}")

    def stop(self):
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        # Dovecot's children are in the process group we started it in.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.proc = None

    def pop3_login(self, user: str, password: str, timeout: float = 10) -> str:
        """Logs in over POP3 (USER/PASS) like a mail client would; returns the server's last reply."""
        with socket.create_connection(("127.0.0.1", self.pop3_port), timeout) as s:
            f = s.makefile("rwb")

            def cmd(line: str | None) -> str:
                if line is not None:
                    f.write(line.encode() + b"\r\n")
                    f.flush()
                return f.readline().decode().strip()

            cmd(None)
            cmd(f"USER {user}")
            reply = cmd(f"PASS {password}")
            cmd("QUIT")
            return reply


# ---------------------------------------------------------------------------------------------------------------
# Postfix: the smart host


class Postfix:
    # name -> (description, -o overrides). Every listener relays to the sink via relayhost.
    SASL = ["smtpd_sasl_auth_enable=yes", "smtpd_sasl_type=dovecot", "smtpd_sasl_path=inet:127.0.0.1:{auth}",
            "smtpd_tls_security_level=may", "smtpd_tls_auth_only=yes",
            "smtpd_relay_restrictions=permit_sasl_authenticated,reject_unauth_destination"]
    LISTENERS = {
        "submission": ("STARTTLS, AUTH after STARTTLS (Dovecot SASL)", SASL),
        "implicit": ("implicit TLS (wrapper mode), AUTH",
                     SASL + ["smtpd_tls_wrappermode=yes", "smtpd_tls_security_level=encrypt"]),
        "helo": ("like submission, and the EHLO name must be a FQDN",
                 SASL + ["smtpd_helo_required=yes",
                         "smtpd_helo_restrictions=reject_invalid_helo_hostname,reject_non_fqdn_helo_hostname"]),
        "senderlogin": ("like submission, and the envelope sender must belong to the logged-in user",
                        SASL + ["smtpd_sender_login_maps=texthash:{conf}/sender_login",
                                "smtpd_sender_restrictions=reject_sender_login_mismatch"]),
        "popbefore": ("no AUTH; relaying only for client IPs authorised by a POP3 login",
                      ["smtpd_sasl_auth_enable=no", "smtpd_tls_security_level=may",
                       "smtpd_relay_restrictions=check_client_access,texthash:{popmap},reject_unauth_destination",
                       "max_use=1"]),
        "mx": ("an MX host for direct delivery (127.0.0.4 only): STARTTLS offered, mail for any domain "
               "accepted (but the recipients RECIPIENT_ACCESS refuses) and relayed on to the sink; mail for "
               "MAILBOX_DOMAIN goes into a Maildir",
               ["smtpd_sasl_auth_enable=no", "smtpd_tls_security_level=may", "mynetworks=127.0.0.0/8",
                "smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination",
                "smtpd_recipient_restrictions=check_recipient_access,texthash:{conf}/recipient_access",
                # thousands of refused recipients per connection (test_bounces.py) without Postfix's
                # tarpit (1 s per error after 10) or its 421 after 20 errors
                "smtpd_error_sleep_time=0", "smtpd_soft_error_limit=5000", "smtpd_hard_error_limit=5000"]),
        "dkimverify": ("an MX host whose OpenDKIM milter (inet:127.0.0.1:{milter}, started by test_dkim.py) "
                       "verifies DKIM signatures and adds Authentication-Results; mail for DKIM_DOMAIN goes into "
                       "a Maildir",
                       ["smtpd_sasl_auth_enable=no", "smtpd_tls_security_level=may", "mynetworks=127.0.0.0/8",
                        "smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination",
                        "smtpd_milters=inet:127.0.0.1:{milter}", "milter_default_action=tempfail",
                        # Postfix waits 300 s for a milter's verdict on the content by default: a DNS lookup
                        # lost under load would hold the message (and ringmta's 10-minute wait for the
                        # final reply); 20 s, then a 451 that ringmta retries.
                        "milter_connect_timeout=10s", "milter_command_timeout=10s",
                        "milter_content_timeout=20s"]),
    }
    # Listeners on other addresses than 127.0.0.1 and ::1 (the port is picked free on 127.0.0.1).
    LISTENER_HOSTS = {"mx": ("127.0.0.4",)}
    MX_HOST = "127.0.0.4"
    # The "mx" listener refuses these recipients (test_bounces.py): a real server's 5xx and 4xx.
    RECIPIENT_ACCESS = {
        "unknown1@rcpt.bt.test": "550 5.1.1 <unknown1@rcpt.bt.test>: Recipient address rejected: User unknown",
        "unknown2@rcpt.bt.test": "550 5.1.1 <unknown2@rcpt.bt.test>: Recipient address rejected: User unknown",
        "busy@rcpt.bt.test": "450 4.2.1 <busy@rcpt.bt.test>: Recipient address rejected: Mailbox busy",
        "allbad.bt.test": "550 5.1.1 Recipient address rejected: No such user here",
        "gone@bounces.test": "550 5.1.1 <gone@bounces.test>: Recipient address rejected: Mailbox gone",
        # Gmail's words for mail that fails DMARC (test_bounces.py: the domain is held, nothing bounced).
        "unauth.bt.test": "550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender "
                          "and Gmail users, and has been blocked.",
    }
    # Accepted at RCPT, then bounced by Postfix itself (local delivery: no such user): a late bounce.
    LATE_BOUNCE_DOMAIN = "latebounce.bt.test"
    # Mail for this domain is delivered by Postfix's virtual agent into one Maildir (mailbox_dir).
    MAILBOX_DOMAIN = "bounces.test"
    # And this one into another (mailbox_dir_of), for the DKIM verification behind OpenDKIM.
    DKIM_DOMAIN = "dkim.test"

    def __init__(self, root: Path, sink: Sink, dovecot: Dovecot, popmap: Path):
        self.root = root
        self.conf = root / "postfix"
        self.queue = root / "postfix-queue"
        self.data = root / "postfix-data"
        self.log = root / "postfix.log"
        self.popmap = popmap
        self.sink = sink
        self.dovecot = dovecot
        self.ports = {name: free_port() for name in self.LISTENERS}
        self.milter_port = free_port((socket.AF_INET,))  # OpenDKIM's, when a test starts it
        self.cert: Path | None = None
        self.key: Path | None = None
        self.started = False
        self.mailboxes = root / "mailboxes"

    @property
    def mailbox_dir(self) -> Path:
        """The Maildir every address at MAILBOX_DOMAIN delivers into."""
        return self.mailbox_dir_of(self.MAILBOX_DOMAIN)

    def mailbox_dir_of(self, domain: str) -> Path:
        """The Maildir every address at domain (MAILBOX_DOMAIN or DKIM_DOMAIN) delivers into."""
        return self.mailboxes / domain

    # -- /etc/postfix/main.cf: the default instance must list our config directory ------------------------------

    @staticmethod
    @contextlib.contextmanager
    def _default_main_cf_locked():
        DEFAULT_MAIN_CF.parent.mkdir(parents=True, exist_ok=True)
        with open(DEFAULT_MAIN_CF.parent / ".ringmta-tests.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @staticmethod
    def _edit_default_main_cf(edit):
        with Postfix._default_main_cf_locked():
            text = DEFAULT_MAIN_CF.read_text() if DEFAULT_MAIN_CF.exists() else ""
            params = {}
            for line in text.splitlines():
                m = re.match(r"^([a-z_0-9]+)\s*=\s*(.*)$", line)
                if m:
                    params[m.group(1)] = m.group(2)
            alt = [x for x in re.split(r"[\s,]+", params.get("alternate_config_directories", "")) if x]
            pre = [x for x in re.split(r"[\s,]+", params.get("maillog_file_prefixes", "/var, /dev/stdout")) if x]
            alt, pre = edit(alt, pre)
            # forget directories of earlier runs that are gone (a crashed run cannot clean up)
            alt = [a for a in dict.fromkeys(alt) if Path(a).is_dir()]
            pre = list(dict.fromkeys(pre))
            new = {"alternate_config_directories": ", ".join(alt), "maillog_file_prefixes": ", ".join(pre)}
            out, seen = [], set()
            for line in text.splitlines():
                m = re.match(r"^([a-z_0-9]+)\s*=", line)
                if m and m.group(1) in new:
                    seen.add(m.group(1))
                    out.append(f"{m.group(1)} = {new[m.group(1)]}")
                else:
                    out.append(line)
            if not text:
                out.append("# Default Postfix instance: not configured for mail on this machine (debconf: No"
                           " configuration).")
                out.append("# ringmta's integration tests register their private instances below.")
                out.append("compatibility_level = 3.6")
            for k, v in new.items():
                if k not in seen:
                    out.append(f"{k} = {v}")
            tmp = DEFAULT_MAIN_CF.with_suffix(".ringmta-tmp")
            tmp.write_text("\n".join(out) + "\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, DEFAULT_MAIN_CF)

    def _register(self):
        prefix = str(self.root.parent)

        def edit(alt, pre):
            if prefix not in pre:
                pre.append(prefix)
            # Entries of runs that were killed before their teardown: their directories are gone.
            return [a for a in alt if Path(a).is_dir()] + [str(self.conf)], pre
        self._edit_default_main_cf(edit)

    def _unregister(self):
        self._edit_default_main_cf(lambda alt, pre: ([a for a in alt if a != str(self.conf)], pre))

    # -- instance --------------------------------------------------------------------------------------------------

    def write_config(self):
        self.conf.mkdir(parents=True, exist_ok=True)
        for d in (self.queue, self.data):
            d.mkdir(parents=True, exist_ok=True)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.chmod(self.data, 0o700)
        os.chown(self.queue, 0, 0)
        os.chmod(self.queue, 0o755)
        self.cert, self.key = make_certificate(self.conf)
        (self.conf / "sender_login").write_text("alice@example.org alice\nbob@example.org bob\n")
        # local(8) finds no such user after smtpd accepted the recipient (it does not know the
        # domain is local): Postfix bounces it itself. (The error transport would refuse at RCPT.)
        (self.conf / "transport").write_text(f"{self.LATE_BOUNCE_DOMAIN} local:\n")
        (self.conf / "recipient_access").write_text(
            "".join(f"{k} {v}\n" for k, v in self.RECIPIENT_ACCESS.items()))
        self.mailboxes.mkdir(parents=True, exist_ok=True)
        (self.conf / "mailboxes").write_text(
            "".join(f"@{d} {d}/\n" for d in (self.MAILBOX_DOMAIN, self.DKIM_DOMAIN)))
        os.chown(self.mailboxes, pf.pw_uid, pf.pw_gid)
        if not self.popmap.exists():
            self.popmap.write_text("")
        os.chmod(self.popmap, 0o666)
        sink = f"[{self.sink.host}]:{self.sink.port}"
        (self.conf / "main.cf").write_text(f"""# ringmta integration tests: private Postfix smart host
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
maillog_file = {self.log}
maillog_file_prefixes = {self.root.parent}
myhostname = {CERT_NAME}
mydomain = test
myorigin = $myhostname
mydestination =
relay_domains =
mynetworks = 127.0.0.2/32
inet_interfaces = loopback-only
inet_protocols = all
relayhost = {sink}
smtp_tls_security_level = none
smtp_host_lookup = native
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP ringmta-test
smtpd_tls_cert_file = {self.cert}
smtpd_tls_key_file = {self.key}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{self.dovecot.auth_port}
smtpd_sasl_auth_enable = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
anvil_rate_time_unit = 60s
default_process_limit = 60
smtp_destination_concurrency_limit = 8
default_destination_concurrency_limit = 8
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
in_flow_delay = 0
biff = no
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
virtual_mailbox_domains = {self.MAILBOX_DOMAIN}, {self.DKIM_DOMAIN}
virtual_mailbox_base = {self.mailboxes}
virtual_mailbox_maps = texthash:{self.conf}/mailboxes
virtual_uid_maps = static:{pf.pw_uid}
virtual_gid_maps = static:{pf.pw_gid}
virtual_minimum_uid = 1
transport_maps = texthash:{self.conf}/transport
""")
        subst = {"auth": self.dovecot.auth_port, "conf": self.conf, "popmap": self.popmap,
                 "milter": self.milter_port}
        lines = ["# ringmta integration tests: listeners (each with its own requirements) and the usual services",
                 "# service type  private unpriv  chroot  wakeup  maxproc command + args"]
        for name, (desc, opts) in self.LISTENERS.items():
            port = self.ports[name]
            for host in self.LISTENER_HOSTS.get(name, ("127.0.0.1", "[::1]")):
                lines.append(f"# {name}: {desc}")
                lines.append(f"{host}:{port} inet n - n - - smtpd")
                lines.append(f"  -o syslog_name=postfix/{name}")
                for o in opts:
                    lines.append("  -o " + o.format(**subst))
        lines += [
            "pickup    unix  n       -       n       60      1       pickup",
            "cleanup   unix  n       -       n       -       0       cleanup",
            "qmgr      unix  n       -       n       300     1       qmgr",
            "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
            "rewrite   unix  -       -       n       -       -       trivial-rewrite",
            "bounce    unix  -       -       n       -       0       bounce",
            "defer     unix  -       -       n       -       0       bounce",
            "trace     unix  -       -       n       -       0       bounce",
            "verify    unix  -       -       n       -       1       verify",
            "flush     unix  n       -       n       1000?   0       flush",
            "proxymap  unix  -       -       n       -       -       proxymap",
            "proxywrite unix -       -       n       -       1       proxymap",
            "smtp      unix  -       -       n       -       -       smtp",
            "relay     unix  -       -       n       -       -       smtp",
            "showq     unix  n       -       n       -       -       showq",
            "error     unix  -       -       n       -       -       error",
            "retry     unix  -       -       n       -       -       error",
            "discard   unix  -       -       n       -       -       discard",
            "local     unix  -       n       n       -       -       local",
            "virtual   unix  -       n       n       -       -       virtual",
            "lmtp      unix  -       -       n       -       -       lmtp",
            "anvil     unix  -       -       n       -       1       anvil",
            "scache    unix  -       -       n       -       1       scache",
            "postlog   unix-dgram n  -       n       -       1       postlogd",
        ]
        (self.conf / "master.cf").write_text("\n".join(lines) + "\n")

    def postfix(self, *args, check=True, timeout=60):
        return run(["postfix", "-c", str(self.conf), *args], check=check, timeout=timeout)

    def start(self):
        self.write_config()
        self._register()
        # let `postfix check` create the queue's subdirectories with the right owners
        chk = self.postfix("check", check=False)
        if chk.returncode != 0:
            raise RuntimeError(f"postfix check failed:\n{chk.stdout}\n{self.log_tail()}")
        st = self.postfix("start", check=False)
        self.started = True
        if st.returncode != 0:
            raise RuntimeError(f"postfix start failed ({st.returncode}):\n{st.stdout}\n{self.log_tail()}")
        for name, port in self.ports.items():
            for host in self.LISTENER_HOSTS.get(name, ("127.0.0.1", "::1")):
                wait_for_port(host, port, 30, None, f"postfix {name}")
        banner = read_banner("127.0.0.1", self.ports["submission"])
        if not banner.startswith("220 "):
            raise RuntimeError(f"postfix banner: {banner!r}")

    def master_pid(self) -> int | None:
        try:
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if self.started:
            with contextlib.suppress(Exception):
                self.postfix("stop", check=False, timeout=30)
            master = self.master_pid()
            pids = pids_with_env("MAIL_CONFIG", str(self.conf))
            if master and pid_alive(master):
                pids.append(master)
            left = wait_gone(pids, 10)
            if left:
                kill_pids(left, signal.SIGKILL)
                wait_gone(left, 5)
            self.started = False
        with contextlib.suppress(Exception):
            self._unregister()

    def log_tail(self, n=60) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no postfix log)"

    def queue_count(self) -> int:
        """Messages still in the instance's queue (incoming/active/deferred/hold/maildrop)."""
        total = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(self.queue / sub):
                total += len(files)
        return total


# ---------------------------------------------------------------------------------------------------------------


class Stack:
    """Sink + Dovecot + Postfix, started in order and torn down in reverse, in a private temp directory."""

    def __init__(self, ringmta_bin: str | None = None, sink_kind: str = "auto", base: str | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="ringmta-it-", dir=base))
        os.chmod(self.root, 0o755)
        self.popmap = self.root / "popmap" / "pop-before-smtp"
        self.popmap.parent.mkdir()
        os.chmod(self.popmap.parent, 0o1777)
        self.sink = Sink(self.root, ringmta_bin, sink_kind)
        self.dovecot = Dovecot(self.root, self.popmap)
        self.postfix = Postfix(self.root, self.sink, self.dovecot, self.popmap)

    @property
    def ports(self):
        return self.postfix.ports

    @property
    def ca_file(self) -> Path:
        return self.postfix.cert

    def start(self):
        try:
            self.sink.start()
            self.dovecot.start()
            self.postfix.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[str]:
        """Stops everything; returns complaints (ports still taken) rather than raising."""
        problems = []
        for part in (self.postfix, self.dovecot, self.sink):
            try:
                part.stop()
            except Exception as e:  # keep tearing down the rest
                problems.append(f"stopping {type(part).__name__}: {e!r}")
        ports = list(self.postfix.ports.values()) + [self.dovecot.auth_port, self.dovecot.pop3_port,
                                                     self.sink.port]
        deadline = time.monotonic() + 10
        busy = ports
        while busy and time.monotonic() < deadline:
            busy = [p for p in ports if not port_is_free(p, (socket.AF_INET,), reuse=True)]
            if busy:
                time.sleep(0.2)
        if busy:
            problems.append(f"ports still in use after teardown: {busy}")
        return problems

    def clear_popmap(self):
        self.popmap.write_text("")

    def logs(self) -> list[Path]:
        return [p for p in (self.postfix.log, self.dovecot.log, self.dovecot.dir / "dovecot.stdout",
                            self.dovecot.dir / "postlogin.log", self.sink.log, self.sink.record,
                            self.postfix.conf / "main.cf", self.postfix.conf / "master.cf",
                            self.dovecot.conf, self.popmap) if p.exists()]

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    binary = os.environ.get("RINGMTA_BIN")
    st = Stack(binary, os.environ.get("RINGMTA_TEST_SINK", "auto"))
    st.start()
    print(f"root       {st.root}")
    print(f"sink       {st.sink.kind} 127.0.0.1:{st.sink.port} record {st.sink.record}")
    print(f"dovecot    auth 127.0.0.1:{st.dovecot.auth_port} pop3 127.0.0.1:{st.dovecot.pop3_port}")
    for n, p in st.ports.items():
        print(f"postfix    {n:12} 127.0.0.1:{p} [::1]:{p}")
    print(f"ca-file    {st.ca_file}")
    print("Ctrl-C to stop", flush=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        print("\n".join(st.stop()) or "stopped")
        if not os.environ.get("KEEP"):
            st.cleanup()
