"""An SMTP server written to answer out of place, for the tests that nothing it did not accept is counted delivered.

``MisbehavingSmtp(stage, wrong, pipelining)`` serves a normal session except at ``stage`` (greeting, ehlo, mail,
rcpt, data, dot), where every reply is ``wrong``:

* ``2xx``: a success code that is not the one due there (250 to DATA or as a greeting, 220 to MAIL/RCPT/EHLO);
* ``3xx``: 354 where a completion is due, 399 to DATA;
* ``4xx`` / ``5xx``: a refusal (451 / 554);
* ``malformed``: a line without a code;
* ``mixed``: a multiline reply whose lines carry different codes (``250-first`` / ``354 second``);
* ``early``: the right reply, sent together with the reply before it — ahead of the command it answers (a server
  that talks without reading);
* ``flood`` (stage ``greeting``): fifty ``250 OK`` lines straight after the greeting;
* a whole reply line (``550 5.7.1 We do not relay``): that reply, as given.

``MisbehavingSmtp(per_connection=N, limit_at="mail"|"rcpt")`` is otherwise well behaved but holds each connection
to N messages, as many servers do: the next MAIL (or RCPT) of that connection gets ``452 4.5.3``.

Its ledger ``accepted`` holds the recipients of every transaction it answered with a 2xx after reading the whole
body: the truth the client's counts are checked against. One thread per connection, every read with a timeout,
127.0.0.1 only.
"""

from __future__ import annotations

import socketserver
import threading

GOOD = {
    "greeting": "220 misbehaving.test ESMTP",
    "mail": "250 2.1.0 ok",
    "rcpt": "250 2.1.5 ok",
    "data": "354 go ahead",
    "dot": "250 2.0.0 queued",
}
NEXT = {"greeting": "ehlo", "ehlo": "mail", "mail": "rcpt", "rcpt": "data", "data": "dot"}


def wrong_reply(stage: str, wrong: str) -> str:
    if wrong[:3].isdigit():
        return wrong
    if wrong == "2xx":
        return "250 2.0.0 OK" if stage in ("greeting", "data") else "220 2.0.0 hello again"
    if wrong == "3xx":
        return "399 keep talking" if stage == "data" else "354 go ahead"
    if wrong == "4xx":
        return "451 4.3.0 try again later"
    if wrong == "5xx":
        return "554 5.3.0 refused"
    if wrong == "malformed":
        return "hello there, no code here"
    if wrong == "mixed":
        first = "354" if stage == "data" else ("220" if stage == "greeting" else "250")
        second = "250" if stage == "data" else "354"
        return f"{first}-first line\r\n{second} second line"
    raise ValueError(wrong)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def setup(self):
        super().setup()
        self.server_ = self.server.owner  # type: ignore[attr-defined]
        self.early_sent = False
        self.messages = 0  # accepted in this connection

    def good(self, stage: str) -> str:
        if stage == "ehlo":
            ext = ["250-misbehaving.test", "250-8BITMIME"]
            if self.server_.pipelining:
                ext.append("250-PIPELINING")
            return "\r\n".join(ext + ["250 SIZE 10000000"])
        return GOOD[stage]

    def reply_for(self, stage: str) -> str | None:
        """What the server says at `stage`: None when it already said it ahead (early)."""
        srv = self.server_
        if srv.wrong == "early":
            out = self.good(stage)
            if stage == srv.stage and self.early_sent:
                out = None
            if NEXT.get(stage) == srv.stage and not self.early_sent:
                self.early_sent = True
                out = (out or "") + "\r\n" + self.good(srv.stage)
            return out
        if stage == srv.stage and srv.wrong != "flood":
            return wrong_reply(stage, srv.wrong)
        return self.good(stage)

    def say(self, text: str | None):
        if text:
            self.wfile.write((text + "\r\n").encode())
            self.wfile.flush()

    def handle(self):
        srv = self.server_
        with srv.lock:
            srv.connections += 1
        greeting = self.reply_for("greeting")
        if srv.wrong == "flood":
            greeting = GOOD["greeting"] + "\r\n" + "\r\n".join(["250 OK"] * 50)
        self.say(greeting)
        rcpts: list[str] = []
        mail_ok = False
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            verb = raw[:4].decode(errors="replace").upper()
            if verb in ("EHLO", "HELO"):
                self.say(self.reply_for("ehlo"))
            elif verb == "MAIL":
                rcpts = []
                r = self.reply_for("mail")
                if self.full("mail"):
                    r = "452 4.5.3 too many messages in this connection"
                mail_ok = r is None or r.startswith("250 ")
                self.say(r)
            elif verb == "RCPT":
                if not mail_ok:  # as a real server: no transaction without an accepted MAIL
                    self.say("503 5.5.1 need MAIL first")
                    continue
                r = self.reply_for("rcpt")
                if self.full("rcpt"):
                    r = "452 4.5.3 too many messages in this connection"
                if r is None or r.startswith("250 "):
                    rcpts.append(raw.decode(errors="replace").split(":", 1)[1].strip().strip("<>"))
                self.say(r)
            elif verb == "DATA":
                if not rcpts and srv.stage != "data":
                    self.say("554 5.5.1 no valid recipients")
                    continue
                r = self.reply_for("data")
                self.say(r)
                # A server reads a body after its 354, also one it sent ahead (early) or mixed in.
                if r is None or "354" in r:
                    if not self.read_body(rcpts):
                        return
            elif verb == "RSET":
                rcpts, mail_ok = [], False
                self.say("250 2.0.0 ok")
            elif verb == "QUIT":
                self.say("221 2.0.0 bye")
                return
            else:
                self.say("502 5.5.2 not implemented")

    def full(self, stage: str) -> bool:
        srv = self.server_
        return srv.per_connection > 0 and srv.limit_at == stage and self.messages >= srv.per_connection

    def read_body(self, rcpts: list[str]) -> bool:
        srv = self.server_
        while True:
            line = self.rfile.readline(100_000)
            if not line:
                return False
            if line == b".\r\n":
                break
        r = self.reply_for("dot")
        if r is not None and r[:1] == "2" and r[3:4] == " " and rcpts:
            self.messages += 1
            with srv.lock:
                srv.accepted.extend(rcpts)
        self.say(r)
        return True


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class MisbehavingSmtp:
    def __init__(self, stage: str = "", wrong: str = "", pipelining: bool = True, host: str = "127.0.0.1",
                 per_connection: int = 0, limit_at: str = "mail"):
        self.stage, self.wrong, self.pipelining = stage, wrong, pipelining
        self.per_connection, self.limit_at = per_connection, limit_at
        self.accepted: list[str] = []
        self.connections = 0
        self.lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]

    def __enter__(self) -> "MisbehavingSmtp":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
