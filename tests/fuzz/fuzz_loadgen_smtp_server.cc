// libFuzzer target: random client bytes into SmtpServerSession.
// Checks that feeding the input whole or in arbitrary chunks gives the same replies and events,
// that the held input stays within one command line, and that every reply line is well formed.
// It may not touch sockets or files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "loadgen/smtp_server.h"

using ringmta::loadgen::MessageAccepted;
using ringmta::loadgen::ServerConfig;
using ringmta::loadgen::SmtpServerSession;

using ringmta::fuzz::check;
using ringmta::fuzz::check_replies;

namespace {

bool same(const MessageAccepted& a, const MessageAccepted& b) {
  return a.queue_id == b.queue_id && a.mail_from == b.mail_from && a.recipients == b.recipients &&
         a.body_bytes == b.body_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte seeds the chunk sizes; the rest is what the client sends.
  uint32_t seed = data[0] | 1u;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  ServerConfig config;
  config.max_recipients = 8;  // reach the limit with small inputs
  config.max_message_size = 4096;
  config.offer_starttls = (seed & 2) != 0;  // after a STARTTLS both copies ignore the rest
  SmtpServerSession whole(config);
  whole.feed(input);
  check(whole.buffered_bytes() <= SmtpServerSession::kMaxLineLength + 1);
  check_replies(whole.output());

  SmtpServerSession chunked(config);
  std::string out;
  std::size_t events = 0;
  std::size_t pos = 0;
  while (pos < input.size()) {
    seed = seed * 1103515245u + 12345u;
    std::size_t n = 1 + (seed >> 16) % 64;
    chunked.feed(input.substr(pos, n));
    pos += n;
    check(chunked.buffered_bytes() <= SmtpServerSession::kMaxLineLength + 1);
    chunked.move_output_to(out);
    for (const MessageAccepted& m : chunked.events()) {
      check(events < whole.events().size() && same(m, whole.events()[events]));
      check(m.recipients.size() <= config.max_recipients && !m.recipients.empty());
      check(m.body_bytes <= config.max_message_size);
      ++events;
    }
    chunked.clear_events();
  }
  chunked.move_output_to(out);  // the greeting, when there was no input
  check(events == whole.events().size());
  check(out == whole.output());
  check(chunked.closed() == whole.closed() && chunked.in_data() == whole.in_data());
  return 0;
}
