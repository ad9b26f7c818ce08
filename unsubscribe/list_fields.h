// The list fields of each copy of a campaign (RFC 2369 List-Unsubscribe and List-Id, RFC 8058
// List-Unsubscribe-Post), with the recipient's token in the URL and in the mailto subject:
//
//   List-Unsubscribe: <https://news.example.org/u/TOKEN>,
//    <mailto:unsubscribe@example.org?subject=unsubscribe%20TOKEN>
//   List-Unsubscribe-Post: List-Unsubscribe=One-Click
//   List-Id: Example News <news.example.org>
//
// check_list_fields() refuses, before anything is queued, what would make a wrong field: a URL that
// is not https:// or has no {token}, a mailto that is not an address, CR/LF anywhere.
// It may not: make tokens (UnsubscribeTokens does), or read the message.
#pragma once

#include <string>
#include <string_view>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::unsubscribe {

// Errors name the flag: "--unsubscribe-url ...: ...".
Result<void> check_list_fields(const storage::ListFields& fields);

// Appends the fields for a recipient's token (each line ends with CRLF). Nothing for empty fields.
void append_list_fields(std::string& out, const storage::ListFields& fields,
                        std::string_view token);

// The token of an unsubscribe request sent to the mailto address: the word after "unsubscribe"
// in the Subject: of message (its header section; CRLF or LF line ends); "" when there is none.
std::string token_in_request(std::string_view message);

}  // namespace ringmta::unsubscribe
