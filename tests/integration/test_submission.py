"""SMTP submission into `ringmta serve` (issue 19), end to end on 127.0.0.1 with independent clients: swaks and
Python's smtplib log in over STARTTLS (port 587 style) and implicit TLS (465 style) with passwords checked against a
users file of `openssl passwd -6` hashes, and what they get 250 for is delivered to `ringmta sink` as they sent it
(its Message-ID kept, a Received: field added). A client outside --relay-networks gets 530 without AUTH; AUTH is not
offered before TLS; a user's allowed senders, message rate and recipient limit hold; `kill -9` of the service right
after the 250s loses nothing: the next start delivers every message.
"""

from __future__ import annotations

import email
import json
import signal
import smtplib
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin, stopped_after  # noqa: E402
from mailstack import free_port, make_certificate, wait_for_port  # noqa: E402
from test_serve import recorded  # noqa: E402

PASSWORD = "correct horse battery"


def hash_password(password: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


class Submission:
    """A `ringmta serve` delivering to a sink, with a submission listener (STARTTLS) and an implicit-TLS one."""

    def __init__(self, tmp: Path, smarthost_port: int, *extra: str, users: str | None = None,
                 queue: Path | None = None):
        self.tmp = tmp
        self.queue = queue or tmp / "queue"
        self.cert, self.key = (tmp / "smarthost.pem", tmp / "smarthost.key")
        if not self.cert.exists():
            make_certificate(tmp)
        self.users = tmp / "users"
        if users is not None or not self.users.exists():
            self.users.write_text(users if users is not None else f"news:{hash_password(PASSWORD)}\n")
        self.port, self.tls_port, self.admin_port = free_port(), free_port(), free_port()
        self.log_path = tmp / f"serve-{self.port}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [ringmta_bin(), "serve", "--queue", self.queue, "--smarthost", f"127.0.0.1:{smarthost_port}",
             "--tls", "none", "--ehlo", "mta.example.org", "--admin", f"127.0.0.1:{self.admin_port}",
             "--submission-listen", f"127.0.0.1:{self.port}", "--submission-tls-listen", f"127.0.0.1:{self.tls_port}",
             "--tls-cert", self.cert, "--tls-key", self.key, "--users", self.users, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, text=True)
        wait_for_port("127.0.0.1", self.port, 30, self.proc, "ringmta serve")

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client(self, login: bool = True) -> smtplib.SMTP:
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        s.starttls(context=self.tls())
        if login:
            s.login("news", PASSWORD)
        return s

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def events(self, name: str) -> list[dict]:
        return [e for e in (json.loads(line) for line in self.output().splitlines() if line.startswith("{"))
                if e.get("event") == name]

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self.log.close()
        return rc


@pytest.fixture
def submission(tmp_path):
    yield from stopped_after(lambda port, *extra, **kw: Submission(tmp_path, port, *extra, **kw))


def message(subject: str, to: str = "Reader <reader@example.com>", extra: str = "") -> str:
    return (f"From: News <news@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}\r\n"
            f"Hello.\r\n.A line that starts with a dot\r\n")


def test_swaks_over_starttls_with_auth_is_delivered_as_sent(tmp_path, sink, submission):
    kept = tmp_path / "kept"
    kept.mkdir()
    sk = sink(args=["--record-messages", kept])
    svc = submission(sk.port)
    r = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{svc.port}", "--tls", "--tls-ca-path", svc.cert, "--auth", "PLAIN",
         "--auth-user", "news", "--auth-password", PASSWORD, "--from", "news@example.org", "--to",
         "reader@example.com,second@example.net", "--header", "Message-Id: <swaks-1@example.org>",
         "--header", "Subject: by swaks", "--ehlo", "app.example.org"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  250 2.0.0 Ok: queued as" in r.stdout, r.stdout
    assert "250-AUTH PLAIN LOGIN" in r.stdout  # after STARTTLS only
    assert sorted(recorded(sk, 2)) == ["reader@example.com", "second@example.net"]
    deadline = time.monotonic() + 10
    while len(list(kept.glob("*.eml"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    copies = [email.message_from_bytes(p.read_bytes()) for p in sorted(kept.glob("*.eml"))]
    assert len(copies) == 2
    for copy in copies:
        assert copy["Message-Id"] == "<swaks-1@example.org>"  # the client's own, not a new one
        assert copy["Subject"] == "by swaks"
        assert copy["Return-Path"] == "<news@example.org>"
        received = copy["Received"]
        assert received.startswith("from app.example.org ([127.0.0.1])"), received
        assert "by mta.example.org (ringmta) with ESMTPSA id" in received, received
    assert svc.stop() == 0
    stopped = svc.events("submission_stopped")
    assert stopped and stopped[0]["messages"] == 1 and stopped[0]["recipients"] == 2, svc.output()


def test_smtplib_over_implicit_tls_one_message_to_many(tmp_path, sink, submission):
    sk = sink()
    svc = submission(sk.port)
    rcpts = [f"r{i}@many{i % 5}.test" for i in range(60)]
    with smtplib.SMTP_SSL("127.0.0.1", svc.tls_port, context=svc.tls(), timeout=30) as s:
        assert s.login("news", PASSWORD)[0] == 235
        refused = s.sendmail("news@example.org", rcpts, message("to many"))
        assert refused == {}
        # A second transaction on the same session, with BODY=8BITMIME and an 8-bit body.
        s.sendmail("news@example.org", ["utf8@example.com"],
                   message("Grüße").encode("utf-8"), mail_options=["BODY=8BITMIME"])
    assert sorted(recorded(sk, 61)) == sorted(rcpts + ["utf8@example.com"])
    # Dashboards see the listener: its families on the admin listener's /metrics, which promtool accepts.
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{svc.admin_port}/metrics", timeout=10).read().decode()
    assert "ringmta_submission_messages_total 2\n" in text and "ringmta_submission_recipients_total 61\n" in text
    assert "ringmta_submission_auth_failures_total 0\n" in text
    import shutil
    if shutil.which("promtool"):
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                              timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_without_auth_only_relay_networks_may_submit(tmp_path, sink, submission):
    sk = sink()
    svc = submission(sk.port, "--relay-networks", "10.0.0.0/8,192.168.0.0/16")
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{svc.port}", "--from", "anyone@example.org", "--to",
                        "victim@example.com"], capture_output=True, text=True, timeout=60)
    assert "<** 530 5.7.0 Authentication required" in r.stdout, r.stdout
    # Before STARTTLS no AUTH is offered, and a login is refused.
    with smtplib.SMTP("127.0.0.1", svc.port, timeout=30) as s:
        s.ehlo("client.example")
        assert not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN AG5ld3MAd3Jvbmc=")
        assert code == 538, text
    # A wrong password: 535, and the log says who tried.
    with svc.client(login=False) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("news", "wrong password")
        assert e.value.smtp_code == 535
    assert svc.stop() == 0
    failed = svc.events("submission_auth_failed")
    assert failed and failed[0]["detail"] == "news" and failed[0]["client"] == "127.0.0.1", svc.output()
    assert svc.events("submission_auth_required"), svc.output()
    # From a relay network, no AUTH is needed.
    inside = submission(sk.port, "--relay-networks", "127.0.0.0/8", queue=tmp_path / "queue2")
    with smtplib.SMTP("127.0.0.1", inside.port, timeout=30) as s:
        assert s.sendmail("app@example.org", ["relayed@example.com"], message("relayed")) == {}
    assert recorded(sk, 1) == ["relayed@example.com"]


def test_a_users_senders_rate_and_recipient_limit_hold(tmp_path, sink, submission):
    sk = sink()
    users = f"news:{hash_password(PASSWORD)}:senders=news@example.org,@lists.example.org rate=2/hour max_recipients=3\n"
    svc = submission(sk.port, users=users)
    with svc.client() as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("ceo@example.org", ["a@example.com"], message("spoofed"))
        assert e.value.smtp_code == 553 and b"not owned by user news" in e.value.smtp_error
        refused = s.sendmail("news@example.org", [f"l{i}@example.com" for i in range(4)], message("limit"))
        assert list(refused) == ["l3@example.com"] and refused["l3@example.com"][0] == 452
        s.sendmail("bulletin@lists.example.org", ["b@example.com"], message("second"))
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("news@example.org", ["c@example.com"], message("third"))
        assert e.value.smtp_code == 450 and b"2/hour" in e.value.smtp_error
    assert sorted(recorded(sk, 4)) == ["b@example.com", "l0@example.com", "l1@example.com", "l2@example.com"]


def test_kill_9_right_after_the_250s_loses_nothing(tmp_path, sink, submission):
    # The first service's smart host never answers: every message is queued, none delivered, when the service is
    # killed right after the last 250. The next start, with a working smart host, delivers every one.
    silent = sink("*:never-answer")
    svc = submission(silent.port)
    sent = []
    with svc.client() as s:
        for i in range(20):
            rcpt = f"k{i}@kill{i % 3}.test"
            assert s.sendmail("news@example.org", [rcpt], message(f"k{i}")) == {}
            sent.append(rcpt)
    assert svc.stop(signal.SIGKILL) == -signal.SIGKILL
    good = sink()
    again = submission(good.port, queue=svc.queue)
    assert sorted(recorded(good, 20)) == sorted(sent)
    assert again.stop() == 0


def test_a_plain_text_password_is_refused_naming_the_line(tmp_path, sink):
    sk = sink()
    cert, key = make_certificate(tmp_path)
    users = tmp_path / "users"
    users.write_text(f"# submission users\nnews:{hash_password(PASSWORD)}\nlegacy:hunter2\n")
    r = subprocess.run([ringmta_bin(), "serve", "--queue", tmp_path / "q", "--smarthost", f"127.0.0.1:{sk.port}",
                        "--tls", "none", "--ehlo", "mta.example.org", "--admin", "none",
                        "--submission-listen", f"127.0.0.1:{free_port()}", "--tls-cert", cert, "--tls-key", key,
                        "--users", users], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{users}:3: the password must be a crypt(3) hash" in r.stderr, r.stderr


def test_delivered_messages_are_deleted_from_the_queue(tmp_path, sink, submission):
    # A long-running service must not keep every submitted message forever: once its recipients are done, the
    # message goes (checked each --collect-every seconds), and the log says how many.
    sk = sink()
    svc = submission(sk.port, "--collect-every", "1", "--log-format", "json")
    with svc.client() as s:
        for i in range(5):
            assert s.sendmail("news@example.org", [f"gc{i}@example.com", f"gc{i}@example.net"], message(f"gc{i}")) == {}
    assert len(recorded(sk, 10)) == 10
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(e["messages"] for e in svc.events("messages_collected")) < 5:
        time.sleep(0.2)
    assert sum(e["messages"] for e in svc.events("messages_collected")) == 5, svc.output()
    assert svc.stop() == 0


def test_sighup_reloads_users_and_keeps_them_when_the_file_is_bad(tmp_path, sink, submission):
    sk = sink()
    svc = submission(sk.port, "--log-format", "json")
    before = svc.client()  # a session under way when the users change
    svc.users.write_text(f"news:{hash_password(PASSWORD)}\nsecond:{hash_password('another password')}\n")
    svc.proc.send_signal(signal.SIGHUP)

    def wait_event(name: str, count: int = 1) -> list[dict]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(svc.events(name)) < count:
            time.sleep(0.1)
        assert len(svc.events(name)) >= count, svc.output()
        return svc.events(name)

    assert wait_event("reload")[0]["users"] == 2
    with smtplib.SMTP("127.0.0.1", svc.port, timeout=30) as s:
        s.starttls(context=svc.tls())
        s.login("second", "another password")
        assert s.sendmail("news@example.org", ["new-user@example.com"], message("new user")) == {}
    assert before.sendmail("news@example.org", ["old-session@example.com"], message("old session")) == {}
    before.quit()
    # A broken file: the old users stay, and the log says why.
    svc.users.write_text("second:plain-text-password\n")
    svc.proc.send_signal(signal.SIGHUP)
    failed = wait_event("reload_failed")[0]
    assert f"{svc.users}:1: the password must be a crypt(3) hash" in failed["error"], failed
    with smtplib.SMTP("127.0.0.1", svc.port, timeout=30) as s:
        s.starttls(context=svc.tls())
        s.login("second", "another password")
    assert sorted(recorded(sk, 2)) == ["new-user@example.com", "old-session@example.com"]
    assert svc.stop() == 0


def test_a_suppressed_recipient_is_refused_at_rcpt(tmp_path, sink, submission):
    sk = sink()
    queue = tmp_path / "queue"
    p = subprocess.run([ringmta_bin(), "suppress", "add", "--queue", queue, "gone@example.com"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    svc = submission(sk.port, queue=queue)
    with svc.client() as s:
        refused = s.sendmail("news@example.org", ["gone@example.com", "here@example.com"], message("s"))
    assert list(refused) == ["gone@example.com"] and refused["gone@example.com"][0] == 550, refused
    assert b"suppression list" in refused["gone@example.com"][1]
    assert recorded(sk, 1) == ["here@example.com"]
