// VERP (variable envelope return path): one envelope Sender per recipient, so that a bounce that
// comes back later, from any server, names the recipient and the message it was for even when its
// text does not. ringmta's form, for message 42 to alice@example.org sent as news@sender.test:
//
//     news+m42-alice=example.org@sender.test
//
// "m<id>-" identifies the stored message (and so its campaign); the recipient follows with its
// last '@' written as '='. The sender's mail server must deliver "news+anything" to "news"
// (Postfix recipient_delimiter = +, the default on many systems).
// Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmta::message {

// Whether `sender` can carry a VERP tag: it has a local part and a domain, and its local part
// holds no '+' (the tag would be ambiguous) and no quotes.
bool verp_capable(std::string_view sender);

// The VERP envelope Sender, or nullopt when the sender is not verp_capable or the recipient has
// no '@'.
std::optional<std::string> verp_encode(std::string_view sender, uint64_t message_id,
                                       std::string_view recipient);

struct VerpTag {
  std::string sender;  // the plain envelope Sender, "news@sender.test"
  uint64_t message_id = 0;
  std::string recipient;  // "alice@example.org"
};
// Reads a VERP address back (case-insensitive 'm'); nullopt when it is not one of ours.
std::optional<VerpTag> verp_decode(std::string_view address);

}  // namespace ringmta::message
