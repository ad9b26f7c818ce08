// Records kept beside the queue for list hygiene, in the queue's database (Queue records API):
//
//   suppression list  "supp/" + lower-case address                 -> SuppressionEntry
//                     "suppression/last_added"                     -> u64 BE seconds
//   its outbox        "suppout/" + u64 BE µs + lower-case address  -> SuppressionEntry
//                     (every local addition, until a cluster's agent has published it)
//   failure records   "failed/" + campaign + '\0' + recipient        -> FailureRecord
//
// A hard bounce of a recipient-specific kind adds its address to the suppression list in the same
// WriteBatch that removes the recipient (engine/shard), so a crash cannot lose it; later sends
// skip suppressed addresses at ingest. Every permanent failure leaves a failure record for
// `ringmta report --bounces`, written the same way.
// Values are encoded by storage/codec.h.
// It may not: classify replies (bounce/classify decides the category) or deliver.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/queue.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::storage {

struct SuppressionEntry {
  std::string address;   // as given; the key is its lower-case form
  std::string category;  // bounce category name, or "manual" / "import"
  std::string reason;    // the reply that caused it, or the operator's note
  std::string campaign;  // the campaign whose send bounced ("" for manual entries)
  UnixSeconds since = 0;
};

struct FailureRecord {
  std::string campaign;
  std::string recipient;
  std::string category;  // bounce category name
  bool hard = true;      // as classified: permanent for this recipient
  std::string reply;
  UnixSeconds time = 0;
};

// The lower-case address the suppression list is keyed by.
std::string suppression_address(std::string_view address);

// An addition waiting in the outbox for the cluster (cluster/suppression_sync.h).
struct OutboxEntry {
  std::string key;         // the outbox record's, to delete once published
  SuppressionEntry entry;  // a removal: only the address
  bool removal = false;    // the address was taken off the list
};

class SuppressionList {
 public:
  explicit SuppressionList(Queue& queue) : queue_(queue) {}

  // Adds (or replaces) entries, each also into the outbox (for the other nodes of a cluster);
  // synced.
  Result<void> add(std::span<const SuppressionEntry> entries);
  // What other nodes of the cluster added and removed: onto and off the list, not into the
  // outbox, with `extra` (the cluster's stream position) in the same synced write.
  Result<void> apply_from_cluster(std::span<const SuppressionEntry> added,
                                  std::span<const std::string> removed,
                                  std::span<const std::pair<std::string, std::string>> extra);
  // Up to `max` outbox entries, oldest first; remove_from_outbox() once they are published.
  Result<std::vector<OutboxEntry>> outbox(std::size_t max) const;
  Result<void> remove_from_outbox(std::span<const std::string> keys);
  // Removes addresses (each that was on the list also into the outbox, as a removal); returns how
  // many were on the list. Synced.
  Result<uint64_t> remove(std::span<const std::string> addresses);
  // For each address, whether it is suppressed (one MultiGet).
  Result<std::vector<bool>> contains(std::span<const std::string> addresses) const;
  // Every entry in address order, until visit returns false. A corrupt value is an error naming
  // the address.
  Result<void> list(const std::function<bool(const SuppressionEntry&)>& visit) const;
  // Every suppressed address (the lower-case key form), in order, until visit returns false;
  // decodes no entries.
  Result<void> addresses(const std::function<bool(std::string_view address)>& visit) const;

  // The same entry (and its outbox record) written with delivery outcomes.
  static void add_to(OutcomeBatch& batch, const SuppressionEntry& entry);

  // When an address last joined the list (every add records it): a recipient queued after that
  // was checked against the list as it still is. 0: the list is empty; the largest value when it
  // was written before this was recorded (then every recipient must be checked).
  Result<UnixSeconds> last_added() const;

 private:
  static std::string added_value();
  Queue& queue_;
};

// A permanent failure's record, written with the recipient's removal.
void add_failure_record(OutcomeBatch& batch, const FailureRecord& record);
// A campaign's failure records in recipient order, until visit returns false.
Result<void> visit_failures(const Queue& queue, std::string_view campaign,
                            const std::function<bool(const FailureRecord&)>& visit);
// Removes a campaign's failure records (with `queue drop`); returns how many.
Result<uint64_t> drop_failures(Queue& queue, std::string_view campaign);

}  // namespace ringmta::storage
