"""DKIM signing (issue 18), checked by an independent verifier: every copy a real `ringmta send` delivered to
`ringmta sink --record-messages` is verified with Python's `dkim` package (Debian python3-dkim), whose public keys
come from a private dnsmasq on 127.0.0.1 serving the TXT records `ringmta dkim keygen` printed. Covers RSA-2048
and Ed25519 dual signing, merge fields in headers and body, a long folded header, an 8-bit UTF-8 body, body lines
starting with a dot, trailing blank lines, a From: subdomain signed by its parent domain, simple
canonicalization, the TOML [[dkim]] tables, and the refusals: a From: domain without a key (warning, or exit 2
with --dkim-required and nothing queued), a bad key file. And a second independent verifier where a receiver meets
it: the real Postfix of the test stack with OpenDKIM (Debian opendkim) as its milter, whose
``Authentication-Results: ... dkim=pass`` on every delivered copy is checked; OpenDKIM reads the keys from the same
dnsmasq through libunbound.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dnsmasq import Dnsmasq  # noqa: E402
from opendkim import AUTHSERV_ID, OpenDkim  # noqa: E402
from test_queue_command import rm, show  # noqa: E402

dkim = pytest.importorskip("dkim")  # python3-dkim (tools/install-deps installs it)
import dns.resolver  # noqa: E402  (python3-dnspython, a dependency of python3-dkim)

DOMAIN = "example.org"
NAMES = ["Ann Lee", "Jürgen Müller", "Bob", "Zoë", "Chris", "Müller, Jürgen", 'Tom "T" & Co']
MESSAGE = (
    "From: Example News <news@{from_domain}>\n"
    "To: {{{{name}}}} <{{{{email}}}}>\n"
    "Subject: The December issue for {{{{name}}}}, with a subject long enough that it is folded\n"
    " onto a second line as long headers are\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Grüße, {{{{name}}}}!\n"
    ".a line that starts with a dot\n"
    "..and one with two\n"
    "Spaces   and\ttabs   \n"
    "\n"
    "\n"
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """An RSA-2048 and an Ed25519 key from `ringmta dkim keygen`, and the records it printed."""
    d = tmp_path_factory.mktemp("dkim-keys")
    records = {}
    for selector, algorithm in (("rsa1", "rsa-2048"), ("ed1", "ed25519")):
        p = rm("dkim", "keygen", "--domain", DOMAIN, "--selector", selector, "--algorithm", algorithm,
               "--out", d / f"{selector}.key")
        assert p.returncode == 0, show(p)
        assert (d / f"{selector}.key").stat().st_mode & 0o777 == 0o600
        record = re.search(r"\(one string: (v=DKIM1;[^)]*)\)", p.stdout).group(1)
        assert f"{selector}._domainkey.{DOMAIN}. IN TXT (" in p.stdout
        records[selector] = record
    return d, records


@pytest.fixture(scope="module")
def dns_server(keys, tmp_path_factory):
    """dnsmasq serving the public keys (RSA's split into 255-byte strings, as a zone must)."""
    _, records = keys
    lines = []
    for selector, record in records.items():
        parts = ",".join(f'"{record[i:i + 255]}"' for i in range(0, len(record), 255))
        lines.append(f"txt-record={selector}._domainkey.{DOMAIN},{parts}")
    server = Dnsmasq(tmp_path_factory.mktemp("dkim-dns"), lines, local_zone=DOMAIN).start()
    yield server
    server.stop()


def verifier(dns_server):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_server.port

    def txt(name, timeout=5):
        answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        return b"".join(b"".join(r.strings) for r in answer)

    def verify(message: bytes, index: int) -> bool:
        try:
            return dkim.DKIM(message).verify(idx=index, dnsfunc=txt)
        except dkim.ValidationError:  # e.g. "body hash mismatch": a failed verification
            return False

    return verify


def send(tmp_path: Path, port: int, *route, from_domain: str = DOMAIN, count: int = len(NAMES),
         to_domain: str = "dest.test", timeout: float = 60):
    message = tmp_path / "m.eml"
    message.write_text(MESSAGE.format(from_domain=from_domain), encoding="utf-8")
    csv = tmp_path / "list.csv"
    quoted = ['"' + n.replace('"', '""') + '"' for n in NAMES]  # RFC 4180: "Müller, Jürgen" is one field
    csv.write_text("email,name\n" + "".join(f"user{i}@{to_domain},{quoted[i % len(NAMES)]}\n" for i in range(count)),
                   encoding="utf-8")
    return rm("send", "--message", message, "--recipients", csv, "--queue", tmp_path / "queue", "--json",
              "--no-progress", "--admin", "none", "--smarthost", f"127.0.0.1:{port}", "--tls", "none",
              "--new-campaign", *route, timeout=timeout)


def key_flags(keys, *selectors):
    d, _ = keys
    flags = []
    for s in selectors:
        flags += ["--dkim-domain", DOMAIN, "--dkim-selector", s, "--dkim-key", d / f"{s}.key"]
    return flags


def copies(directory: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(directory.glob("*.eml"))]


def signatures(message: bytes) -> list[str]:
    head = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return re.findall(r"^DKIM-Signature:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M)


def test_dual_signed_copies_verify_with_dkimpy(tmp_path, sink, keys, dns_server):
    recorded = tmp_path / "copies"
    recorded.mkdir()
    s = sink(args=["--record-messages", recorded])
    p = send(tmp_path, s.port, *key_flags(keys, "rsa1", "ed1"), count=20)
    assert p.returncode == 0, show(p)
    assert p.json["delivered"] == 20
    got = copies(recorded)
    assert len(got) == 20
    verify = verifier(dns_server)
    for message in got:
        sigs = signatures(message)
        assert len(sigs) == 2, message[:600]
        assert "a=rsa-sha256" in sigs[0] and "a=ed25519-sha256" in sigs[1]
        flat = re.sub(r"\s", "", sigs[0])
        assert "h=from:from:to:subject:date:message-id:mime-version:content-type:content-transfer-encoding;" in flat
        assert ";l=" not in flat and "d=example.org" in flat
        assert verify(message, 0), message.decode("utf-8", "replace")
        assert verify(message, 1), message.decode("utf-8", "replace")
    # Non-ASCII names went into the header block as RFC 2047 encoded-words, names with specials as one quoted
    # display name: Python's own parser finds one address per To: with the name as it was in the list.
    import email
    import email.policy
    for message in got:
        head = message.split(b"\r\n\r\n", 1)[0]
        assert all(b < 0x80 for b in head), head
        parsed = email.message_from_bytes(message, policy=email.policy.default)
        (to,) = parsed["To"].addresses
        assert to.display_name in NAMES and to.addr_spec.endswith("@dest.test"), parsed["To"]
        assert f"for {to.display_name}, with a subject" in str(parsed["Subject"]), parsed["Subject"]
    # The copies differ (merge fields in headers and body), and the verifier does check: an altered copy fails.
    bodies = {m.split(b"\r\n\r\n", 1)[1] for m in got}
    assert len(bodies) == len(NAMES)
    assert "Grüße, Jürgen Müller!".encode() in b"".join(bodies)
    assert b"\r\n.a line that starts with a dot\r\n..and one with two\r\n" in got[0]
    altered = got[0].replace(b"Spaces", b"Spices")
    assert not verify(altered, 0) and not verify(altered, 1)
    resubjected = got[0].replace(b"The December issue", b"The January issue")
    assert not verify(resubjected, 0)


def test_a_server_without_8bitmime_gets_quoted_printable_copies_that_verify(tmp_path, keys, dns_server):
    """RFC 6152: no 8-bit data to a server that does not offer 8BITMIME. The 8-bit body (Content-Transfer-Encoding:
    8bit, "Grüße") goes quoted-printable, and is signed as it goes: dkimpy verifies every copy."""
    import email
    import email.policy
    import json
    import socket
    from mailstack import free_port, wait_for_port

    kept, record = tmp_path / "kept", tmp_path / "sink.jsonl"
    kept.mkdir()
    port = free_port((socket.AF_INET,))
    sink = subprocess.Popen([sys.executable, str(Path(__file__).parent / "recording_sink.py"), "--listen",
                             f"127.0.0.1:{port}", "--record", str(record), "--keep-messages", str(kept),
                             "--no-8bitmime"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, 20, sink, "recording sink")
        p = send(tmp_path, port, *key_flags(keys, "rsa1", "ed1"), count=len(NAMES))
        assert p.returncode == 0 and p.json["delivered"] == len(NAMES), show(p)
    finally:
        sink.terminate()
        sink.wait(10)
    events = [json.loads(x) for x in record.read_text().splitlines() if '"message"' in x]
    assert len(events) == len(NAMES)
    verify = verifier(dns_server)
    names = set()
    for event in events:
        assert not event["eight_bit_bytes"] and "BODY=8BITMIME" not in event["mail_from"], event
        message = Path(event["file"]).read_bytes()
        assert verify(message, 0) and verify(message, 1), message.decode()
        parsed = email.message_from_bytes(message, policy=email.policy.default)
        assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
        body = parsed.get_content().replace("\r\n", "\n")
        assert body.startswith("Grüße, ") and "\n.a line that starts with a dot\n..and one with two\n" in body, body
        names.add(body.split("\n", 1)[0][len("Grüße, "):-1])
    assert names == set(NAMES)


def test_subdomain_from_and_simple_canonicalization(tmp_path, sink, keys, dns_server):
    recorded = tmp_path / "copies"
    recorded.mkdir()
    s = sink(args=["--record-messages", recorded])
    p = send(tmp_path, s.port, *key_flags(keys, "rsa1"), "--dkim-canonicalization", "simple/simple",
             from_domain="news." + DOMAIN)
    assert p.returncode == 0, show(p)
    assert "unsigned" not in p.stderr
    verify = verifier(dns_server)
    for message in copies(recorded):
        (sig,) = signatures(message)
        assert "c=simple/simple" in sig and "d=example.org" in sig  # the parent domain: DMARC relaxed alignment
        assert verify(message, 0), message.decode("utf-8", "replace")


def test_config_file_dkim_tables(tmp_path, sink, keys, dns_server):
    d, _ = keys
    config = tmp_path / "ringmta.toml"
    config.write_text(f"""
[[dkim]]
domain = "{DOMAIN}"
selector = "rsa1"
key = "{d / 'rsa1.key'}"
headers = ["From", "To", "Subject", "Date", "Message-ID"]

[[dkim]]
domain = "{DOMAIN}"
selector = "ed1"
key = "{d / 'ed1.key'}"
algorithm = "ed25519-sha256"
""")
    recorded = tmp_path / "copies"
    recorded.mkdir()
    s = sink(args=["--record-messages", recorded])
    p = send(tmp_path, s.port, "--config", config)
    assert p.returncode == 0, show(p)
    verify = verifier(dns_server)
    for message in copies(recorded):
        sigs = signatures(message)
        assert len(sigs) == 2
        assert "h=from:from:to:subject:date:message-id;" in re.sub(r"\s", "", sigs[0])
        assert verify(message, 0) and verify(message, 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[dkim]]\ndomain = "{DOMAIN}"\nkey = "{d / "rsa1.key"}"\n')
    p = send(tmp_path, s.port, "--config", bad)
    assert p.returncode == 2 and "[[dkim]] table 1: 'selector' is missing" in p.stderr, show(p)


def test_from_domain_without_key_warns_or_refuses(tmp_path, sink, keys):
    recorded = tmp_path / "copies"
    recorded.mkdir()
    s = sink(args=["--record-messages", recorded])
    p = send(tmp_path, s.port, *key_flags(keys, "rsa1"), from_domain="other.test")
    assert p.returncode == 0, show(p)
    assert "warning: no DKIM key signs mail From: other.test" in p.stderr, show(p)
    assert f"DKIM          0 signed, {len(NAMES)} not (no key for their From: domain)" in p.stderr, show(p)
    assert all(not signatures(m) for m in copies(recorded)) and len(copies(recorded)) == len(NAMES)
    q = tmp_path / "required"
    q.mkdir()
    p = send(q, s.port, *key_flags(keys, "rsa1"), "--dkim-required", from_domain="other.test")
    assert p.returncode == 2, show(p)
    assert "--dkim-required: nothing queued" in p.stderr
    assert not (q / "queue").exists() or "0 recipients" in rm("queue", "--queue", q / "queue").stdout


def test_bad_key_files_are_start_up_errors(tmp_path, sink, keys):
    s = sink()
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    for key, expected in ((tmp_path / "missing.key", "missing.key: cannot open"),
                          (garbage, "garbage.key: not a PEM private key")):
        p = send(tmp_path, s.port, "--dkim-domain", DOMAIN, "--dkim-selector", "s", "--dkim-key", key)
        assert p.returncode == 2 and expected in p.stderr, show(p)
    d, _ = keys
    p = send(tmp_path, s.port, *key_flags(keys, "ed1"), "--dkim-algorithm", "rsa-sha256")
    assert p.returncode == 2 and "holds a key for ed25519-sha256" in p.stderr, show(p)
    p = send(tmp_path, s.port, "--dkim-domain", DOMAIN, "--dkim-key", d / "ed1.key")
    assert p.returncode == 2 and "each key needs all three" in p.stderr, show(p)


@pytest.fixture(scope="module")
def opendkim(stack, dns_server, tmp_path_factory):
    milter = OpenDkim(tmp_path_factory.mktemp("opendkim"), stack.postfix.milter_port, dns_server.port, DOMAIN).start()
    yield milter
    milter.stop()


def test_postfix_with_opendkim_finds_every_copy_signed(tmp_path, stack, keys, opendkim):
    """ringmta → the stack's Postfix ("dkimverify" listener, OpenDKIM milter) → a Maildir: each delivered copy
    carries OpenDKIM's verdict on both signatures."""
    box = stack.postfix.mailbox_dir_of(stack.postfix.DKIM_DOMAIN) / "new"
    before = set(box.glob("*")) if box.exists() else set()
    count = 8
    # OpenDKIM answers a message now and then with 451 4.7.1 (seen on the slow ASan run, several
    # connections at once): ringmta defers it, and --until-done with a 1 s retry sends it again.
    # Each attempt is bounded by Postfix's milter timeouts (20 s, mailstack.py), so a few slow ones fit in 180 s.
    try:
        p = send(tmp_path, stack.ports["dkimverify"], *key_flags(keys, "rsa1", "ed1"), "--until-done",
                 "--retry-after", "1", count=count, to_domain=stack.postfix.DKIM_DOMAIN, timeout=180)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"send did not finish in 180 s; stderr: {e.stderr!r}\n{stack.postfix.log_tail()}\n"
                    f"{opendkim.log.read_text(errors='replace')[-2000:]}")
    assert p.returncode == 0 and p.json["delivered"] == count, show(p)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        arrived = set(box.glob("*")) - before if box.exists() else set()
        if len(arrived) >= count:
            break
        time.sleep(0.2)
    assert len(arrived) == count, f"{len(arrived)} of {count} copies arrived\n{stack.postfix.log_tail()}\n" \
                                  f"{opendkim.log.read_text(errors='replace')[-2000:]}"
    for path in arrived:
        message = path.read_bytes()
        head = message.split(b"\n\n", 1)[0].decode("utf-8", "replace")
        results = re.findall(rf"^Authentication-Results: {re.escape(AUTHSERV_ID)};(.*(?:\n[ \t].*)*)", head, re.M)
        verdicts = " ".join(re.sub(r"\s+", " ", r) for r in results)
        # "dkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.a=rsa-sha256
        # header.s=rsa1 header.b=...": unprotected = no DNSSEC on the private zone (Ed25519 gets no comment).
        for algorithm, selector in (("rsa-sha256", "rsa1"), ("ed25519-sha256", "ed1")):
            assert re.search(rf"dkim=pass (?:\([^)]*\) )?header\.d=example\.org header\.i=\S+ header\.a={algorithm} "
                             rf"header\.s={selector} ", verdicts), verdicts
        assert "dkim=fail" not in verdicts, head


def test_sighup_rotates_the_keys_and_throttles_of_a_running_service(tmp_path, sink, keys, dns_server):
    # `ringmta serve --config`: the key of the config file signs what is submitted; the file changed to another
    # selector and SIGHUP sent, the next message is signed with the new key (both verify), and the new connection
    # limit is in force; a broken file then keeps the running keys, and the log says why.
    import json
    import signal
    import smtplib
    import subprocess
    from conftest import ringmta_bin
    from mailstack import free_port, wait_for_port

    d, _ = keys
    config = tmp_path / "ringmta.toml"

    def write_config(selector: str, connections: int, broken: bool = False):
        table = f'[[dkim]]\ndomain = "{DOMAIN}"\nkey = "{d / f"{selector}.key"}"\n'
        if not broken:
            table += f'selector = "{selector}"\n'
        config.write_text(f"max-connections = {connections}\n{table}")

    write_config("rsa1", 4)
    recorded = tmp_path / "copies"
    recorded.mkdir()
    s = sink(args=["--record-messages", recorded])
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([ringmta_bin(), "serve", "--config", config, "--queue", tmp_path / "q", "--smarthost",
                                 f"127.0.0.1:{s.port}", "--tls", "none", "--ehlo", "mta.example.org", "--admin", "none",
                                 "--submission-listen", f"127.0.0.1:{port}", "--relay-networks", "127.0.0.0/8",
                                 "--log-format", "json"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, 30, proc, "ringmta serve")

        def submit(n: int):
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
                c.sendmail(f"news@{DOMAIN}", [f"r{n}@dest.test"],
                           f"From: news@{DOMAIN}\r\nTo: r{n}@dest.test\r\nSubject: n{n}\r\n\r\nbody {n}\r\n")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(copies(recorded)) < n:
                time.sleep(0.1)
            assert len(copies(recorded)) == n, log_path.read_text()
            return max(recorded.glob("*.eml"), key=lambda p: p.stat().st_mtime).read_bytes()

        def events(name: str) -> list[dict]:
            return [e for e in (json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{"))
                    if e.get("event") == name]

        def hup_and_wait(name: str):
            before = len(events(name))
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(events(name)) == before:
                time.sleep(0.1)
            assert len(events(name)) > before, log_path.read_text()
            return events(name)[-1]

        verify = verifier(dns_server)
        first = submit(1)
        assert "s=rsa1" in re.sub(r"\s", "", signatures(first)[0]) and verify(first, 0)
        write_config("ed1", 2)
        assert hup_and_wait("reload")["dkim_keys"] == 1
        second = submit(2)
        assert "s=ed1" in re.sub(r"\s", "", signatures(second)[0]) and verify(second, 0), second[:600]
        # The route's whole 2, held across the shards (each shard's throttle has the whole limit).
        assert "limits reloaded: 2 connections" in log_path.read_text()
        write_config("rsa1", 2, broken=True)
        failed = hup_and_wait("reload_failed")
        assert "'selector' is missing" in failed["error"], failed
        third = submit(3)
        assert "s=ed1" in re.sub(r"\s", "", signatures(third)[0]) and verify(third, 0)
    finally:
        proc.terminate()
        proc.wait(30)
