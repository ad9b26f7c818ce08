"""A recording SMTP sink written for the cluster tests (not the project's own `ringmta sink`): it accepts every
message and writes one JSON line per event to --record, with the source address of the connection:
  {"event": "open", "peer": "10.88.0.11", "conn": 7, "open": 2, "t": ...}   (open: connections open now)
  {"event": "message", "peer": ..., "conn": 7, "rcpts": ["a@b"], "t": ...}
  {"event": "close", "peer": ..., "conn": 7, "t": ...}
--refuse DOMAIN answers 550 5.1.1 to every RCPT in that domain (a hard bounce). No PIPELINING, no TLS.
--keep-messages DIR writes each message's data (dot-stuffing undone, exactly as received otherwise) to DIR/N.eml
and adds "file" and "mail_from" (the whole MAIL FROM line) to its event; --no-8bitmime leaves 8BITMIME out of the
EHLO reply and records "eight_bit_bytes" (whether the data had a byte >= 0x80) for each message; --smtputf8 offers
SMTPUTF8 (RFC 6531). Commands are read as UTF-8.
Run: python3 recording_sink.py --listen HOST:PORT --record FILE [--refuse DOMAIN] [--keep-messages DIR]
     [--no-8bitmime] [--smtputf8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time


class Recorder:
    def __init__(self, path: str):
        self.file = open(path, "a", buffering=1)
        self.open_now = 0
        self.next_conn = 0
        self.kept = 0

    def write(self, **event):
        event["t"] = time.time()
        self.file.write(json.dumps(event) + "\n")


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rec: Recorder, refuse: set[str],
                  o: argparse.Namespace):
    peer = writer.get_extra_info("peername")[0]
    rec.next_conn += 1
    conn = rec.next_conn
    rec.open_now += 1
    rec.write(event="open", peer=peer, conn=conn, open=rec.open_now)
    rcpts: list[str] = []
    mail_from = ""

    async def say(line: str):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    try:
        await say("220 recording-sink ESMTP")
        while True:
            line = await asyncio.wait_for(reader.readline(), 60)
            if not line:
                break
            verb = line.decode(errors="replace").strip()
            upper = verb.upper()
            if upper.startswith(("EHLO", "HELO")):
                caps = ([] if o.no_8bitmime else ["8BITMIME"]) + (["SMTPUTF8"] if o.smtputf8 else [])
                await say("\r\n".join([f"250-recording-sink"] + [f"250-{c}" for c in caps[:-1]] +
                                       [f"250 {c}" for c in caps[-1:]]) if caps else "250 recording-sink")
            elif upper.startswith("MAIL FROM:"):
                rcpts = []
                mail_from = verb
                await say("250 2.1.0 ok")
            elif upper.startswith("RCPT TO:"):
                address = verb[8:].strip().split()[0].strip("<>")
                if address.rpartition("@")[2].lower() in refuse:
                    await say("550 5.1.1 User unknown")
                else:
                    rcpts.append(address)
                    await say("250 2.1.5 ok")
            elif upper == "DATA":
                await say("354 go on")
                lines = []
                while (data := await asyncio.wait_for(reader.readline(), 60)) not in (b".\r\n", b""):
                    if o.keep_messages:
                        lines.append(data[1:] if data.startswith(b".") else data)
                extra = {}
                if o.keep_messages:
                    rec.kept += 1
                    path = os.path.join(o.keep_messages, f"{rec.kept}.eml")
                    with open(path, "wb") as f:
                        f.write(b"".join(lines))
                    extra = {"file": path, "mail_from": mail_from,
                             "eight_bit_bytes": any(b >= 0x80 for line in lines for b in line)}
                rec.write(event="message", peer=peer, conn=conn, rcpts=rcpts, **extra)
                await say("250 2.0.0 queued")
            elif upper == "RSET":
                rcpts = []
                await say("250 2.0.0 ok")
            elif upper == "QUIT":
                await say("221 2.0.0 bye")
                break
            else:
                await say("250 2.0.0 ok" if upper == "NOOP" else "502 5.5.2 not here")
    except (asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        rec.open_now -= 1
        rec.write(event="close", peer=peer, conn=conn)
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--keep-messages")
    parser.add_argument("--no-8bitmime", action="store_true")
    parser.add_argument("--smtputf8", action="store_true")
    o = parser.parse_args()
    host, port = o.listen.rsplit(":", 1)
    rec = Recorder(o.record)
    refuse = {d.lower() for d in o.refuse}
    server = await asyncio.start_server(lambda r, w: session(r, w, rec, refuse, o), host, int(port))
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
