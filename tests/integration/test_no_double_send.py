"""A list is never sent twice by accident (issue 16): a `send` of a message and recipient list (by content) that
an earlier send queued, while that campaign still has recipients in the queue, is refused with exit 2, names the
campaign and points at `ringmta run` (which then delivers each recipient once) and at `--new-campaign`; the same
send with the same `--campaign` is idempotent; once the first campaign is finished, sending the list again is
allowed; addresses that differ only in the domain's case are one recipient. Real `ringmta send`/`run` against
`ringmta sink` on 127.0.0.1; a few seconds in all.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_queue_command import rm, show  # noqa: E402

ADDRESSES = [f"user{i}@list{i % 3}.test" for i in range(12)]


def write_inputs(tmp: Path, addresses=ADDRESSES, name="list.csv") -> tuple[Path, Path]:
    message = tmp / "m.eml"
    message.write_text("From: news@sender.test\nSubject: Spring {{name}}\n\nHello {{name}}\n")
    csv = tmp / name
    csv.write_text("email,name\n" + "".join(f"{a},N{i}\n" for i, a in enumerate(addresses)))
    return message, csv


def queue_only(tmp: Path, message: Path, csv: Path, *extra) -> object:
    return rm("send", "--queue-only", "--message", message, "--recipients", csv, "--queue", tmp / "queue",
              "--json", *extra)


def queued_total(tmp: Path) -> int:
    r = rm("queue", "--queue", tmp / "queue", "--json")
    assert r.returncode == 0 and r.json, show(r)
    return r.json["total"]


def deliver(tmp: Path, command: str, port: int, *extra) -> object:
    return rm(command, *extra, "--queue", tmp / "queue", "--json", "--no-progress", "--smarthost",
              f"127.0.0.1:{port}", "--tls", "none", "--admin", "none")


def test_a_second_send_of_a_queued_list_is_refused_and_run_delivers_once(tmp_path, sink):
    message, csv = write_inputs(tmp_path)
    first = queue_only(tmp_path, message, csv)
    assert first.returncode == 0 and first.json["queued"] == 12, show(first)
    campaign = first.json["campaign"]
    # The same list under another file name: the content decides.
    copy = tmp_path / "copy-of-list.csv"
    copy.write_bytes(csv.read_bytes())
    sk = sink()
    again = rm("send", "--message", message, "--recipients", copy, "--queue", tmp_path / "queue", "--json",
               "--no-progress", "--smarthost", f"127.0.0.1:{sk.port}", "--tls", "none", "--admin", "none")
    assert again.returncode == 2, show(again)
    assert f"already queued as campaign {campaign}" in again.stderr, show(again)
    assert "12 recipients are still in the queue" in again.stderr, show(again)
    assert "ringmta run" in again.stderr and "--new-campaign" in again.stderr, show(again)
    assert queued_total(tmp_path) == 12
    r = deliver(tmp_path, "run", sk.port)
    assert r.returncode == 0 and r.json["delivered"] == 12, show(r)
    recorded = sk.record.read_text().split()
    assert sorted(recorded) == sorted(ADDRESSES), recorded  # each once
    # Finished: sending the list again is a choice, and allowed.
    later = queue_only(tmp_path, message, csv)
    assert later.returncode == 0 and later.json["queued"] == 12 and later.json["campaign"] != campaign, show(later)


def test_new_campaign_queues_the_list_again(tmp_path):
    message, csv = write_inputs(tmp_path)
    assert queue_only(tmp_path, message, csv).returncode == 0
    r = queue_only(tmp_path, message, csv, "--new-campaign")
    assert r.returncode == 0 and r.json["queued"] == 12, show(r)
    assert queued_total(tmp_path) == 24


def test_a_changed_message_or_list_is_a_new_send(tmp_path):
    message, csv = write_inputs(tmp_path)
    assert queue_only(tmp_path, message, csv).returncode == 0
    _, other = write_inputs(tmp_path, ADDRESSES[:-1], "other.csv")
    r = queue_only(tmp_path, message, other)
    assert r.returncode == 0 and r.json["queued"] == 11, show(r)
    message.write_text(message.read_text() + "P.S.\n")
    r = queue_only(tmp_path, message, csv)
    assert r.returncode == 0 and r.json["queued"] == 12, show(r)


def test_the_same_campaign_id_is_idempotent(tmp_path, sink):
    message, csv = write_inputs(tmp_path)
    r = queue_only(tmp_path, message, csv, "--campaign", "spring")
    assert r.returncode == 0 and r.json["queued"] == 12, show(r)
    sk = sink()
    r = deliver(tmp_path, "send", sk.port, "--message", message, "--recipients", csv, "--campaign", "spring")
    assert r.returncode == 0, show(r)
    assert "campaign spring: this message and list are already queued (12 recipients)" in r.stderr, show(r)
    assert r.json["delivered"] == 12 and r.json["queued"] == 0, show(r)
    assert sorted(sk.record.read_text().split()) == sorted(ADDRESSES)
    assert queued_total(tmp_path) == 0


def test_addresses_that_differ_in_the_domains_case_are_one_recipient(tmp_path):
    message, csv = write_inputs(tmp_path, ["Bob@Example.NET", "Bob@example.net", "bob@EXAMPLE.net"])
    r = queue_only(tmp_path, message, csv)
    # The local part is the receiving server's to interpret (RFC 5321 §2.4): Bob and bob stay two.
    assert r.returncode == 0 and r.json["queued"] == 2 and r.json["duplicates"] == 1, show(r)
