// Ingest: a message file and a recipient CSV into the queue.
//
// Reads the CSV as a stream (header row; column "email" required; every other column is a merge
// field), validates each row (address, column count, merge values against the template), drops
// duplicate addresses (case-insensitive domain, exact local part), and enqueues in batches of
// kBatch recipients, each batch synced before it counts as accepted. A bad row is skipped and
// written to the rejects file as "LINE,REASON,RAW-EMAIL"; the job goes on. Addresses on the
// suppression list (storage/records.h) are skipped and counted: the list is read once into a set
// of hashes, and only the recipients found there are looked up (one MultiGet per batch).
// It may not deliver or schedule anything.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "message/address.h"
#include "message/template.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::ingest {

struct IngestOptions {
  std::string recipients_path;
  std::string recipients_name;  // how errors name the list ("" = by its path)
  std::string rejects_path;     // "" = no rejects file (rows are still counted)
  std::string envelope_sender;
  std::string raw_message;  // the message file's bytes
  std::string campaign;
  bool skip_suppressed = true;  // false: --ignore-suppression
  bool verp = false;            // one envelope Sender per recipient (message/verp.h)
  storage::ListFields list;     // List-Unsubscribe / List-Id in every copy
  // A test send (`send --test-to`): every accepted row's copy goes to this address (its merge
  // values, {{email}} included, stay the row's), and only the first max_rows rows are taken
  // (0 = all).
  std::optional<message::Address> deliver_to;
  uint64_t max_rows = 0;
};

struct IngestSummary {
  storage::MessageId message = 0;
  uint64_t accepted = 0;
  uint64_t rejected_rows = 0;
  uint64_t duplicates = 0;
  uint64_t suppressed = 0;  // on the suppression list, not queued
};

constexpr std::size_t kBatch = 50'000;

// Errors that stop the job (exit status 2 at the CLI): unreadable files, a template that does not
// parse, a CSV header without "email", a template field missing from the CSV header (these three
// are ErrorKind::kInput: the user's to mend), a queue write that fails (what was accepted before
// stays queued; the error says how many). progress is called after each synced batch with the
// running summary.
Result<IngestSummary> ingest(storage::Queue& queue, const IngestOptions& options,
                             const std::function<void(const IngestSummary&)>& progress = {});

// One row of the list as ingest() would queue it (`ringmta render`): data row `row` (1 = the first
// after the header), or with row 0 the first row whose address is `email` (compared as the
// suppression list compares addresses). A row that ingest() would reject is an error that says
// why, naming the list and the line; so are a list with fewer rows and an address not in it.
struct ChosenRow {
  storage::NewRecipient recipient;
  std::size_t row = 0;   // its number among the data rows
  std::size_t line = 0;  // its first line in the file
};
Result<ChosenRow> choose_row(const std::string& recipients_path, const std::string& name,
                             const message::MessageTemplate& tmpl, std::size_t row,
                             const std::string& email);

}  // namespace ringmta::ingest
