// parse_smtp_path: the "<path>[ params]" argument of a server's MAIL FROM: and RCPT TO:
// (RFC 5321 §4.1.2), as the sink and the submission server read it. UTF-8 in local parts and
// domains is allowed (RFC 6531); an obsolete source route is dropped.
// It may not: allocate, reply, or decide whether the null path is acceptable (the caller does).
#pragma once

#include <string_view>

namespace ringmta::protocol {

struct SmtpPath {
  std::string_view address;  // brackets and any source route removed; "" for the null path <>
  std::string_view params;   // the text after '>', leading spaces removed
};

// nullopt-like: false when the argument is not a well-formed path. `s` is what follows "FROM:"
// or "TO:"; the views point into it.
bool parse_smtp_path(std::string_view s, SmtpPath& out);

// Splits the next "NAME[=VALUE]" off a parameter list (space separated); false when none is left.
bool next_smtp_param(std::string_view& params, std::string_view& name, std::string_view& value,
                     bool& has_value);

}  // namespace ringmta::protocol
