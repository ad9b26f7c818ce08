// libFuzzer target: random client bytes into SubmissionSession, with and without TLS, a user, and
// a relay-network client. Checks that feeding the input whole or in arbitrary chunks (each
// message committed as it ends) gives the same replies and messages, that what the driver must
// hold between feeds stays within one command line unless a commit is pending, that every reply
// line is well formed, and that a message never has more recipients than allowed.
// It may not touch sockets or files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_checks.h"
#include "submission/session.h"

using ringmta::submission::SessionConfig;
using ringmta::submission::SubmissionSession;
using ringmta::submission::SubmittedMessage;
using ringmta::submission::UserDirectory;
using ringmta::submission::UserRates;

using ringmta::fuzz::check;
using ringmta::fuzz::check_replies;

namespace {

// "fuzz-pass", with the fewest rounds SHA-512 crypt allows: AUTH attempts stay cheap.
constexpr const char* kUsers =
    "u:$6$rounds=1000$fuzzsalt$8RfLalGa55GbDmYaPkIYzkckWw8VnrmjcB8fxK1h0hAZUtvDXxu4n4SVScI0QBFPMF4D"
    "wz2TWyyEwCN7qJ4Xd/:max_recipients=4 rate=5/hour\n";

struct Run {
  std::string out;
  std::vector<SubmittedMessage> messages;
};

// Feeds input in chunks of the sizes `next` gives (0: all at once), as a driver does: what is not
// consumed is fed again with the next chunk, and a finished message is committed at once.
template <class Next>
Run drive(const SessionConfig& base, UserDirectory& users, std::string_view input, Next next) {
  UserRates rates;
  SessionConfig config = base;
  config.users = &users;
  config.rates = &rates;
  SubmissionSession session(config);
  Run run;
  std::string held;
  std::size_t pos = 0;
  const ringmta::Millis now = 1'796'000'000'000;
  while (true) {
    const std::size_t n = next();
    const std::size_t take = n == 0 ? input.size() - pos : std::min(n, input.size() - pos);
    held.append(input.substr(pos, take));
    pos += take;
    for (;;) {
      held.erase(0, session.feed(held, now));
      run.out.append(session.output());
      session.clear_output();
      if (!session.has_message()) break;
      SubmittedMessage m = session.take_message();
      check(!m.recipients.empty() && m.recipients.size() <= config.max_recipients);
      run.messages.push_back(std::move(m));
      session.committed("1");
    }
    if (session.starttls_requested()) {
      held.clear();
      session.tls_started();
    }
    check(session.closed() || held.size() <= SubmissionSession::kMaxLineLength + 1);
    if (pos == input.size() || session.closed()) break;
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static UserDirectory users = [] {
    auto parsed = UserDirectory::parse(kUsers, "fuzz");
    check(parsed.ok());
    return std::move(parsed.value());
  }();
  if (size == 0) return 0;
  uint32_t seed = data[0] | 1u;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  SessionConfig config{.hostname = "mx.fuzz.test",
                       .max_message_size = 4096,
                       .max_recipients = 8,
                       .starttls_offered = (seed & 2) != 0,
                       .implicit_tls = (seed & 4) != 0,
                       .relay_client = (seed & 8) != 0,
                       .client_address = "192.0.2.1",
                       .session_id = "f"};
  Run whole = drive(config, users, input, [] { return std::size_t{0}; });
  check_replies(whole.out);
  Run chunked = drive(config, users, input, [&seed] {
    seed = seed * 1103515245u + 12345u;
    return std::size_t{1 + (seed >> 16) % 64};
  });
  check(chunked.out == whole.out);
  check(chunked.messages.size() == whole.messages.size());
  for (std::size_t i = 0; i < whole.messages.size(); ++i) {
    check(chunked.messages[i].message == whole.messages[i].message);
    check(chunked.messages[i].recipients == whole.messages[i].recipients);
  }
  return 0;
}
