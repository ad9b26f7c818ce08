// Suppression list and failure records (see records.h): key layout and the Queue records calls.
#include "storage/records.h"

#include <array>
#include <atomic>
#include <chrono>
#include <limits>

#include "storage/codec.h"
#include "storage/keys.h"
#include "util/strings.h"

namespace ringmta::storage {
namespace {

constexpr std::string_view kSuppressionPrefix = "supp/";
// When an address last joined the list (u64 BE seconds), written with every addition.
const std::string kSuppressionAdded = "suppression/last_added";
constexpr std::string_view kFailurePrefix = "failed/";
constexpr std::string_view kOutboxPrefix = "suppout/";

std::string suppression_key(std::string_view address) {
  return std::string(kSuppressionPrefix) + suppression_address(address);
}

// Campaign names never hold '\0' (they come from command lines and config files), so the
// separator keeps one campaign's prefix from matching another that extends it.
std::string failure_prefix(std::string_view campaign) {
  std::string k(kFailurePrefix);
  k += campaign;
  k.push_back('\0');
  return k;
}

// An outbox key: the time in µs (then a per-process count, so that two additions of one address
// within a microsecond stay two) orders the outbox oldest first.
std::string outbox_key(std::string_view address) {
  static std::atomic<uint64_t> count{0};
  std::string k(kOutboxPrefix);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  keys::put_u64_be(k, static_cast<uint64_t>(micros));
  keys::put_u64_be(k, count.fetch_add(1, std::memory_order_relaxed));
  k += suppression_address(address);
  return k;
}

}  // namespace

std::string suppression_address(std::string_view address) {
  return lower(address);
}

Result<void> SuppressionList::add(std::span<const SuppressionEntry> entries) {
  std::vector<std::pair<std::string, std::string>> puts;
  puts.reserve(2 * entries.size() + 1);
  for (const auto& e : entries) {
    std::string value = codec::encode_suppression(e);
    puts.emplace_back(outbox_key(e.address), value);
    puts.emplace_back(suppression_key(e.address), std::move(value));
  }
  puts.emplace_back(kSuppressionAdded, added_value());
  return queue_.write_records(puts, {});
}

Result<void> SuppressionList::apply_from_cluster(
    std::span<const SuppressionEntry> added, std::span<const std::string> removed,
    std::span<const std::pair<std::string, std::string>> extra) {
  std::vector<std::pair<std::string, std::string>> puts(extra.begin(), extra.end());
  for (const auto& e : added) {
    puts.emplace_back(suppression_key(e.address), codec::encode_suppression(e));
  }
  if (!added.empty()) puts.emplace_back(kSuppressionAdded, added_value());
  std::vector<std::string> deletes;
  for (const std::string& a : removed) deletes.push_back(suppression_key(a));
  return queue_.write_records(puts, deletes);
}

Result<std::vector<OutboxEntry>> SuppressionList::outbox(std::size_t max) const {
  std::vector<OutboxEntry> out;
  Result<void> failed;
  auto scanned = queue_.scan_records(kOutboxPrefix, [&](std::string_view key,
                                                        std::string_view value) {
    constexpr std::size_t kStamp = 16;  // µs and count
    const std::string_view address =
        key.substr(std::min(key.size(), kOutboxPrefix.size() + kStamp));
    if (value.empty()) {  // a removal (remove() writes no entry)
      out.push_back({std::string(key), SuppressionEntry{.address = std::string(address)}, true});
      return out.size() < max;
    }
    auto entry = codec::decode_suppression(address, value);
    if (!entry) {
      failed =
          make_error("suppression outbox, " + std::string(address) + ": " + entry.error().message);
      return false;
    }
    out.push_back({std::string(key), std::move(entry.value())});
    return out.size() < max;
  });
  if (!scanned) return scanned.error();
  if (!failed) return failed.error();
  return out;
}

Result<void> SuppressionList::remove_from_outbox(std::span<const std::string> keys) {
  return queue_.write_records({}, keys);
}

std::string SuppressionList::added_value() {
  std::string v;
  keys::put_u64_be(v, static_cast<uint64_t>(unix_now()));
  return v;
}

Result<UnixSeconds> SuppressionList::last_added() const {
  const std::array<std::string, 1> key{kSuppressionAdded};
  auto values = queue_.get_records(key);
  if (!values) return values.error();
  if (const auto& v = values->front(); v && v->size() == 8) {
    return static_cast<UnixSeconds>(keys::get_u64_be(*v));
  }
  // Not recorded (a list written before this was, or none at all): any entry may be newer than
  // any recipient.
  bool any = false;
  auto scanned = queue_.scan_records(kSuppressionPrefix, [&](std::string_view, std::string_view) {
    any = true;
    return false;
  });
  if (!scanned) return scanned.error();
  return any ? std::numeric_limits<UnixSeconds>::max() : UnixSeconds{0};
}

Result<uint64_t> SuppressionList::remove(std::span<const std::string> addresses) {
  auto present = contains(addresses);
  if (!present) return present.error();
  std::vector<std::string> deletes;
  std::vector<std::pair<std::string, std::string>> removals;  // for the other nodes
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (!(*present)[i]) continue;
    deletes.push_back(suppression_key(addresses[i]));
    removals.emplace_back(outbox_key(addresses[i]), std::string());
  }
  if (auto ok = queue_.write_records(removals, deletes); !ok) return ok.error();
  return static_cast<uint64_t>(deletes.size());
}

Result<std::vector<bool>> SuppressionList::contains(std::span<const std::string> addresses) const {
  std::vector<std::string> keys;
  keys.reserve(addresses.size());
  for (const auto& a : addresses) keys.push_back(suppression_key(a));
  auto values = queue_.get_records(keys);
  if (!values) return values.error();
  std::vector<bool> out(addresses.size());
  for (std::size_t i = 0; i < addresses.size(); ++i) out[i] = (*values)[i].has_value();
  return out;
}

Result<void> SuppressionList::list(
    const std::function<bool(const SuppressionEntry&)>& visit) const {
  Result<void> failed;
  auto scanned =
      queue_.scan_records(kSuppressionPrefix, [&](std::string_view key, std::string_view value) {
        std::string_view address = key.substr(kSuppressionPrefix.size());
        auto entry = codec::decode_suppression(address, value);
        if (!entry) {
          failed = make_error("suppression list, " + std::string(address) + ": " +
                              entry.error().message);
          return false;
        }
        return visit(entry.value());
      });
  if (!scanned) return scanned;
  return failed;
}

Result<void> SuppressionList::addresses(
    const std::function<bool(std::string_view address)>& visit) const {
  return queue_.scan_records(kSuppressionPrefix, [&](std::string_view key, std::string_view) {
    return visit(key.substr(kSuppressionPrefix.size()));
  });
}

void SuppressionList::add_to(OutcomeBatch& batch, const SuppressionEntry& entry) {
  std::string value = codec::encode_suppression(entry);
  batch.put_record(outbox_key(entry.address), value);
  batch.put_record(suppression_key(entry.address), std::move(value));
  batch.put_record(kSuppressionAdded, added_value());
}

void add_failure_record(OutcomeBatch& batch, const FailureRecord& record) {
  batch.put_record(failure_prefix(record.campaign) + record.recipient,
                   codec::encode_failure(record));
}

Result<void> visit_failures(const Queue& queue, std::string_view campaign,
                            const std::function<bool(const FailureRecord&)>& visit) {
  const std::string prefix = failure_prefix(campaign);
  Result<void> failed;
  auto scanned = queue.scan_records(prefix, [&](std::string_view key, std::string_view value) {
    std::string_view recipient = key.substr(prefix.size());
    auto record = codec::decode_failure(campaign, recipient, value);
    if (!record) {
      failed =
          make_error("failure record of " + std::string(recipient) + ": " + record.error().message);
      return false;
    }
    return visit(record.value());
  });
  if (!scanned) return scanned;
  return failed;
}

Result<uint64_t> drop_failures(Queue& queue, std::string_view campaign) {
  const std::string prefix = failure_prefix(campaign);
  uint64_t dropped = 0;
  std::vector<std::string> chunk;
  Result<void> written;
  auto flush = [&] {
    written = queue.write_records({}, chunk);
    dropped += chunk.size();
    chunk.clear();
    return written.ok();
  };
  auto scanned = queue.scan_records(prefix, [&](std::string_view key, std::string_view) {
    chunk.emplace_back(key);
    return chunk.size() < Queue::kAdminChunk || flush();
  });
  if (!scanned) return scanned.error();
  if (!written) return written.error();
  if (!chunk.empty() && !flush()) return written.error();
  return dropped;
}

}  // namespace ringmta::storage
