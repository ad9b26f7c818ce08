"""The harness checks itself with swaks: the private Postfix smart host refuses and accepts exactly what the
ringmta tests rely on. If these fail, the problem is the test infrastructure, not ringmta."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest

from mailstack import USERS


def swaks(stack, listener, to, *args, host="127.0.0.1", sender="alice@example.org", timeout=60):
    cmd = ["swaks", "--server", host, "--port", str(stack.ports[listener]), "--from", sender, "--to", to,
           "--h-Subject", "harness check", "--body", "harness check", "--timeout", "20", *args]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def unique(tag):
    return f"{tag}-{uuid.uuid4().hex[:8]}@swaks-{tag}.dest.test"


AUTH = ["-tls", "-a", "PLAIN", "-au", "alice", "-ap", USERS["alice"]]


def expect_accepted(stack, rc, out, to):
    assert rc == 0, out
    assert re.search(r"250 2\.0\.0 Ok: queued", out), out
    dom = to.split("@")[1]
    got = stack.sink.wait_for(dom, 1, timeout=30, settle=0)
    assert to.lower() in got, f"{to} not recorded by the sink ({stack.sink.kind})\n{stack.postfix.log_tail(20)}"


def test_relay_denied_without_auth(stack):
    rc, out = swaks(stack, "submission", unique("noauth"), "-tls")
    assert rc != 0
    assert "554 5.7.1" in out and "Relay access denied" in out, out


def test_auth_only_after_starttls(stack):
    rc, out = swaks(stack, "submission", unique("clear"), "--quit-after", "EHLO")
    assert rc == 0, out
    assert "STARTTLS" in out and "AUTH" not in out, out
    rc, out = swaks(stack, "submission", unique("tls"), "-tls", "--quit-after", "EHLO")
    assert re.search(r"250-AUTH PLAIN LOGIN CRAM-MD5", out), out


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_mechanisms_relay(stack, mech):
    to = unique(mech.lower())
    rc, out = swaks(stack, "submission", to, "-tls", "-a", mech, "-au", "bob", "-ap", USERS["bob"])
    expect_accepted(stack, rc, out, to)


def test_wrong_password_535(stack):
    rc, out = swaks(stack, "submission", unique("badpw"), "-tls", "-a", "PLAIN", "-au", "alice", "-ap", "nope")
    assert rc != 0
    assert "535 5.7.8" in out, out


def test_implicit_tls(stack):
    to = unique("implicit")
    rc, out = swaks(stack, "implicit", to, "-tlsc", "-a", "PLAIN", "-au", "alice", "-ap", USERS["alice"])
    expect_accepted(stack, rc, out, to)


def test_helo_check(stack):
    rc, out = swaks(stack, "helo", unique("helo"), *AUTH, "--ehlo", "localhost")
    assert rc != 0
    assert "Helo command rejected: need fully-qualified hostname" in out, out
    to = unique("helofqdn")
    rc, out = swaks(stack, "helo", to, *AUTH, "--ehlo", "mail.example.org")
    expect_accepted(stack, rc, out, to)


def test_sender_login_mismatch(stack):
    rc, out = swaks(stack, "senderlogin", unique("mismatch"), *AUTH, sender="someone@else.test")
    assert rc != 0
    assert "Sender address rejected: not owned by user alice" in out, out
    to = unique("owned")
    rc, out = swaks(stack, "senderlogin", to, *AUTH)
    expect_accepted(stack, rc, out, to)


def test_ipv6_literal(stack):
    to = unique("ipv6")
    rc, out = swaks(stack, "submission", to, *AUTH, host="::1")
    expect_accepted(stack, rc, out, to)


def test_certificate_verifies_with_ca_file(stack):
    for extra in (["-verify_hostname", "smarthost.test"], ["-verify_ip", "127.0.0.1"]):
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{stack.ports['implicit']}",
                            "-CAfile", str(stack.ca_file), "-verify_return_error", *extra],
                           input="", capture_output=True, text=True, timeout=30)
        assert "Verify return code: 0 (ok)" in p.stdout, p.stdout + p.stderr
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{stack.ports['implicit']}",
                        "-verify_return_error"], input="", capture_output=True, text=True, timeout=30)
    assert "Verify return code: 0 (ok)" not in p.stdout


def test_pop_before_smtp(stack):
    stack.clear_popmap()
    rc, out = swaks(stack, "popbefore", unique("popdenied"), "-tls")
    assert rc != 0
    assert "Relay access denied" in out, out
    assert stack.dovecot.pop3_login("alice", "wrong").startswith("-ERR")
    assert stack.dovecot.pop3_login("alice", USERS["alice"]).startswith("+OK")
    deadline = time.monotonic() + 10
    while "127.0.0.1" not in stack.popmap.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    to = unique("popok")
    rc, out = swaks(stack, "popbefore", to, "-tls")
    expect_accepted(stack, rc, out, to)
    stack.clear_popmap()
