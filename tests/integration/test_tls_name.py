"""`--tls-name` (issue 17): a smart host reached by its IP address whose certificate names only its host — the
usual case on a local network — is verified against the name given with --tls-name (and gets it as SNI),
instead of failing with "IP address mismatch" or needing --insecure. Without the flag the refusal's diagnosis
suggests it; a wrong name is still refused; the flag is a usage error with --tls none or --direct. Real
`ringmta send` against `ringmta sink` offering STARTTLS with a certificate for mail.lan.test only; 127.0.0.1. Also the check of the
other name the user gives the smart host, --ehlo: a host name or an address literal, else exit 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_queue_command import rm, show  # noqa: E402

NAME = "mail.lan.test"
ADDRESSES = [f"user{i}@example.test" for i in range(5)]


@pytest.fixture
def lan_host(tmp_path, sink):
    """A sink on 127.0.0.1 with STARTTLS and a self-signed certificate naming only mail.lan.test."""
    cert, key = tmp_path / "lan.pem", tmp_path / "lan.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}",
                    "-addext", "basicConstraints=critical,CA:TRUE"], check=True, capture_output=True)
    return sink(args=["--tls-cert", cert, "--tls-key", key]), cert


def send(tmp_path: Path, port: int, *extra) -> subprocess.CompletedProcess:
    message = tmp_path / "m.eml"
    message.write_text("From: news@sender.test\nSubject: Hi\n\nHello\n")
    csv = tmp_path / "list.csv"
    csv.write_text("email\n" + "".join(f"{a}\n" for a in ADDRESSES))
    return rm("send", "--message", message, "--recipients", csv, "--queue", tmp_path / "queue", "--json",
              "--no-progress", "--admin", "none", "--smarthost", f"127.0.0.1:{port}", "--new-campaign", *extra)


def test_the_certificates_name_verifies_a_host_reached_by_its_address(tmp_path, lan_host):
    sk, cert = lan_host
    r = send(tmp_path, sk.port, "--ca-file", cert, "--tls-name", NAME)
    assert r.returncode == 0 and r.json["delivered"] == 5, show(r)
    assert sorted(sk.record.read_text().split()) == sorted(ADDRESSES)


def test_without_it_the_ip_mismatch_is_diagnosed_with_the_way_out(tmp_path, lan_host):
    sk, cert = lan_host
    r = send(tmp_path, sk.port, "--ca-file", cert)
    assert r.returncode == 3 and r.json["delivered"] == 0 and r.json["failed"] == 0, show(r)
    assert "--tls-name" in (r.json["diagnosis"] or ""), show(r)
    assert not sk.record.exists() or sk.record.read_text() == ""


def test_a_wrong_name_is_still_refused(tmp_path, lan_host):
    sk, cert = lan_host
    r = send(tmp_path, sk.port, "--ca-file", cert, "--tls-name", "other.lan.test")
    assert r.returncode == 3 and r.json["delivered"] == 0, show(r)
    assert "certificat" in (r.json["diagnosis"] or "").lower(), show(r)


@pytest.mark.parametrize("extra, said", [
    (["--tls", "none", "--tls-name", NAME], "--tls none"),
    (["--tls-name", "10.0.0.1 x"], "not a host name"),
])
def test_usage_errors(tmp_path, lan_host, extra, said):
    sk, _ = lan_host
    r = send(tmp_path, sk.port, *extra)
    assert r.returncode == 2 and said in r.stderr, show(r)


def test_not_with_direct(tmp_path):
    message = tmp_path / "m.eml"
    message.write_text("From: news@sender.test\nSubject: Hi\n\nHello\n")
    csv = tmp_path / "list.csv"
    csv.write_text("email\na@example.test\n")
    r = rm("send", "--message", message, "--recipients", csv, "--queue", tmp_path / "queue", "--direct",
           "--tls-name", NAME, "--admin", "none")
    assert r.returncode == 2 and "--tls-name is for a smart host" in r.stderr, show(r)


@pytest.mark.parametrize("ehlo, ok", [
    ("mail.example.org", True), ("[127.0.0.1]", True), ("[IPv6:::1]", True),
    ("mail.example.org\r\nMAIL FROM:<x@y.z>", False), ("mail example.org", False), ("mail.example.org.", False),
    ("[not-an-address]", False),
])
def test_ehlo_must_be_a_host_name_or_an_address_literal(tmp_path, sink, ehlo, ok):
    """An --ehlo with CR/LF, a space or a stray dot is the user's mistake (exit 2), never sent or blamed on the
    server; a name or an address literal is sent as given."""
    sk = sink()
    r = send(tmp_path, sk.port, "--tls", "none", "--ehlo", ehlo)
    if ok:
        assert r.returncode == 0 and r.json["delivered"] == 5, show(r)
    else:
        assert r.returncode == 2 and "--ehlo: not a host name" in r.stderr, show(r)
        assert not sk.record.exists() or sk.record.read_text() == ""
