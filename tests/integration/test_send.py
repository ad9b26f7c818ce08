"""ringmta against a real Postfix smart host (Dovecot SASL, STARTTLS / implicit TLS, Dovecot POP3), counting what
arrives at `ringmta sink` behind it. Each test has its own queue directory and its own recipient domain."""

from __future__ import annotations

import re

import pytest

from mailstack import USERS

# ---------------------------------------------------------------------------------------------------------------
# authentication


@pytest.mark.parametrize("mech", ["plain", "login", "cram-md5"])
def test_auth_mechanism_delivers(job, mech):
    r = job.send(*job.route(auth=mech))
    job.assert_all_delivered(r)


def test_auth_auto_delivers_with_password_from_env(job):
    route = job.route(user=None) + ["--user", "bob"]
    r = job.ringmta("send", "--message", job.message, "--recipients", job.recipients, "--queue", job.queue,
                    "--json", "--no-progress", *route, env={"RINGMTA_PASSWORD": USERS["bob"]})
    job.assert_all_delivered(r)


def test_no_credentials_diagnosed_then_run_delivers_queue(job):
    r = job.send(*job.route(user=None))
    job.assert_paused(r, r"--user|user|password|credential", "the missing user name/password")
    job.assert_nothing_at_sink()
    # the same queue, resumed with credentials, delivers every recipient
    r2 = job.run(*job.route())
    job.assert_all_delivered(r2)


def test_wrong_password_diagnosed(job):
    job.set_password("not-the-password")
    r = job.send(*job.route())
    job.assert_paused(r, r"authentication failed|535", "authentication failed (535)")
    job.assert_nothing_at_sink()


# ---------------------------------------------------------------------------------------------------------------
# TLS and addressing of the smart host


def test_implicit_tls_delivers(job):
    r = job.send(*job.route("implicit", tls="implicit"))
    job.assert_all_delivered(r)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def test_ip_literal_smarthost_delivers(job, host):
    r = job.send(*job.route(host=host))
    job.assert_all_delivered(r)


def test_self_signed_certificate_refused_without_ca_file(job):
    r = job.send(*job.route(ca=False))
    job.assert_paused(r, r"certificat", "the certificate")
    job.assert_nothing_at_sink()


def test_insecure_accepts_self_signed_certificate(job):
    r = job.send(*job.route(ca=False, extra=["--insecure"]))
    job.assert_all_delivered(r)


# ---------------------------------------------------------------------------------------------------------------
# policy refusals that are configuration problems: diagnosed, nothing bounced


def test_non_fqdn_ehlo_diagnosed(job):
    r = job.send(*job.route("helo", extra=["--ehlo", "localhost"]))
    job.assert_paused(r, r"EHLO|HELO", "the EHLO name")
    job.assert_nothing_at_sink()


def test_fqdn_ehlo_override_delivers(job):
    r = job.send(*job.route("helo", extra=["--ehlo", "mail.example.org"]))
    job.assert_all_delivered(r)


def test_sender_login_mismatch_diagnosed(job):
    r = job.send(*job.route("senderlogin", extra=["--sender", "someone@else.test"]))
    job.assert_paused(r, r"sender", "the envelope sender")
    job.assert_nothing_at_sink()


def test_sender_owned_by_login_delivers(job):
    r = job.send(*job.route("senderlogin", extra=["--sender", "alice@example.org"]))
    job.assert_all_delivered(r)


def test_pop_before_smtp(stack, job_factory):
    stack.clear_popmap()
    pop = f"127.0.0.1:{stack.dovecot.pop3_port}"
    denied = job_factory(suffix="denied")
    r = denied.send(*denied.route("popbefore"))
    denied.assert_paused(r, r"POP.?before.?SMTP", "POP-before-SMTP")
    denied.assert_nothing_at_sink()
    assert "127.0.0.1" not in stack.popmap.read_text()

    ok = job_factory(suffix="ok")
    r = ok.send(*ok.route("popbefore", extra=["--pop-before-smtp", pop]))
    ok.assert_all_delivered(r)
    assert "127.0.0.1 OK" in stack.popmap.read_text(), "ringmta did not log in over POP3"

    # the queue paused above is delivered once the route logs in over POP3 first
    stack.clear_popmap()
    r = denied.run(*denied.route("popbefore", extra=["--pop-before-smtp", pop]))
    denied.assert_all_delivered(r)
    stack.clear_popmap()


# ---------------------------------------------------------------------------------------------------------------
# ringmta check


def test_check_accepted_with_credentials(job):
    r = job.check(f"probe@{job.domain}", *job.route())
    assert r.rc == 0, str(r)
    assert "relaying would be accepted" in r.output.lower(), str(r)
    job.assert_nothing_at_sink()


def test_check_diagnoses_missing_credentials(job):
    r = job.check(f"probe@{job.domain}", *job.route(user=None))
    assert r.rc == 3, str(r)
    assert "relaying would be accepted" not in r.output.lower(), str(r)
    assert re.search(r"--user|user|password|credential", r.output, re.I), str(r)


# ---------------------------------------------------------------------------------------------------------------
# volume and input validation


def test_ten_thousand_recipients_counted_behind_postfix(job_factory):
    job = job_factory(n=10_000)
    r = job.send(*job.route(), timeout=420)
    job.assert_all_delivered(r, timeout=240)


def test_bad_csv_rows_rejected_with_line_numbers(job):
    d = job.domain
    rows = [
        "email,name",                                   # line 1: header
        f"good1@{d},One",                               # 2 ok
        "not-an-address,Bad",                           # 3 bad address
        f"good2@{d},Two",                               # 4 ok
        f"good3@{d},Three,extra",                       # 5 wrong column count
        f"good4@{d},Four",                              # 6 ok
        f'"evil@{d}","Evil\r\nBcc: victim@{d}"',        # 7-8 CR/LF in a value that lands in Subject:/To:
    ]
    job.recipients.write_text("\r\n".join(rows) + "\r\n", newline="")
    r = job.send(*job.route())
    assert r.json is not None, str(r)
    assert r.json.get("rejected_rows") == 3, str(r)
    job.assert_all_delivered(r, count=3)
    got = sorted(set(job.stack.sink.recipients_for(d)))
    assert got == [f"good1@{d}", f"good2@{d}", f"good4@{d}"], got
    assert job.rejects.exists(), "no rejects file written"
    rejects = job.rejects.read_text("utf-8", "replace")
    numbers = {int(n) for n in re.findall(r"\b(\d+)\b", rejects)}
    assert {3, 5} <= numbers, f"rejects file should name lines 3 and 5:\n{rejects}"
    assert numbers & {7, 8}, f"rejects file should name line 7 (the CR/LF row):\n{rejects}"
