"""A tiny scriptable DNS server for tests (UDP and TCP on 127.0.0.1, a thread each): answers from a
table, and can misbehave on purpose — SERVFAIL, garbage, compression loops, truncation that forces
TCP, silence. Pure standard library (no dnslib). It may not listen anywhere but loopback.

    server = DnsServer({"example.test": {"MX": [(10, "mx.example.test")]},
                        "mx.example.test": {"A": ["127.0.0.5"]}})
    server.start(); ... server.port ...; server.stop()

A name's entry may instead be one of the behaviours: "servfail", "garbage", "loop", "silent",
"nxdomain", or {"MX": [...], "truncate_udp": True}. Unknown names get NXDOMAIN.
"""

from __future__ import annotations

import random
import socket
import struct
import threading

TYPES = {"A": 1, "CNAME": 5, "MX": 15, "AAAA": 28}


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_query(data: bytes):
    """(id, qname, qtype, question bytes) or None."""
    if len(data) < 12:
        return None
    qid = struct.unpack(">H", data[:2])[0]
    pos, labels = 12, []
    while pos < len(data) and data[pos] != 0:
        n = data[pos]
        labels.append(data[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    pos += 1
    if pos + 4 > len(data):
        return None
    qtype = struct.unpack(">H", data[pos : pos + 2])[0]
    return qid, ".".join(labels).lower(), qtype, data[12 : pos + 4]


class DnsServer:
    def __init__(self, zone: dict, ttl: int = 300):
        self.zone = {k.lower(): v for k, v in zone.items()}
        self.ttl = ttl
        self.udp_queries: list[tuple[str, int]] = []
        self.tcp_queries: list[tuple[str, int]] = []
        self._stop = threading.Event()
        # One port for UDP and TCP: the kernel's free UDP port may be taken for TCP; then another.
        for attempt in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
                if attempt == 19:
                    raise
        self.tcp.listen(16)
        self.udp.settimeout(0.1)
        self.tcp.settimeout(0.1)
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]

    def start(self) -> "DnsServer":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.udp.close()
        self.tcp.close()

    # -- answers -------------------------------------------------------------------------------

    def answer(self, data: bytes, over_tcp: bool) -> bytes | None:
        q = parse_query(data)
        if q is None:
            return None
        qid, qname, qtype, question = q
        (self.tcp_queries if over_tcp else self.udp_queries).append((qname, qtype))
        entry = self.zone.get(qname, "nxdomain")
        header = lambda flags, an: struct.pack(">HHHHHH", qid, flags, 1, an, 0, 0)  # noqa: E731
        if entry == "silent":
            return None
        if entry == "nxdomain":
            return header(0x8583, 0) + question
        if entry == "servfail":
            return header(0x8182, 0) + question
        if entry == "garbage":
            return struct.pack(">H", qid) + bytes(random.getrandbits(8) for _ in range(40))
        if entry == "loop":
            # One MX record whose exchange name is a pointer to itself.
            rr_at = 12 + len(question)
            rdata_at = rr_at + 2 + 10
            rdata = struct.pack(">H", 10) + struct.pack(">H", 0xC000 | (rdata_at + 2))
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, self.ttl, len(rdata)) + rdata
            return header(0x8580, 1) + question + rr
        records = []
        for cname in entry.get("CNAME", []):
            records.append(self._rr(qname, 5, encode_name(cname)))
        for rtype, values in entry.items():
            if TYPES.get(rtype) != qtype:
                continue
            for v in values:
                if rtype == "MX":
                    records.append(self._rr(qname, 15, struct.pack(">H", v[0]) + encode_name(v[1])))
                elif rtype == "A":
                    records.append(self._rr(qname, 1, socket.inet_pton(socket.AF_INET, v)))
                elif rtype == "AAAA":
                    records.append(self._rr(qname, 28, socket.inet_pton(socket.AF_INET6, v)))
        if entry.get("truncate_udp") and not over_tcp:
            return header(0x8780, 0) + question  # TC set, no records: ask again over TCP
        return header(0x8580, len(records)) + question + b"".join(records)

    def _rr(self, owner: str, rtype: int, rdata: bytes) -> bytes:
        return encode_name(owner) + struct.pack(">HHIH", rtype, 1, self.ttl, len(rdata)) + rdata

    # -- transports ----------------------------------------------------------------------------

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            reply = self.answer(data, over_tcp=False)
            if reply is not None:
                self.udp.sendto(reply[:512], peer)

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while not self._stop.is_set():
                size = self._read(conn, 2)
                if size is None:
                    return
                data = self._read(conn, struct.unpack(">H", size)[0])
                if data is None:
                    return
                reply = self.answer(data, over_tcp=True)
                if reply is not None:
                    conn.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf
