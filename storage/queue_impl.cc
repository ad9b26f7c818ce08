// What storage::Queue's files share (see queue_impl.h): meta keys, RocksDB error causes, the
// bounded iterator, and Queue::Impl's guarded writes, domain lookups and entry decoding.
//
// It may not: implement a Queue operation (those are in queue.cc, queue_admin.cc and
// queue_records.cc), or throw (RocksDB reports Status values; everything here returns Result).
#include "storage/queue_impl.h"

#include <limits>

#include "storage/codec.h"
#include "storage/keys.h"
#include "util/strings.h"

namespace ringmta::storage {
namespace detail {
namespace {

bool contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

// RocksDB reports a held LOCK file as a plain IOError; only its text tells.
bool held_lock(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  return contains(text, "/LOCK") || contains(text, "lock hold by current process");
}

}  // namespace

std::string bounce_key(uint8_t partition, MessageId message, uint64_t seq) {
  std::string k(kMetaBounce);
  k.push_back(static_cast<char>(partition));
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(message >> shift));
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(seq >> shift));
  return k;
}

Result<void> record_key_allowed(std::string_view key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return make_error("record key without a module prefix refused");
  }
  const std::string_view prefix = key.substr(0, slash + 1);
  if (prefix == kMetaCampaignSize || prefix == kMetaBounce) {
    return make_error("record key in the queue's own namespace refused");
  }
  return {};
}

std::string cause_of(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  if (s.IsNoSpace() || contains(text, "No space left")) return "no space left on device";
  if (held_lock(s)) return std::string(kInUse);
  if (s.IsCorruption()) return "data corruption";
  if (s.IsIOError()) return "I/O error";
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return "database busy";
  if (s.IsInvalidArgument()) return "invalid argument";
  if (s.IsNotSupported()) return "not supported";
  if (s.IsIncomplete() || s.IsAborted()) return "database stopped after an earlier error";
  return "storage error";
}

Error storage_error(std::string_view what, const rocksdb::Status& s) {
  return make_error(std::string(what) + " (" + cause_of(s) + "): " + s.ToString(),
                    held_lock(s) ? ErrorKind::kInUse : ErrorKind::kOther);
}

uint32_t clamp_due(int64_t t) {
  if (t < 0) return 0;
  if (t > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
    return std::numeric_limits<uint32_t>::max();
  }
  return static_cast<uint32_t>(t);
}

std::string u64_value(uint64_t v) {
  std::string s;
  keys::put_u64_be(s, v);
  return s;
}

Result<void> check_partition(std::string_view what, uint8_t partition,
                             const std::optional<QueueKey>& after) {
  if (partition >= kPartitions) {
    return make_error(std::string(what) + ": partition " + std::to_string(partition) +
                      " out of range");
  }
  if (after && after->partition != partition) {
    return make_error(std::string(what) + ": cursor belongs to partition " +
                      std::to_string(after->partition) + ", not " + std::to_string(partition));
  }
  return {};
}

Result<QueueKey> queue_key_at(const rocksdb::Iterator& it) {
  const rocksdb::Slice k = it.key();
  auto key = QueueKey::decode(k.ToStringView());
  if (!key) return make_error("corrupt queue key of " + std::to_string(k.size()) + " bytes");
  return *key;
}

BoundedIterator::BoundedIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, KeyRange range,
                                 CacheFill fill, const rocksdb::Snapshot* snapshot)
    : lower_(std::move(range.lower)), upper_(std::move(range.upper)) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  if (!lower_.empty()) {
    lower_slice_ = rocksdb::Slice(lower_);
    ro.iterate_lower_bound = &lower_slice_;
  }
  if (upper_) {
    upper_slice_ = rocksdb::Slice(*upper_);
    ro.iterate_upper_bound = &upper_slice_;
  }
  ro.fill_cache = fill == CacheFill::kYes;
  it_.reset(db->NewIterator(ro, cf));
}

void BoundedIterator::seek_past(const std::optional<QueueKey>& past) {
  if (!past) {
    seek_to_first();
    return;
  }
  const std::string start = past->encode();
  it_->Seek(start);
  if (it_->Valid() && it_->key() == rocksdb::Slice(start)) it_->Next();
}

Result<void> BoundedIterator::status(std::string_view what) const {
  if (!it_->status().ok()) return storage_error(what, it_->status());
  return {};
}

}  // namespace detail

using detail::storage_error;

Queue::Impl::~Impl() {
  if (db == nullptr) return;
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db->Close().PermitUncheckedError();  // flushes nothing unsynced away: the WAL holds it
  delete db;
}

Result<void> Queue::Impl::writable(std::string_view what) {
  if (wal_sync_failed.load(std::memory_order_acquire)) {
    return make_error(
        std::string(what) +
        " (an earlier WAL sync failed; reopen the queue to recover): " + *wal_sync_error.load());
  }
  if (needs_resume.load(std::memory_order_acquire)) {
    rocksdb::Status r = db->Resume();
    if (r.IsBusy()) {
      return make_error(std::string(what) +
                        " (database recovering from an earlier write error; retry shortly)");
    }
    if (!r.ok()) {
      Error e = storage_error(what, r);
      e.message += " (the database stopped after an earlier write error; reopen it to recover)";
      return e;
    }
    needs_resume.store(false, std::memory_order_release);
  }
  return {};
}

Result<void> Queue::Impl::write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch& batch,
                                std::string_view what) {
  if (auto r = writable(what); !r) return r;
  rocksdb::Status s = db->Write(wo, &batch);
  if (!s.ok()) {
    // With paranoid_checks a failed write stops the database (background error) until Resume.
    needs_resume.store(true, std::memory_order_release);
    return storage_error(what, s);
  }
  return {};
}

Result<void> Queue::Impl::write_synced(rocksdb::WriteBatch& batch, std::string_view what) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return write(wo, batch, what);
}

Result<std::string> Queue::Impl::domain_name(uint32_t id) const {
  std::shared_lock lock(domains_mu);
  if (id < domain_names.size() && !domain_names[id].empty()) return domain_names[id];
  return make_error("queue entry refers to unknown domain id " + std::to_string(id));
}

std::vector<uint32_t> Queue::Impl::domains_in(uint8_t partition) const {
  std::shared_lock lock(domains_mu);
  return partition_domains[partition];
}

std::optional<uint32_t> Queue::Impl::domain_id(std::string_view name) const {
  std::shared_lock lock(domains_mu);
  auto it = domain_ids.find(lower(name));
  if (it == domain_ids.end()) return std::nullopt;
  return it->second;
}

Result<QueueEntry> Queue::Impl::entry(const QueueKey& key, const rocksdb::Slice& value) const {
  auto record = codec::decode_record(value.ToStringView());
  if (!record) {
    return make_error("queue entry (partition " + std::to_string(key.partition) + ", domain " +
                      std::to_string(key.domain) + ", seq " + std::to_string(key.seq) +
                      "): " + record.error().message);
  }
  auto name = domain_name(key.domain);
  if (!name) return name.error();
  return QueueEntry{key, std::move(name.value()), std::move(record.value())};
}

}  // namespace ringmta::storage
