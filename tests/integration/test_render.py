"""`ringmta render` (issue 16): the copy one recipient of a send would get, printed. Checked against what `send`
then delivers to a recording SMTP sink written for the tests (recording_sink.py): the same headers and body but
for the Date, Message-ID and the unsubscribe token's campaign; read with Python's `email` package. The row is
chosen by number or by address; a row the send would reject, a row past the end and an address not in the list
are errors that say so. Only 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from mailstack import free_port, wait_for_port  # noqa: E402
from test_mime_merge import Sink, by_recipient  # noqa: E402

MESSAGE = ("From: News <news@sender.example.org>\nTo: {{name}} <{{email}}>\nSubject: Hallo {{name}}\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
           "\nGr=C3=BC=C3=9Fe nach {{ci=\nty}}, {{name|Freund}}.\n.a line with a dot\n")
ROWS = "email,name,city\nann@example.net,Ann,Wien\nJuergen@Example.NET,\"Müller, Jürgen\",Köln\nbad@example.net,\"x\ny\",Linz\n"


def ringmta(tmp: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([ringmta_bin(), *map(str, args)], capture_output=True, timeout=60)
    if check:
        assert r.returncode == 0, (r.stdout + r.stderr).decode("utf-8", "replace")
    return r


def files(tmp: Path):
    (tmp / "m.eml").write_text(MESSAGE)
    (tmp / "l.csv").write_text(ROWS)
    return ["--message", tmp / "m.eml", "--recipients", tmp / "l.csv"]


def without_identity(raw: bytes) -> bytes:
    """A copy's lines but Date, Message-ID and List-Unsubscribe (the token names the campaign)."""
    keep = [line for line in raw.split(b"\r\n")
            if not line.startswith((b"Date:", b"Message-ID:", b"List-Unsubscribe:"))]
    return b"\r\n".join(keep)


def test_render_prints_the_copy_that_send_delivers(tmp_path):
    sink = Sink(tmp_path)
    try:
        route = ["--smarthost", f"127.0.0.1:{sink.port}", "--tls", "none", "--ehlo", "mta.sender.example.org",
                 "--queue", tmp_path / "q", "--unsubscribe-url", "https://sender.example.org/u/{token}"]
        args = files(tmp_path)
        sent = ringmta(tmp_path, "send", *args, *route, "--admin", "none", "--no-progress", "--json")
        assert b'"delivered":2' in sent.stdout, sent.stdout + sent.stderr
        delivered = {rcpt: Path(event["file"]).read_bytes() for rcpt, (event, _) in by_recipient(sink, 2).items()}
    finally:
        sink.stop()
    # The send's command line with `send` replaced by `render`, and the row.
    r = ringmta(tmp_path, "render", *args, *route, "--row", "2")
    assert b"row 2 (line 3 of " in r.stderr and b"RCPT TO:<Juergen@example.net>" in r.stderr, r.stderr
    assert b"MAIL FROM:<news@sender.example.org>" in r.stderr, r.stderr
    assert without_identity(r.stdout) == without_identity(delivered["Juergen@example.net"])
    copy = email.message_from_bytes(r.stdout, policy=email.policy.default)
    (to,) = copy["To"].addresses
    assert to.display_name == "Müller, Jürgen" and to.addr_spec == "Juergen@example.net"
    assert copy.get_content().replace("\r\n", "\n") == "Grüße nach Köln, Müller, Jürgen.\n.a line with a dot\n"
    assert copy["Message-ID"].endswith("@mta.sender.example.org>")
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # By address (the domain in any case), and the first row by default.
    by_email = ringmta(tmp_path, "render", *args, *route, "--email", "juergen@EXAMPLE.net")
    assert without_identity(by_email.stdout) == without_identity(r.stdout)
    first = ringmta(tmp_path, "render", *args, *route)
    assert b"RCPT TO:<ann@example.net>" in first.stderr


def test_render_says_what_is_wrong_with_a_row(tmp_path):
    args = files(tmp_path)
    r = ringmta(tmp_path, "render", *args, "--row", "3", check=False)
    assert r.returncode == 2 and b"l.csv: line 4 (row 3) is rejected: field name: line break in a header value" \
        in r.stderr, r.stderr
    r = ringmta(tmp_path, "render", *args, "--row", "9", check=False)
    assert r.returncode == 2 and b"has no row 9 (it has 3)" in r.stderr, r.stderr
    r = ringmta(tmp_path, "render", *args, "--email", "nobody@example.net", check=False)
    assert r.returncode == 2 and b"has no row for nobody@example.net" in r.stderr, r.stderr


def test_render_seven_bit_shows_the_copy_for_a_server_without_8bitmime(tmp_path):
    (tmp_path / "plain.eml").write_text("From: news@sender.example.org\nSubject: s\n\nDear {{name}}\n")
    (tmp_path / "l.csv").write_text(ROWS)
    args = ["--message", tmp_path / "plain.eml", "--recipients", tmp_path / "l.csv", "--row", "2"]
    eight = ringmta(tmp_path, "render", *args)
    assert "Dear Müller, Jürgen".encode() in eight.stdout and b"BODY=8BITMIME" in eight.stderr, eight.stderr
    seven = ringmta(tmp_path, "render", *args, "--seven-bit")
    assert all(b < 0x80 for b in seven.stdout) and b"BODY=8BITMIME" not in seven.stderr, seven.stdout
    copy = email.message_from_bytes(seven.stdout, policy=email.policy.default)
    assert copy["Content-Transfer-Encoding"] == "quoted-printable"
    assert "Dear Müller, Jürgen".encode() in copy.get_payload(decode=True)


def test_a_test_send_mails_the_first_rows_copies_to_one_address_and_the_list_can_follow(tmp_path):
    sink = Sink(tmp_path)
    try:
        (tmp_path / "m.eml").write_text(MESSAGE)
        rows = "email,name,city\n" + "".join(f"r{i}@example.net,Name {i},City {i}\n" for i in range(10))
        (tmp_path / "l.csv").write_text(rows)
        args = ["--message", tmp_path / "m.eml", "--recipients", tmp_path / "l.csv", "--smarthost",
                f"127.0.0.1:{sink.port}", "--tls", "none", "--queue", tmp_path / "q", "--admin", "none",
                "--no-progress", "--json", "--ehlo", "mta.sender.example.org"]
        test = ringmta(tmp_path, "send", *args, "--test-to", "Me@Sender.Example.ORG", "--test-rows", "3")
        assert b'"delivered":3' in test.stdout, test.stdout + test.stderr
        assert b"test send: the copies of the first 3 rows" in test.stderr, test.stderr
        events = sink.messages(3)
        assert [e["rcpts"] for e in events] == [["Me@sender.example.org"]] * 3, events
        copies = [email.message_from_bytes(Path(e["file"]).read_bytes(), policy=email.policy.default)
                  for e in events]
        # Each copy is its row's: the To: and the merged body name the row's recipient.
        assert sorted(c["To"].addresses[0].addr_spec for c in copies) == [f"r{i}@example.net" for i in range(3)]
        assert all(f"nach City {i}, Name {i}." in c.get_content()
                   for i, c in enumerate(sorted(copies, key=lambda c: str(c["To"])))), [c.get_content() for c in copies]
        # The real send of the same message and list is not taken for a second copy of the test send.
        real = ringmta(tmp_path, "send", *args)
        assert b'"delivered":10' in real.stdout, real.stdout + real.stderr
        later = sink.messages(13)[3:]
        assert sorted(e["rcpts"][0] for e in later) == sorted(f"r{i}@example.net" for i in range(10))
    finally:
        sink.stop()
