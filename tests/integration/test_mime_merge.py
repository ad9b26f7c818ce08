"""Merge fields that understand MIME (issue 16), checked by an independent reader: `ringmta send` through a smart
host that is a recording SMTP sink written for the tests (recording_sink.py, keeping every message as received),
and each copy read back with Python's `email` package. A field cut in two by a quoted-printable soft line break
and a field inside a base64 text/html part are filled in; values in HTML are escaped ("{{{raw}}}" is not);
BODY=8BITMIME is asked for by each copy that has 8-bit bytes, not by the template; text that only looks like a
field is named in a warning. Only 127.0.0.1.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin  # noqa: E402
from mailstack import free_port, wait_for_port  # noqa: E402

HERE = Path(__file__).parent
HTML = '<p>Hallo {{name}} aus {{city}}!</p>\n<p>{{{banner}}}</p>\n'


class Sink:
    def __init__(self, tmp: Path, *args: str):
        self.port = free_port((socket.AF_INET,))
        self.record = tmp / "sink.jsonl"
        self.dir = tmp / "kept"
        self.dir.mkdir()
        self.proc = subprocess.Popen([sys.executable, str(HERE / "recording_sink.py"), "--listen",
                                      f"127.0.0.1:{self.port}", "--record", str(self.record), "--keep-messages",
                                      str(self.dir), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port("127.0.0.1", self.port, 20, self.proc, "recording sink")

    def messages(self, count: int) -> list[dict]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = [json.loads(x) for x in self.record.read_text().splitlines()] if self.record.exists() else []
            got = [e for e in events if e["event"] == "message"]
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{len(got)} of {count} messages at the sink")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def sink(tmp_path):
    made: list[Sink] = []

    def start(*args: str) -> Sink:
        made.append(Sink(tmp_path, *args))
        return made[-1]

    yield start
    for s in made:
        s.stop()


def send(tmp: Path, sink: Sink, message: str, rows: list[dict]) -> subprocess.CompletedProcess:
    (tmp / "m.eml").write_bytes(message.encode())
    columns = list(rows[0])
    lines = [",".join(columns)] + [",".join('"' + r[c].replace('"', '""') + '"' for c in columns) for r in rows]
    (tmp / "l.csv").write_bytes(("\n".join(lines) + "\n").encode())
    r = subprocess.run([ringmta_bin(), "send", "--message", str(tmp / "m.eml"), "--recipients", str(tmp / "l.csv"),
                        "--queue", str(tmp / "q"), "--smarthost", f"127.0.0.1:{sink.port}", "--tls", "none",
                        "--admin", "none", "--no-progress", "--json", "--ehlo", "sender.example.org"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def by_recipient(sink: Sink, count: int) -> dict[str, tuple[dict, email.message.EmailMessage]]:
    out = {}
    for event in sink.messages(count):
        raw = Path(event["file"]).read_bytes()
        assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF on the wire"
        out[event["rcpts"][0]] = (event, email.message_from_bytes(raw, policy=email.policy.default))
    return out


def lines(text: str) -> str:
    """Content compared by its lines (the reader's line ends and the part's last one left aside)."""
    return text.replace("\r\n", "\n").rstrip("\n")


def test_fields_in_quoted_printable_and_base64_parts_are_merged_and_html_is_escaped(tmp_path, sink):
    s = sink()
    # The text part in quoted-printable, written the way mail programs write it: the "{{city}}" field is cut by a
    # soft line break. The HTML part in base64: its fields cannot be seen in the encoded lines at all.
    text_qp = "Hallo {{name}}, Gr=C3=BC=C3=9Fe nach {{ci=\nty}}.\n"
    html_b64 = base64.encodebytes(HTML.encode()).decode()
    message = ("From: News <news@sender.example.org>\nTo: {{name}} <{{email}}>\nSubject: Hallo {{name}}\n"
               "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"=_b\"\n\n"
               "--=_b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
               f"{text_qp}--=_b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
               f"{html_b64}--=_b--\n")
    rows = [{"email": "juergen@example.net", "name": "Jürgen <b>Müller</b> & Co", "city": "Köln",
             "banner": '<img src="https://sender.example.org/b.png">'},
            {"email": "ann@example.net", "name": "Ann", "city": "Zürich", "banner": "<hr>"}]
    r = send(tmp_path, s, message, rows)
    assert "is not a merge field" not in r.stderr, r.stderr
    got = by_recipient(s, 2)
    for row in rows:
        event, msg = got[row["email"]]
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text["Content-Transfer-Encoding"] == "quoted-printable"
        assert lines(text.get_content()) == f"Hallo {row['name']}, Grüße nach {row['city']}."
        assert html["Content-Transfer-Encoding"] == "base64"
        escaped = row["name"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert lines(html.get_content()) == f"<p>Hallo {escaped} aus {row['city']}!</p>\n<p>{row['banner']}</p>"
        assert str(msg["Subject"]) == f"Hallo {row['name']}"
        # Every value went out encoded (quoted-printable, base64, RFC 2047): a 7-bit copy.
        assert not event["eight_bit_bytes"] and "BODY=8BITMIME" not in event["mail_from"], event


def test_each_copy_decides_8bitmime_and_a_field_that_is_not_one_is_named(tmp_path, sink):
    s = sink()
    message = "From: news@sender.example.org\nSubject: News\n\nDear {{name}},\nhello {{ first name }}.\n"
    rows = [{"email": "a@example.net", "name": "Jurgen"}, {"email": "b@example.net", "name": "Jürgen"}]
    r = send(tmp_path, s, message, rows)
    assert 'm.eml: line 5: "{{ first name }}" is not a merge field' in r.stderr, r.stderr
    got = by_recipient(s, 2)
    ascii_event, _ = got["a@example.net"]
    utf8_event, utf8 = got["b@example.net"]
    assert "BODY=8BITMIME" not in ascii_event["mail_from"], ascii_event
    assert "BODY=8BITMIME" in utf8_event["mail_from"], utf8_event
    assert "Dear Jürgen,".encode() in utf8.get_payload(decode=True)


def test_send_builds_the_message_from_text_html_and_attachments(tmp_path, sink):
    s = sink()
    (tmp_path / "t.txt").write_text("Hallo {{name}},\nGrüße nach {{city}}.\n")
    (tmp_path / "h.html").write_text('<p>Hallo {{name}} <img src="cid:logo.png"></p>\n')
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tmp_path / "Preisliste ü.pdf").write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 40)
    (tmp_path / "l.csv").write_text('email,name,city\nj@example.net,"<b>Jürgen</b>",Köln\na@example.net,Ann,Wien\n')
    r = subprocess.run([ringmta_bin(), "send", "--text", str(tmp_path / "t.txt"), "--html", str(tmp_path / "h.html"),
                        "--inline", str(tmp_path / "logo.png"), "--attach", str(tmp_path / "Preisliste ü.pdf"),
                        "--subject", "Grüße für {{name}} aus {{city}}", "--from", "Müller News <news@sender.example.org>",
                        "--to", "{{name}} <{{email}}>", "--recipients", str(tmp_path / "l.csv"), "--queue",
                        str(tmp_path / "q"), "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none", "--admin", "none",
                        "--no-progress", "--json", "--ehlo", "sender.example.org"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    got = by_recipient(s, 2)
    for rcpt, name, city in (("j@example.net", "<b>Jürgen</b>", "Köln"), ("a@example.net", "Ann", "Wien")):
        event, msg = got[rcpt]
        assert not event["eight_bit_bytes"], "the built message and every value go out 7-bit"
        assert str(msg["Subject"]) == f"Grüße für {name} aus {city}"
        assert str(msg["From"]) == "Müller News <news@sender.example.org>"
        assert msg["To"].addresses[0].display_name == name and msg["To"].addresses[0].addr_spec == rcpt
        assert msg.get_content_type() == "multipart/mixed"
        assert lines(msg.get_body(("plain",)).get_content()) == f"Hallo {name},\nGrüße nach {city}."
        html = msg.get_body(("html",))
        escaped = name.replace("<", "&lt;").replace(">", "&gt;")
        assert lines(html.get_content()) == f'<p>Hallo {escaped} <img src="cid:logo.png"></p>'
        related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
        assert related and [p.get_content_type() for p in related[0].iter_parts()] == ["text/html", "image/png"]
        image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
        assert image["Content-ID"] == "<logo.png>" and image.get_content() == (tmp_path / "logo.png").read_bytes()
        (pdf,) = list(msg.iter_attachments())
        assert pdf.get_filename() == "Preisliste ü.pdf" and pdf.get_content_type() == "application/pdf"
        assert pdf.get_content() == (tmp_path / "Preisliste ü.pdf").read_bytes()


def test_internationalized_addresses_go_with_smtputf8_and_fail_clearly_without(tmp_path, sink):
    """RFC 6531: a UTF-8 local part goes with SMTPUTF8 on MAIL FROM to a server that offers it; to one that does not,
    that recipient fails with the reason (not suppressed: the server's limit, not a bad address), the others go.
    U-labels are sent as A-labels (IDNA2008), so an ASCII local part at an internationalized domain needs nothing."""
    message = "From: News <news@sender.test>\nTo: {{name}} <{{email}}>\nSubject: Hallo {{name}}\n\nHallo {{name}}\n"
    rows = [{"email": "J\u00fcrgen@B\u00fccher.test", "name": "J\u00fcrgen"},
            {"email": "info@b\u00fccher.test", "name": "Info"}, {"email": "ann@plain.test", "name": "Ann"}]
    offered = sink("--smtputf8")
    send(tmp_path, offered, message, rows)
    got = {e["rcpts"][0]: e for e in offered.messages(3)}
    assert set(got) == {"J\u00fcrgen@xn--bcher-kva.test", "info@xn--bcher-kva.test", "ann@plain.test"}, got
    assert got["J\u00fcrgen@xn--bcher-kva.test"]["mail_from"].endswith(" SMTPUTF8"), got
    assert not got["info@xn--bcher-kva.test"]["mail_from"].endswith("SMTPUTF8"), got

    other = tmp_path / "without"
    other.mkdir()
    plain = Sink(other)
    try:
        (other / "m.eml").write_text(message)
        (other / "l.csv").write_text("email,name\n" + "".join(f"{r['email']},{r['name']}\n" for r in rows))
        r = subprocess.run([ringmta_bin(), "send", "--message", str(other / "m.eml"), "--recipients",
                            str(other / "l.csv"), "--queue", str(other / "q"), "--smarthost",
                            f"127.0.0.1:{plain.port}", "--tls", "none", "--admin", "none", "--no-progress", "--json",
                            "--ehlo", "sender.example.org"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        summary = json.loads(r.stdout)
        assert summary["failed"] == 1, summary  # delivered: the two and the DSN to the envelope Sender
        assert ("J\u00fcrgen@xn--bcher-kva.test>: a non-ASCII address needs SMTPUTF8 (RFC 6531), which this server "
                "does not offer") in r.stderr, r.stderr
        assert "newly suppressed" not in r.stderr, r.stderr
        assert {e["rcpts"][0] for e in plain.messages(3)} == {"info@xn--bcher-kva.test", "ann@plain.test",
                                                             "news@sender.test"}
    finally:
        plain.stop()


def test_8bit_header_text_is_encoded_and_a_message_without_content_type_declares_utf8(tmp_path, sink):
    """The template's own non-ASCII Subject and display name go as RFC 2047 encoded-words, and a copy with UTF-8
    values of a message that declares no Content-Type says charset=utf-8: read back by Python's email package; to a
    server without 8BITMIME the whole copy is 7-bit."""
    message = "From: B\u00fccherei M\u00fcller <news@sender.test>\nSubject: Gr\u00fc\u00dfe aus K\u00f6ln\n\nHallo {{name}}\n"
    for args in ((), ("--no-8bitmime",)):
        work = tmp_path / ("plain" if args else "eight")
        work.mkdir()
        s = Sink(work, *args)
        try:
            send(work, s, message, [{"email": "a@dest.test", "name": "J\u00fcrgen"}])
            event, msg = by_recipient(s, 1)["a@dest.test"]
            raw = Path(event["file"]).read_bytes()
            head = raw.split(b"\r\n\r\n", 1)[0]
            assert all(b < 0x80 for b in head), head
            assert msg["Subject"] == "Gr\u00fc\u00dfe aus K\u00f6ln"
            assert msg["From"].addresses[0].display_name == "B\u00fccherei M\u00fcller"
            assert msg.get_content_charset() == "utf-8"
            assert lines(msg.get_content()) == "Hallo J\u00fcrgen"
            if args:
                assert event["eight_bit_bytes"] is False and msg["Content-Transfer-Encoding"] == "quoted-printable"
        finally:
            s.stop()
