// libFuzzer target for protocol::SmtpClient: a session fed random server bytes, timeouts, TLS
// results and submissions, as the input dictates. It may not do I/O. It checks that every
// submitted envelope ends exactly once with one reply per recipient, that nothing is written after
// SessionClosed, that AUTH or MAIL never go out in clear when TLS is required, and that only a 2xx
// to the end of data counts as delivered.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "protocol/smtp_client.h"

using namespace ringmta::protocol;

namespace {

struct Harness {
  explicit Harness(ClientConfig c) : tls(c.tls), client(std::move(c)) {}

  void pump() {
    while (auto e = client.poll_event()) {
      auto* d = std::get_if<TransactionDone>(&*e);
      // SessionClosed is the last event, but for envelopes submitted after it (answered locally).
      if (closed && (d == nullptr || d->id < first_id_after_close)) std::abort();
      if (d != nullptr) {
        auto it = pending.find(d->id);
        if (it == pending.end()) std::abort();  // unknown or finished twice
        if (d->recipient_replies.size() != it->second) std::abort();
        if (d->maybe_delivered && d->final_reply.positive()) std::abort();
        // Delivered only on a server's 2xx to the end of data, for a recipient it accepted.
        if (d->delivered && (d->maybe_delivered || d->final_reply.local ||
                             d->final_reply.code / 100 != 2 || !any_accepted(*d))) {
          std::abort();
        }
        pending.erase(it);
      } else if (std::holds_alternative<SessionReady>(*e)) {
        if (++ready > 1) std::abort();
      } else if (std::holds_alternative<SessionClosed>(*e)) {
        closed = true;
        first_id_after_close = next_id;
      } else if (std::holds_alternative<TlsHandshakeNeeded>(*e)) {
        handshake_wanted = true;
      }
    }
    if (client.has_output()) {
      std::string out = client.take_output();
      written += out.size();
      client.on_written(written);
      if (closed_before_output) std::abort();
      bool clear = tls != TlsMode::kNone && !client.observations().tls_active;
      if (clear &&
          (out.find("AUTH ") != std::string::npos || out.find("MAIL FROM") != std::string::npos)) {
        std::abort();
      }
    }
    closed_before_output = closed;
    if (client.closed() != closed) std::abort();
  }

  static bool any_accepted(const TransactionDone& d) {
    for (const auto& r : d.recipient_replies) {
      if (r.positive() && !r.local) return true;
    }
    return false;
  }

  TlsMode tls;
  SmtpClient client;
  uint64_t written = 0;
  std::map<uint64_t, std::size_t> pending;  // id -> recipients
  int ready = 0;
  bool closed = false;
  bool closed_before_output = false;
  bool handshake_wanted = false;
  uint64_t next_id = 1;
  uint64_t first_id_after_close = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  ClientConfig config;
  config.ehlo_name = "client.example.com";
  config.tls = static_cast<TlsMode>(data[0] % 3);
  if ((data[0] & 0x4) != 0) config.credentials = Credentials{"user", "secret"};
  config.auth = static_cast<AuthMechanism>((data[0] >> 3) % 4);
  Harness h(config);
  ringmta::Millis now = 0;
  h.client.on_connected(now);
  h.pump();
  std::size_t i = 1;
  while (i < size) {
    uint8_t op = data[i++];
    switch (op % 8) {
      case 0:
      case 1:
      case 2: {  // server bytes: the next 1..64
        std::size_t n = std::min<std::size_t>((op >> 3) + 1, size - i);
        h.client.on_received(std::string_view(reinterpret_cast<const char*>(data) + i, n), now);
        i += n;
        break;
      }
      case 3: {  // submit
        Envelope e;
        e.id = h.next_id++;
        e.mail_from = (op & 0x10) != 0 ? "" : "a@x.org";
        std::size_t rcpts = (op >> 5) % 4;
        for (std::size_t r = 0; r < rcpts; ++r)
          e.recipients.push_back("r" + std::to_string(r) + "@y.org");
        e.body = (op & 0x8) != 0 ? "Subject: x\r\n\r\nbody\r\n" : std::string(200, 'b');
        e.eight_bit = (op & 0x10) != 0;
        e.probe = (op & 0x80) != 0 && (op & 0x40) != 0;
        h.pending.emplace(e.id, e.recipients.size());
        h.client.submit(std::move(e), now);
        break;
      }
      case 4:  // time passes; fire the deadline when due
        now += static_cast<ringmta::Millis>(op) * 5000;
        if (auto d = h.client.deadline(); d && now >= *d) h.client.on_timeout(now);
        break;
      case 5:
        if (h.handshake_wanted) {
          h.handshake_wanted = false;
          if ((op & 0x8) != 0) {
            h.client.on_tls_established(now);
          } else {
            h.client.on_tls_failed("bad certificate", now);
          }
        }
        break;
      case 6:
        h.client.quit(now);
        break;
      case 7:
        if ((op & 0xf8) == 0xf8) h.client.on_connection_lost("reset", now);
        break;
    }
    h.pump();
  }
  // The end: the connection goes away; every envelope must have been answered.
  h.client.on_connection_lost("end of input", now);
  h.pump();
  if (!h.closed || !h.pending.empty()) {
    if (std::getenv("FUZZ_DEBUG"))
      std::fprintf(stderr, "closed=%d pending=%zu cclosed=%d\n", h.closed, h.pending.size(),
                   h.client.closed());
    std::abort();
  }
  return 0;
}
