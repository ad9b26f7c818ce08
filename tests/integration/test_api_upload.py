"""Campaigns uploaded to `ringmta serve` as multipart/form-data (issue 19: "a streamed CSV upload of any size"),
end to end with independent clients: curl (-F, with Content-Length) and Python's http.client (chunked transfer
encoding). The recipient list is larger than --api-max-body, which still refuses the same list as JSON; rows the
ingest rejects come back by their CSV line; the token is checked on the request's head, before any of the body is
read; a spool directory that fills up answers 507 and queues nothing; `ringmta send` on a queue the service holds
uploads its CSV the same way. The service and the sink listen on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ringmta_bin, small_tmpfs  # noqa: E402
from test_serve import MESSAGE, TOKEN, Service, recorded, service, wait_finished  # noqa: E402,F401

ROWS = 40_000  # about 1.4 MB of CSV: beyond --api-max-body 1 (MiB)


def write_list(path: Path, rows: int, bad: dict[int, str] | None = None) -> Path:
    """A CSV of `rows` recipients over 20 domains; bad maps a 0-based row to a malformed line put in its place."""
    bad = bad or {}
    with open(path, "w") as f:
        f.write("email,name\n")
        for i in range(rows):
            f.write(bad.get(i, f"user{i}@d{i % 20}.upload.test,Name {i}") + "\n")
    return path


def curl_upload(svc: Service, *fields: str, token: str = TOKEN) -> tuple[int, dict]:
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "120",
           "-H", f"Authorization: Bearer {token}"]
    for f in fields:
        cmd += ["-F", f]
    r = subprocess.run([*cmd, f"http://127.0.0.1:{svc.api_port}/api/v1/campaigns"], capture_output=True, text=True,
                       timeout=150)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body)


def test_a_list_larger_than_the_body_limit_is_uploaded_and_delivered(tmp_path, sink, service):
    s = sink()
    svc = service(s.port, "--api-max-body", "1")
    (tmp_path / "m.eml").write_text(MESSAGE)
    bad = {99: "not an address,Bad", 500: "x@d1.upload.test,Too,Many"}
    csv = write_list(tmp_path / "list.csv", ROWS, bad)
    assert csv.stat().st_size > 1 << 20
    status, body = curl_upload(svc, f"message=<{tmp_path / 'm.eml'}", f"recipients=@{csv}", "campaign=big",
                               "list_id=News <news.upload.test>")
    assert status == 201, body
    assert body["accepted"] == ROWS - 2 and body["rejected"] == 2, body
    # Rows are named by their line in the uploaded file (the header is line 1).
    assert sorted(r["line"] for r in body["rejected_rows"]) == [101, 502], body
    assert all("index" not in r for r in body["rejected_rows"])
    # Given again, the same id is idempotent: nothing more is queued.
    again_status, again = curl_upload(svc, f"message=<{tmp_path / 'm.eml'}", f"recipients=@{csv}", "campaign=big")
    assert again_status == 200 and again["already_queued"], again
    assert wait_finished(svc, "big", timeout=120)["accepted"] == ROWS - 2
    assert len(set(recorded(s, ROWS - 2, timeout=60))) == ROWS - 2
    assert svc.stop() == 0


def test_a_chunked_upload_from_another_client(tmp_path, sink, service):
    s = sink()
    svc = service(s.port, "--api-max-body", "1")
    csv = write_list(tmp_path / "list.csv", ROWS)
    boundary = uuid.uuid4().hex

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{MESSAGE}\r\n"
               f"--{boundary}\r\nContent-Disposition: form-data; name=\"campaign\"\r\n\r\nchunked\r\n"
               f"--{boundary}\r\nContent-Disposition: form-data; name=\"recipients\"; filename=\"l.csv\"\r\n"
               f"Content-Type: text/csv\r\n\r\n").encode()
        with open(csv, "rb") as f:
            while piece := f.read(7919):  # odd-sized chunks: delimiters and rows split anywhere
                yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    conn = http.client.HTTPConnection("127.0.0.1", svc.api_port, timeout=120)
    conn.request("POST", "/api/v1/campaigns", body=body(), encode_chunked=True,
                 headers={"Authorization": f"Bearer {TOKEN}",
                          "Content-Type": f"multipart/form-data; boundary={boundary}"})
    answer = conn.getresponse()
    got = json.loads(answer.read())
    assert answer.status == 201 and got["accepted"] == ROWS and got["campaign"] == "chunked", got
    conn.close()
    assert wait_finished(svc, "chunked", timeout=120)["accepted"] == ROWS
    assert svc.stop() == 0


def test_bad_uploads_are_refused_and_name_the_field(tmp_path, sink, service):
    s = sink()
    svc = service(s.port, "--spool-dir", tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    (tmp_path / "m.eml").write_text(MESSAGE)
    csv = write_list(tmp_path / "list.csv", 10)
    msg = f"message=<{tmp_path / 'm.eml'}"
    assert curl_upload(svc, msg, f"recipients=@{csv}", token="wrong")[0] == 401
    status, body = curl_upload(svc, msg, f"recipients=@{csv}", "colour=blue")
    assert status == 400 and body["field"] == "colour" and "unknown field" in body["error"], body
    status, body = curl_upload(svc, f"recipients=@{csv}")
    assert status == 400 and body["field"] == "message", body
    status, body = curl_upload(svc, msg, f"recipients=@{csv}", "verp=perhaps")
    assert status == 400 and body["field"] == "verp", body
    (tmp_path / "nomail.csv").write_text("address,name\na@x.test,A\n")
    status, body = curl_upload(svc, msg, f"recipients=@{tmp_path / 'nomail.csv'}")
    assert status == 400 and body["field"] == "recipients" and "email" in body["error"], body
    # A body cut short of its closing delimiter.
    conn = http.client.HTTPConnection("127.0.0.1", svc.api_port, timeout=30)
    conn.request("POST", "/api/v1/campaigns", body=b"--b\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nx",
                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "multipart/form-data; boundary=b"})
    answer = conn.getresponse()
    got = json.loads(answer.read())
    assert answer.status == 400 and "closing boundary" in got["error"], got
    conn.close()
    # Without a boundary parameter.
    conn = http.client.HTTPConnection("127.0.0.1", svc.api_port, timeout=30)
    conn.request("POST", "/api/v1/campaigns", body=b"x",
                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "multipart/form-data"})
    answer = conn.getresponse()
    assert answer.status == 400 and json.loads(answer.read())["field"] == "Content-Type"
    conn.close()
    assert svc.call("GET", "/api/v1/queue")[1]["queued"] == 0  # nothing of the above was queued
    assert list((tmp_path / "spool").iterdir()) == []  # every request's spool file removed
    assert svc.stop() == 0


@pytest.fixture
def tiny_spool(tmp_path):
    yield from small_tmpfs(tmp_path / "tiny", "512k")


def test_a_spool_that_fills_up_answers_507_and_queues_nothing(tmp_path, sink, service, tiny_spool):
    s = sink()
    svc = service(s.port, "--spool-dir", tiny_spool)
    (tmp_path / "m.eml").write_text(MESSAGE)
    csv = write_list(tmp_path / "list.csv", ROWS)
    status, body = curl_upload(svc, f"message=<{tmp_path / 'm.eml'}", f"recipients=@{csv}", "campaign=full")
    assert status == 507 and body["field"] == "recipients", body
    assert "No space left on device" in body["error"] and str(tiny_spool) in body["error"], body
    assert svc.call("GET", "/api/v1/campaigns/full")[0] == 404
    assert list(tiny_spool.iterdir()) == []
    # The service goes on: a list that fits is queued and delivered.
    small = write_list(tmp_path / "small.csv", 100)
    status, body = curl_upload(svc, f"message=<{tmp_path / 'm.eml'}", f"recipients=@{small}", "campaign=fits")
    assert status == 201 and body["accepted"] == 100, body
    assert wait_finished(svc, "fits")["accepted"] == 100
    assert svc.stop() == 0


def test_send_uploads_a_list_larger_than_the_body_limit_to_a_running_service(tmp_path, sink, service):
    s = sink()
    svc = service(s.port, "--api-max-body", "1")
    (tmp_path / "m.eml").write_text(MESSAGE)
    csv = write_list(tmp_path / "list.csv", ROWS, {7: "broken,row,here"})
    p = subprocess.run([ringmta_bin(), "send", "--queue", svc.queue, "--message", tmp_path / "m.eml",
                        "--recipients", csv, "--smarthost", f"127.0.0.1:{s.port}", "--tls", "none",
                        "--admin", "none", "--campaign", "bigsend"], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    assert f"queued {ROWS - 1} recipients (1 rows rejected" in p.stderr, p.stderr
    rejects = (tmp_path / "list.csv.rejects.csv").read_text().splitlines()
    assert rejects[0] == "line,reason,email" and [r.split(",")[0] for r in rejects[1:]] == ["9"], rejects
    assert wait_finished(svc, "bigsend", timeout=120)["accepted"] == ROWS - 1
    assert svc.stop() == 0
