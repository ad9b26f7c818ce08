// storage::Queue's whole-queue reads and the operator's changes (`ringmta queue`, summaries):
// counts, the earliest due time, scans, per-domain and per-campaign counts, campaign sizes, flush
// and drop. See queue.h; queue_impl.h says how the queue's files divide.
//
// It may not: serve the delivery hot path (fetches are queue.cc's, and a scan here must not fill
// the block cache with what it reads once), build one WriteBatch for an unbounded change (flush
// and drop write in chunks of Queue::kAdminChunk), or throw.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/queue.h"
#include "storage/queue_impl.h"

namespace ringmta::storage {

using detail::BoundedIterator;
using detail::CacheFill;
using detail::clamp_due;
using detail::kMetaCampaignSize;
using detail::queue_key_at;
using detail::storage_error;

namespace {

// The operator's bulk changes (flush, drop) as synced WriteBatches of up to Queue::kAdminChunk
// entries each, so a change to millions of entries never builds one huge batch. The first failed
// write stops them; error() keeps it.
class ChunkedWrites {
 public:
  using Write = std::function<Result<void>(rocksdb::WriteBatch&)>;
  explicit ChunkedWrites(Write write) : write_(std::move(write)) {}

  rocksdb::WriteBatch& batch() { return batch_; }
  // Counts one entry put into batch() (of however many operations); writes the chunk once it
  // holds kAdminChunk entries. False once a write failed.
  bool added() { return ++pending_ < Queue::kAdminChunk || commit(); }
  // Writes what is pending. False once a write failed.
  bool commit() {
    if (error_) return false;
    if (pending_ == 0) return true;
    if (auto written = write_(batch_); !written) {
      error_ = written.error();
      return false;
    }
    done_ += pending_;
    pending_ = 0;
    batch_.Clear();
    return true;
  }
  uint64_t done() const { return done_; }  // entries written
  const std::optional<Error>& error() const { return error_; }

 private:
  Write write_;
  rocksdb::WriteBatch batch_;
  uint64_t pending_ = 0, done_ = 0;
  std::optional<Error> error_;
};

// The whole queue column family's keys: every partition.
detail::KeyRange whole_queue() {
  return {keys::partition_start(0), keys::partition_start(kPartitions)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Summaries

Result<QueueCounts> Queue::counts(UnixSeconds now) const {
  QueueCounts c;
  const uint32_t now_due = clamp_due(now);
  BoundedIterator it(impl_->db, impl_->queue, whole_queue(), CacheFill::kNo);
  for (it.seek_to_first(); it->Valid(); it->Next()) {
    const auto key = QueueKey::decode(it->key().ToStringView());
    if (!key) continue;
    if (key->due <= now_due) {
      ++c.ready;
    } else {
      ++c.deferred;
    }
  }
  if (auto r = it.status("queue read failed"); !r) return r.error();
  return c;
}

Result<StorageFigures> Queue::storage_figures() const {
  StorageFigures f;
  for (auto [property, value] :
       {std::pair{"rocksdb.estimate-live-data-size", &f.live_data_bytes},
        std::pair{"rocksdb.estimate-pending-compaction-bytes", &f.pending_compaction_bytes}}) {
    if (!impl_->db->GetAggregatedIntProperty(property, value)) {
      return make_error(std::string("RocksDB property ") + property + " unavailable");
    }
  }
  return f;
}

Result<std::optional<UnixSeconds>> Queue::earliest_due() const {
  // One seek per (partition, domain): its first key holds the domain's earliest due time.
  std::optional<UnixSeconds> earliest;
  BoundedIterator it(impl_->db, impl_->queue, whole_queue(), CacheFill::kYes);
  it.seek_to_first();
  while (it->Valid()) {
    const auto key = QueueKey::decode(it->key().ToStringView());
    if (!key) {
      it->Next();
      continue;
    }
    if (!earliest || key->due < *earliest) earliest = key->due;
    it->Seek(keys::domain_end(key->partition, key->domain));
  }
  if (auto r = it.status("queue read failed"); !r) return r.error();
  return earliest;
}

// ---------------------------------------------------------------------------------------------
// Scans

Result<void> Queue::Impl::visit(
    const ScanFilter& filter,
    const std::function<bool(const QueueKey&, const rocksdb::Slice&)>& fn) const {
  std::optional<uint32_t> min_due;
  if (filter.deferred_at) {
    if (*filter.deferred_at >= static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
      return {};  // nothing can be due later
    }
    min_due = clamp_due(*filter.deferred_at + 1);
  }
  std::vector<detail::KeyRange> ranges;
  if (!filter.domain.empty()) {
    auto id = domain_id(filter.domain);
    if (!id) return {};
    const uint8_t p = partition_of(filter.domain);
    ranges.push_back({keys::domain_start(p, *id), keys::domain_end(p, *id)});
  } else {
    for (unsigned p = 0; p < kPartitions; ++p) {
      ranges.push_back({keys::partition_start(p), keys::partition_start(p + 1)});
    }
  }
  for (auto& range : ranges) {
    BoundedIterator it(db, queue, std::move(range), CacheFill::kNo);
    it.seek_to_first();
    while (it->Valid()) {
      auto key = queue_key_at(*it);
      if (!key) return key.error();
      if (min_due && key->due < *min_due) {
        QueueKey first_deferred{key->partition, key->domain, *min_due, 0};
        it->Seek(first_deferred.encode());
        continue;
      }
      if (!fn(*key, it->value())) return {};
      it->Next();
    }
    if (auto r = it.status("queue read failed"); !r) return r;
  }
  return {};
}

Result<void> Queue::Impl::visit_campaign(
    std::span<const MessageId> ids,
    const std::function<bool(const QueueKey&, const rocksdb::Slice&)>& fn) const {
  std::optional<Error> corrupt;
  auto r = visit(ScanFilter{}, [&](const QueueKey& key, const rocksdb::Slice& value) {
    auto record = codec::decode_record(value.ToStringView());
    if (!record) {
      corrupt = make_error("queue entry (seq " + std::to_string(key.seq) +
                           "): " + record.error().message);
      return false;
    }
    if (!std::binary_search(ids.begin(), ids.end(), record->message)) return true;
    return fn(key, value);
  });
  if (!r) return r;
  if (corrupt) return *corrupt;
  return {};
}

Result<std::vector<QueueEntry>> Queue::scan(uint8_t partition, std::size_t max,
                                            const std::optional<QueueKey>& after) const {
  if (auto ok = detail::check_partition("scan", partition, after); !ok) return ok.error();
  std::vector<QueueEntry> out;
  if (max == 0) return out;
  BoundedIterator it(impl_->db, impl_->queue,
                     {keys::partition_start(partition), keys::partition_start(partition + 1u)},
                     CacheFill::kNo);
  for (it.seek_past(after); it->Valid() && out.size() < max; it->Next()) {
    auto key = queue_key_at(*it);
    if (!key) return key.error();
    auto e = impl_->entry(*key, it->value());
    if (!e) return e.error();
    out.push_back(std::move(e.value()));
  }
  if (auto r = it.status("queue read failed"); !r) return r.error();
  return out;
}

Result<void> Queue::scan_all(const ScanFilter& filter,
                             const std::function<bool(const QueueEntry&)>& visit) const {
  std::optional<Error> failed;
  auto r = impl_->visit(filter, [&](const QueueKey& key, const rocksdb::Slice& value) {
    auto e = impl_->entry(key, value);
    if (!e) {
      failed = e.error();
      return false;
    }
    return visit(e.value());
  });
  if (!r) return r;
  if (failed) return *failed;
  return {};
}

Result<std::vector<DomainCount>> Queue::counts_by_domain(UnixSeconds now) const {
  const uint32_t now_due = clamp_due(now);
  std::unordered_map<uint32_t, DomainCount> by_id;
  auto r = impl_->visit(ScanFilter{}, [&](const QueueKey& key, const rocksdb::Slice&) {
    DomainCount& c = by_id[key.domain];
    ++(key.due <= now_due ? c.ready : c.deferred);
    return true;
  });
  if (!r) return r.error();
  std::vector<DomainCount> out;
  out.reserve(by_id.size());
  for (auto& [id, c] : by_id) {
    auto name = impl_->domain_name(id);
    if (!name) return name.error();
    c.domain = std::move(name.value());
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const DomainCount& a, const DomainCount& b) {
    if (a.total() != b.total()) return a.total() > b.total();
    return a.domain < b.domain;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Campaigns

Result<std::vector<MessageId>> Queue::campaign_messages(std::string_view campaign) const {
  std::vector<MessageId> ids;
  BoundedIterator it(impl_->db, impl_->messages, detail::KeyRange{}, CacheFill::kNo);
  for (it.seek_to_first(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != 8)
      return make_error("corrupt message key of " + std::to_string(k.size()) + " bytes");
    const MessageId id = keys::get_u64_be(k.ToStringView());
    auto m = codec::decode_message(it->value().ToStringView());
    if (!m) return make_error("message " + std::to_string(id) + ": " + m.error().message);
    if (m->campaign == campaign) ids.push_back(id);
  }
  if (auto r = it.status("message read failed"); !r) return r.error();
  return ids;
}

Result<QueueCounts> Queue::campaign_counts(std::string_view campaign, UnixSeconds now) const {
  auto ids = campaign_messages(campaign);
  if (!ids) return ids.error();
  QueueCounts c;
  if (ids->empty()) return c;
  const uint32_t now_due = clamp_due(now);
  auto r = impl_->visit_campaign(*ids, [&](const QueueKey& key, const rocksdb::Slice&) {
    ++(key.due <= now_due ? c.ready : c.deferred);
    return true;
  });
  if (!r) return r.error();
  return c;
}

Result<void> Queue::add_campaign_size(std::string_view campaign, uint64_t accepted) {
  auto current = campaign_size(campaign);
  if (!current) return current.error();
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, detail::campaign_size_key(campaign),
            detail::u64_value(current->value_or(0) + accepted));
  return impl_->write_synced(batch, "campaign size write failed");
}

Result<std::optional<uint64_t>> Queue::campaign_size(std::string_view campaign) const {
  std::string v;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, detail::campaign_size_key(campaign), &v);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  if (!s.ok()) return storage_error("campaign size read failed", s);
  if (v.size() != 8) return make_error("corrupt campaign size for '" + std::string(campaign) + "'");
  return std::optional<uint64_t>(keys::get_u64_be(v));
}

// ---------------------------------------------------------------------------------------------
// Changes

Result<uint64_t> Queue::flush(UnixSeconds now, std::string_view domain) {
  const uint32_t now_due = clamp_due(now);
  // An operator's action: synced, done when it says so.
  ChunkedWrites writes(
      [&](rocksdb::WriteBatch& b) { return impl_->write_synced(b, "queue flush write failed"); });
  ScanFilter filter;
  filter.deferred_at = now;
  filter.domain = std::string(domain);
  auto r = impl_->visit(filter, [&](const QueueKey& key, const rocksdb::Slice& value) {
    // As OutcomeBatch::reschedule: the key was Put once, so SingleDelete; the seq is kept.
    writes.batch().SingleDelete(impl_->queue, key.encode());
    QueueKey due_now = key;
    due_now.due = now_due;
    writes.batch().Put(impl_->queue, due_now.encode(), value);
    return writes.added();
  });
  if (!r) return r.error();
  if (!writes.commit()) return *writes.error();
  return writes.done();
}

Result<uint64_t> Queue::drop_campaign(std::string_view campaign) {
  auto ids = campaign_messages(campaign);
  if (!ids) return ids.error();
  ChunkedWrites writes(
      [&](rocksdb::WriteBatch& b) { return impl_->write_synced(b, "queue drop write failed"); });
  if (!ids->empty()) {
    auto r = impl_->visit_campaign(*ids, [&](const QueueKey& key, const rocksdb::Slice&) {
      writes.batch().SingleDelete(impl_->queue, key.encode());
      return writes.added();
    });
    if (!r) return r.error();
    if (!writes.commit()) return *writes.error();
  }
  // No recipient refers to these messages any more: remove them and the campaign's size.
  rocksdb::WriteBatch tail;
  for (MessageId id : *ids) tail.Delete(impl_->messages, keys::message_key(id));
  tail.Delete(impl_->meta, detail::campaign_size_key(campaign));
  if (auto w = impl_->write_synced(tail, "queue drop write failed"); !w) return w.error();
  return writes.done();
}

// ---------------------------------------------------------------------------------------------
// Housekeeping

Result<uint64_t> Queue::collect_messages() {
  Impl& impl = *impl_;
  const rocksdb::Snapshot* snapshot = impl.db->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{impl.db, snapshot};
  std::unordered_set<MessageId> live;
  {
    detail::BoundedIterator it(impl.db, impl.queue, whole_queue(), detail::CacheFill::kNo,
                               snapshot);
    for (it.seek_to_first(); it->Valid(); it->Next()) {
      // A record that does not decode keeps nothing alive: its message cannot be sent anyway.
      if (auto id = codec::record_message(it->value().ToStringView())) live.insert(*id);
    }
    if (auto r = it.status("cannot scan the queue"); !r) return r.error();
  }
  {
    // "bounce/" + partition u8 + message u64 BE + seq u64 BE: a DSN still to be made needs its
    // message.
    const std::string prefix(detail::kMetaBounce);
    detail::BoundedIterator it(impl.db, impl.meta, {prefix, std::nullopt}, detail::CacheFill::kNo,
                               snapshot);
    for (it.seek_to_first(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      if (!key.starts_with(prefix)) break;
      if (key.size() == prefix.size() + 17)
        live.insert(keys::get_u64_be(key.substr(prefix.size() + 1)));
    }
    if (auto r = it.status("cannot read the bounce reports"); !r) return r.error();
  }
  rocksdb::WriteBatch batch;
  uint64_t deleted = 0;
  {
    detail::BoundedIterator it(impl.db, impl.messages, detail::KeyRange{}, detail::CacheFill::kNo,
                               snapshot);
    for (it.seek_to_first(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      if (key.size() != 8 || live.contains(keys::get_u64_be(key))) continue;
      auto message = codec::decode_message(it->value().ToStringView());
      if (!message || !(message->submitted || message->is_dsn)) continue;
      batch.Delete(impl.messages, it->key());
      ++deleted;
    }
    if (auto r = it.status("cannot scan the messages"); !r) return r.error();
  }
  if (deleted == 0) return deleted;
  if (auto w = impl.write_synced(batch, "message cleanup write failed"); !w) return w.error();
  return deleted;
}

}  // namespace ringmta::storage
