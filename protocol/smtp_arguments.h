// The arguments of an SMTP server's commands, as the sink and the submission server read them:
// MAIL FROM:/RCPT TO: paths (RFC 5321 §4.1.2; UTF-8 allowed, RFC 6531; an obsolete source route
// dropped), MAIL FROM's parameters, BDAT's chunk size and LAST (RFC 3030).
// It may not: allocate, keep state, or decide whether the null path is acceptable (the caller
// does).
#pragma once

#include <cstdint>
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

// What a server makes of MAIL FROM's parameters: SIZE (against max_size), BODY=7BIT|8BITMIME,
// SMTPUTF8, and with accept_auth AUTH=<mailbox> (RFC 4954 §5, accepted and unused).
struct MailParamsVerdict {
  std::string_view reply;     // "" = acceptable; else the whole reply line, without CRLF
  bool syntax_error = false;  // the reply is a 5xx for the client's mistake (501, 555)
};
MailParamsVerdict check_mail_params(std::string_view params, uint64_t max_size, bool accept_auth);

// "chunk-size [LAST]"; false when malformed (the chunk's length is then unknown: what follows is
// read as commands, as Postfix does).
bool parse_bdat(std::string_view arg, uint64_t& size, bool& last);

}  // namespace ringmta::protocol
