// The preview of one recipient's copy (`ringmta render`): the row chosen from the list as `send`
// would queue it, composed as a shard composes it (merged, MIME-aware, the list fields with an
// unsubscribe token, DKIM-signed with the configured keys, 7-bit for a server without 8BITMIME
// when asked), with the envelope it would go with. Nothing is queued or sent.
// It may not deliver, write a queue, or print.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dkim/signer.h"
#include "jobs/campaign.h"
#include "util/result.h"

namespace ringmta::jobs {

struct PreviewInput {
  CampaignInput campaign;  // the message, the list, --sender, --verp, the list fields
  // What shapes a copy besides the campaign (config::CopySettings says it from the flags).
  std::string message_id_domain;
  std::string sender_override;
  std::vector<dkim::SigningKey> dkim_keys;
  bool dkim_required = false;
  std::size_t row = 0;  // the data row (1 = the first); 0: the row of `email`
  std::string email;
  bool seven_bit = false;  // the copy a server without 8BITMIME gets
  // The queue whose unsubscribe secret makes the links' tokens ("" or none there: an example
  // token, and a note says so).
  std::string queue_dir;
};

struct Preview {
  std::string copy;  // the message as the recipient's mailbox gets it: CRLF, dot-stuffing undone
  std::string mail_from;
  std::string rcpt_to;
  std::size_t row = 0;
  std::size_t line = 0;
  bool eight_bit = false;          // BODY=8BITMIME would be asked for (where offered)
  std::vector<std::string> notes;  // the message's warnings, and what differs from a real send
};

Result<Preview> render_preview(const PreviewInput& input);

}  // namespace ringmta::jobs
