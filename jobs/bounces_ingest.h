// ingest_bounces: the reports that came back to the envelope Sender — DSNs and ARF complaints, as
// .eml files, directories of them or Maildirs — attributed to a campaign and recipient and written
// as failure records, hard bounces and complaints onto the suppression list (one batch, synced);
// and unsubscribe requests sent to the List-Unsubscribe mailto address ("unsubscribe TOKEN"),
// whose verified token puts its address on the suppression list.
// The recipient comes from a VERP address the report was delivered to (message/verp.h) when there
// is one, else from the report's Final-Recipient (a complaint: Original-Rcpt-To); the campaign
// from the VERP message id. Parsing is bounce/inbound's, classification bounce/classify's, the
// record-plus-suppress step engine/outcome_recorder's. It may not print.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bounce/classify.h"
#include "storage/queue.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::jobs {

// One failed recipient found in a report.
struct IngestedFailure {
  std::string file;
  std::string recipient;
  std::string campaign;  // "" when the report names none we know
  std::string category;
  bool hard = false;
  std::string reply;
  bool verp = false;  // attributed through a VERP address
  bool suppressed = false;
};

// An unsubscribe request sent to the List-Unsubscribe mailto address, with a valid token.
struct IngestedUnsubscribe {
  std::string file;
  std::string address;
  std::string campaign;
};

struct BouncesIngested {
  uint64_t reports = 0;                           // files read as reports
  std::vector<IngestedUnsubscribe> unsubscribes;  // added to the suppression list
  uint64_t ignored = 0;                           // recipients reported as delayed or delivered
  std::vector<IngestedFailure> failures;
  std::map<std::string, uint64_t> by_category;
  std::vector<std::string> problems;  // "FILE: why", for files not read as reports
  uint64_t suppressed() const;
};

// paths: files, directories or Maildirs (cur/ and new/). suppress: false records failures only.
// An error only when the queue cannot be written; unreadable files are problems.
Result<BouncesIngested> ingest_bounces(storage::Queue& queue, const bounce::Classifier& classifier,
                                       const std::vector<std::string>& paths, bool suppress,
                                       UnixSeconds now);

}  // namespace ringmta::jobs
