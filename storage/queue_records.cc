// storage::Queue's keyed values beside the queue, in the meta column family: the records other
// modules keep there under their own prefixes (storage/records.h builds on them), and the
// pending bounce reports apply() writes with a failed recipient's removal.
//
// It may not: let a record key into the queue's own meta namespace (record_key_allowed guards
// every key and scan prefix), know what a record's value means, or throw.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <optional>

#include "storage/keys.h"
#include "storage/queue.h"
#include "storage/queue_impl.h"

namespace ringmta::storage {

using detail::BoundedIterator;
using detail::CacheFill;
using detail::record_key_allowed;
using detail::storage_error;

namespace {

// The first key of a partition's bounce reports (bounce_key without message and seq).
std::string bounce_prefix(uint8_t partition) {
  std::string k(detail::kMetaBounce);
  k.push_back(static_cast<char>(partition));
  return k;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Bounces

Result<std::vector<PendingBounce>> Queue::pending_bounces(uint8_t partition,
                                                          std::size_t max) const {
  std::vector<PendingBounce> out;
  // Partitions are < 64: partition + 1 fits a byte.
  BoundedIterator it(impl_->db, impl_->meta,
                     {bounce_prefix(partition), bounce_prefix(static_cast<uint8_t>(partition + 1))},
                     CacheFill::kYes);
  const std::string& lower = it.lower();
  for (it.seek_to_first(); it->Valid() && out.size() < max; it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (!k.starts_with(lower) || k.size() != lower.size() + 16) {
      return make_error("bounce read failed: a malformed bounce report key in partition " +
                        std::to_string(partition) + " (" + std::to_string(k.size()) + " bytes)");
    }
    k.remove_prefix(lower.size());
    out.push_back(PendingBounce{partition, keys::get_u64_be(k.substr(0, 8)),
                                keys::get_u64_be(k.substr(8, 8)), it->value().ToString()});
  }
  if (auto r = it.status("bounce read failed"); !r) return r.error();
  return out;
}

Result<void> Queue::forget_bounces(std::span<const PendingBounce> reported) {
  if (reported.empty()) return {};
  rocksdb::WriteBatch batch;
  for (const auto& b : reported) {
    batch.Delete(impl_->meta, detail::bounce_key(b.partition, b.message, b.seq));
  }
  return impl_->write_synced(batch, "bounce write failed");
}

// ---------------------------------------------------------------------------------------------
// Records

Result<std::vector<std::optional<std::string>>> Queue::get_records(
    std::span<const std::string> keys) const {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  impl_->db->MultiGet(rocksdb::ReadOptions(), impl_->meta, slices.size(), slices.data(),
                      values.data(), statuses.data());
  std::vector<std::optional<std::string>> out(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return storage_error("record read failed", statuses[i]);
    out[i] = values[i].ToString();
  }
  return out;
}

Result<void> Queue::scan_records(
    std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  if (auto ok = record_key_allowed(prefix); !ok) return ok;
  BoundedIterator it(impl_->db, impl_->meta, {std::string(prefix), std::nullopt}, CacheFill::kNo);
  for (it.seek_to_first(); it->Valid(); it->Next()) {
    const std::string_view k = it->key().ToStringView();
    if (!k.starts_with(prefix)) break;
    if (!visit(k, it->value().ToStringView())) return {};
  }
  return it.status("record scan failed");
}

Result<void> Queue::write_records(std::span<const std::pair<std::string, std::string>> puts,
                                  std::span<const std::string> deletes) {
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : puts) {
    if (auto ok = record_key_allowed(key); !ok) return ok;
    batch.Put(impl_->meta, key, value);
  }
  for (const auto& key : deletes) {
    if (auto ok = record_key_allowed(key); !ok) return ok;
    batch.Delete(impl_->meta, key);
  }
  return impl_->write_synced(batch, "record write failed");
}

}  // namespace ringmta::storage
