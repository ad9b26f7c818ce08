"""A small SMTP server that misbehaves on purpose, for direct-delivery tests on 127.0.0.x:

* ``greeting421``: answers every connection with ``421 4.3.2`` and hangs up (a busy MX);
* ``rcpt451``: a normal session whose RCPT gets ``451 4.7.1`` (greylisting);
* ``broken_tls``: offers STARTTLS, answers ``220`` to it and then sends bytes that are not TLS; a session that
  does not ask for STARTTLS is served normally and its recipients are recorded.

One thread per connection; every read has a timeout, so a stuck client cannot hold the test.
"""

from __future__ import annotations

import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def reply(self, line: str):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        server: ScriptedMx = self.server.owner  # type: ignore[attr-defined]
        server.connections += 1
        if server.mode == "greeting421":
            self.reply("421 4.3.2 mx busy, try again later")
            return
        self.reply("220 scripted.test ESMTP")
        rcpts: list[str] = []
        while True:
            raw = self.rfile.readline(2048)
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                ext = ["250-scripted.test", "250-8BITMIME"]
                if server.mode == "broken_tls":
                    ext.append("250-STARTTLS")
                ext.append("250 SIZE 10000000")
                self.reply("\r\n".join(ext))
            elif verb == "STARTTLS" and server.mode == "broken_tls":
                server.starttls_attempts += 1
                self.reply("220 2.0.0 ready to start TLS")
                self.wfile.write(b"this is not a TLS server hello\r\n" * 4)
                self.wfile.flush()
                return
            elif verb == "MAIL":
                rcpts = []
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                if server.mode == "rcpt451":
                    self.reply("451 4.7.1 greylisted, please try again later")
                else:
                    rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("554 5.5.1 no valid recipients")
                    continue
                self.reply("354 go ahead")
                while True:
                    body = self.rfile.readline(100_000)
                    if not body:
                        return
                    if body in (b".\r\n", b".\n"):
                        break
                with server.lock:
                    server.delivered.extend(rcpts)
                self.reply("250 2.0.0 accepted")
            elif verb == "RSET":
                rcpts = []
                self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("502 5.5.2 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class ScriptedMx:
    def __init__(self, host: str, port: int, mode: str):
        self.host, self.port, self.mode = host, port, mode
        self.delivered: list[str] = []
        self.connections = 0
        self.starttls_attempts = 0
        self.lock = threading.Lock()
        self._server: _Server | None = None

    def start(self) -> "ScriptedMx":
        self._server = _Server((self.host, self.port), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
