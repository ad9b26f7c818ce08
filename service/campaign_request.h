// CampaignRequest: the JSON body of `POST /api/v1/campaigns` read into what queueing needs — the
// message, the campaign's options, and the recipients as CSV rows for the same checks `send` makes
// (ingest/). Sans-I/O: fed the body, it returns the request or the first error, naming the field
// ("recipients[3].email"), as the 400 answer will.
//
//   {"message": "From: ...\r\nSubject: Hello {{name}}\r\n\r\nDear {{name}} ...",
//    "campaign": "spring-2027",                  (optional: idempotent with it, else generated)
//    "sender": "bounces@example.org",            (optional: the envelope Sender)
//    "unsubscribe_url": "https://.../u/{token}", "unsubscribe_mailto": "...", "list_id": "...",
//    "verp": false, "ignore_suppression": false, "new_campaign": false,
//    "recipients": [{"email": "ann@example.net", "name": "Ann"}, ...]}
//
// The first recipient's keys are the columns (one of them "email", in any case); a later recipient
// may leave a column out (an empty value) but not add one. Values are strings or numbers.
// The body is read with a SAX parser, so recipients are never held as a JSON tree: memory is the
// CSV text (about the size of the body). Nesting deeper than a recipient's values is refused at
// once. It may not queue anything, touch files, or know about HTTP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::service {

struct CampaignRequest {
  std::string message;
  std::string campaign;  // "" = generate one
  std::string sender;    // "" = the route's, else the message's From:
  storage::ListFields list;
  bool verp = false;
  bool ignore_suppression = false;
  bool new_campaign = false;
  // A header row and one row per recipient, in order (RFC 4180, every field written, an empty
  // one as ""), and the line each recipient's row starts on (1-based; the header is line 1), so
  // that a row the ingest step rejects by line is named by its index again.
  std::string csv;
  std::vector<std::size_t> row_lines;

  // The index of the recipient whose row starts at csv line `line`; -1 for none.
  long recipient_at_line(std::size_t line) const;
};

struct RequestError {
  std::string field;  // "recipients[3].email", "message", "" for the body as a whole
  std::string message;
};

// The request, or the first thing wrong with it.
struct ParsedCampaign {
  bool ok = false;
  CampaignRequest request;
  RequestError error;
};
ParsedCampaign parse_campaign_request(std::string_view body);

}  // namespace ringmta::service
