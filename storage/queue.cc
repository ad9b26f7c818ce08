// storage::Queue on RocksDB: opening and tuning the database, id allocation, enqueue, ready scans
// and outcome writes. See queue.h for the contract and the durability rules.
//
// It may not: schedule or decide retries, hold more than the asked-for window of recipients in
// RAM, or throw (RocksDB reports Status values; everything here returns Result).
#include "storage/queue.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/rocksdb_log.h"

namespace ringmta::storage {
namespace {

constexpr const char* kCfMessages = "messages";
constexpr const char* kCfDomains = "domains";
constexpr const char* kCfQueue = "queue";
constexpr const char* kCfMeta = "meta";

// meta CF keys. Sequence numbers are reserved in blocks: the persisted limit is above every seq
// ever handed out, so a restart continues from it and never reuses one.
constexpr const char* kMetaSeqLimit = "seq_limit";
constexpr const char* kMetaNextMessage = "next_message";
constexpr const char* kMetaNextDomain = "next_domain";
constexpr const char* kMetaWritable = "writable";  // check_writable's probe
constexpr uint64_t kSeqBlock = 1 << 16;
// meta CF: "campaign_size/<campaign>" -> u64 BE, recipients accepted for that campaign.
constexpr std::string_view kMetaCampaignSize = "campaign_size/";
// "bounce/" + partition u8 + message u64 BE + seq u64 BE → PendingBounce::report.
constexpr std::string_view kMetaBounce = "bounce/";

std::string bounce_key(uint8_t partition, MessageId message, uint64_t seq) {
  std::string k(kMetaBounce);
  k.push_back(static_cast<char>(partition));
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(message >> shift));
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(seq >> shift));
  return k;
}

// Records of other modules share the meta CF under their own prefixes (see Queue::get_records).
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

uint64_t read_u64_be(std::string_view b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<std::size_t>(i)]);
  return v;
}
// The phrase cause_of() gives a held lock; queue_in_use() looks for it.
constexpr std::string_view kInUse = "database in use by another process or already open";

constexpr std::size_t kWriteBufferSize = 64u << 20;

bool contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

// A short human cause for a RocksDB status, so operators see "no space left on device" first.
std::string cause_of(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  if (s.IsNoSpace() || contains(text, "No space left")) return "no space left on device";
  if (contains(text, "/LOCK") || contains(text, "lock hold by current process")) {
    return std::string(kInUse);
  }
  if (s.IsCorruption()) return "data corruption";
  if (s.IsIOError()) return "I/O error";
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return "database busy";
  if (s.IsInvalidArgument()) return "invalid argument";
  if (s.IsNotSupported()) return "not supported";
  if (s.IsIncomplete() || s.IsAborted()) return "database stopped after an earlier error";
  return "storage error";
}

Error storage_error(std::string_view what, const rocksdb::Status& s) {
  return make_error(std::string(what) + " (" + cause_of(s) + "): " + s.ToString());
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

std::string u32_value(uint32_t v) {
  std::string s;
  keys::put_u32_be(s, v);
  return s;
}

rocksdb::ColumnFamilyOptions base_cf_options() {
  rocksdb::ColumnFamilyOptions cf;
  cf.compaction_style = rocksdb::kCompactionStyleLevel;
  cf.write_buffer_size = kWriteBufferSize;
  cf.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions table;
  // No filter_policy: the queue is read by range scans, where bloom filters do not help.
  table.filter_policy = nullptr;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

rocksdb::ColumnFamilyOptions queue_cf_options() {
  rocksdb::ColumnFamilyOptions cf = base_cf_options();
  // Every queue key is deleted once delivered: mark SST files dense with tombstones for
  // compaction, so seeks over a domain do not wade through deleted pairs (RocksDB #10300, #5265).
  cf.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/1024,
                                                    /*deletion_trigger=*/512,
                                                    /*deletion_ratio=*/0.5));
  return cf;
}

// Positions it on the first key strictly after `past`, or on `lower` without one (a cursor's key
// may be gone already: Seek lands on the next one).
void seek_past(rocksdb::Iterator& it, const std::optional<QueueKey>& past,
               const std::string& lower) {
  if (!past) {
    it.Seek(lower);
    return;
  }
  const std::string start = past->encode();
  it.Seek(start);
  if (it.Valid() && it.key() == rocksdb::Slice(start)) it.Next();
}

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

rocksdb::ColumnFamilyOptions small_cf_options() {
  rocksdb::ColumnFamilyOptions cf = base_cf_options();
  cf.write_buffer_size = 4u << 20;  // domains and meta are tiny
  return cf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// OutcomeBatch

void OutcomeBatch::remove(const QueueKey& key) {
  ops_.push_back(Op{key, std::nullopt, {}});
}

void OutcomeBatch::reschedule(const QueueKey& key, uint32_t new_due,
                              const RecipientRecord& record) {
  ops_.push_back(Op{key, new_due, codec::encode_record(record)});
}

// ---------------------------------------------------------------------------------------------
// Queue::Impl

struct Queue::Impl {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* messages = nullptr;
  rocksdb::ColumnFamilyHandle* domains = nullptr;
  rocksdb::ColumnFamilyHandle* queue = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;

  // Id allocation. Held only while allocating and writing reservations (domains, seq blocks,
  // message ids); the recipients' own batch is written outside it, so concurrent enqueues can
  // share a WAL sync.
  std::mutex alloc_mu;
  uint64_t next_seq = 1;
  uint64_t seq_limit = 1;  // persisted; every seq handed out is < seq_limit
  uint64_t next_message = 1;
  uint32_t next_domain = 0;

  // Domain maps, read by fetch_ready on other threads; written under alloc_mu + unique lock.
  mutable std::shared_mutex domains_mu;
  std::unordered_map<std::string, uint32_t> domain_ids;
  std::vector<std::string> domain_names;  // index = id; "" for an id never persisted
  std::vector<std::vector<uint32_t>> partition_domains =
      std::vector<std::vector<uint32_t>>(kPartitions);  // ids per partition, ascending

  // Bulk enqueues (ingest below): SST files are built here, then moved into the database.
  std::string staging_dir;
  rocksdb::Options sst_options;  // the queue column family's, for SstFileWriter
  std::atomic<uint64_t> next_staged{0};

  // Set after a failed write: RocksDB then refuses writes until Resume() (e.g. space freed).
  std::atomic<bool> needs_resume{false};
  // Set after a failed SyncWAL: the queue refuses writes until reopened.
  std::atomic<bool> wal_sync_failed{false};
  std::atomic<std::shared_ptr<const std::string>> wal_sync_error{
      std::make_shared<const std::string>()};

  ~Impl() {
    if (db == nullptr) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db->Close().PermitUncheckedError();  // flushes nothing unsynced away: the WAL holds it
    delete db;
  }

  // RocksDB (7.8, assertions on in Debian's build) aborts the process if a WAL writer that has
  // seen an error is used again, so after a failure nothing touches the WAL until RocksDB has
  // recovered (Resume switches to a fresh WAL) or, after a failed WAL sync, until a reopen.
  Result<void> writable(std::string_view what) {
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

  Result<void> write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch& batch,
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

  // The bulk path of write_enqueue: n sorted entries (entry(i) -> key, value) written as one SST
  // file in staging_dir (synced by Finish), then moved into the queue column family. A failure
  // leaves the database as it was and removes the file; a crash between the two leaves a file
  // that open() removes.
  template <typename Entry>
  Result<void> ingest(std::size_t n, std::size_t bytes, const Entry& entry) {
    if (auto r = writable("queue write failed"); !r) return r;
    if (auto r = room_for(bytes); !r) return r;
    const std::string path = staging_dir + "/" + std::to_string(next_staged.fetch_add(1)) + ".sst";
    std::error_code ignored;
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), sst_options, queue);
    rocksdb::Status s = writer.Open(path);
    for (std::size_t i = 0; s.ok() && i < n; ++i) {
      auto [key, value] = entry(i);
      s = writer.Put(key, value);
    }
    if (s.ok()) s = writer.Finish();
    if (!s.ok()) {
      std::filesystem::remove(path, ignored);
      return storage_error("queue write failed", s);
    }
    rocksdb::IngestExternalFileOptions options;
    options.move_files = true;  // a hard link: the staging directory is inside the database's
    s = db->IngestExternalFile(queue, {path}, options);
    std::filesystem::remove(path, ignored);  // RocksDB removes it after a move; not after a failure
    if (!s.ok()) {
      needs_resume.store(true, std::memory_order_release);  // in case it stopped the database
      return storage_error("queue write failed", s);
    }
    return {};
  }

  // A bulk enqueue fills the disk with files that all overlap, and merging them (compaction)
  // writes the merged file before deleting its inputs, while delivering writes a WAL record per
  // outcome: on a disk filled to the brim the queue could accept mail but never compact or record
  // an outcome again. So a bulk enqueue needs room for its batch (`bytes`, the encoded entries:
  // at least the file it becomes) and leaves twice what the queue's files hold free; beyond
  // that it refuses with ENOSPC's own words.
  Result<void> room_for(std::size_t bytes) {
    struct statvfs fs {};
    if (::statvfs(staging_dir.c_str(), &fs) != 0) return {};  // unknown: let the write decide
    const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    uint64_t held = 0;
    if (!db->GetIntProperty(queue, "rocksdb.total-sst-files-size", &held)) held = 0;
    const uint64_t needed = static_cast<uint64_t>(bytes) + 2 * held;
    if (free_bytes >= needed) return {};
    return make_error(
        "queue write failed (no space left on device): " + std::to_string(free_bytes >> 10) +
        " KiB free in " + staging_dir + ", a batch of " + std::to_string(bytes >> 10) +
        " KiB needs " + std::to_string(needed >> 10) +
        " KiB (the queue keeps twice what its files hold free, for compactions "
        "and outcome records)");
  }

  Result<void> sync() {
    if (auto r = writable("queue WAL sync failed"); !r) return r;
    rocksdb::Status s = db->SyncWAL();
    if (!s.ok()) {
      // A failed fsync does not stop RocksDB, but its WAL writer is now unusable (and what was
      // written since the last good sync may be gone): refuse further writes until reopened.
      Error e = storage_error("queue WAL sync failed", s);
      wal_sync_error.store(std::make_shared<const std::string>(e.message));
      wal_sync_failed.store(true, std::memory_order_release);
      return e;
    }
    return {};
  }

  Result<void> load() {
    std::string v;
    auto read_meta = [&](const char* key, uint64_t& out, std::size_t width) -> Result<void> {
      rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, key, &v);
      if (s.IsNotFound()) return {};
      if (!s.ok()) return storage_error(std::string("cannot read ") + key, s);
      if (v.size() != width) return make_error(std::string("corrupt meta value for ") + key);
      out = width == 8 ? keys::get_u64_be(v) : keys::get_u32_be(v);
      return {};
    };
    uint64_t next_dom = 0;
    if (auto r = read_meta(kMetaSeqLimit, seq_limit, 8); !r) return r;
    if (auto r = read_meta(kMetaNextMessage, next_message, 8); !r) return r;
    if (auto r = read_meta(kMetaNextDomain, next_dom, 4); !r) return r;
    seq_limit = std::max<uint64_t>(seq_limit, 1);
    next_seq = seq_limit;
    next_message = std::max<uint64_t>(next_message, 1);

    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), domains));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice val = it->value();
      if (val.size() != 4) {
        return make_error("corrupt domains entry for '" + it->key().ToString() + "'");
      }
      const uint32_t id = keys::get_u32_be(std::string_view(val.data(), val.size()));
      if (id == std::numeric_limits<uint32_t>::max()) {
        return make_error("corrupt domains entry for '" + it->key().ToString() + "'");
      }
      domain_ids[it->key().ToString()] = id;
      if (domain_names.size() <= id) domain_names.resize(id + 1);
      domain_names[id] = it->key().ToString();
      next_dom = std::max<uint64_t>(next_dom, uint64_t{id} + 1);
    }
    if (!it->status().ok()) return storage_error("cannot load the domains", it->status());
    for (const auto& [name, id] : domain_ids) partition_domains[partition_of(name)].push_back(id);
    for (auto& ids : partition_domains) std::sort(ids.begin(), ids.end());
    next_domain = static_cast<uint32_t>(next_dom);
    return {};
  }

  Result<std::string> domain_name(uint32_t id) const {
    std::shared_lock lock(domains_mu);
    if (id < domain_names.size() && !domain_names[id].empty()) return domain_names[id];
    return make_error("queue entry refers to unknown domain id " + std::to_string(id));
  }

  std::vector<uint32_t> domains_in(uint8_t partition) const {
    std::shared_lock lock(domains_mu);
    return partition_domains[partition];
  }

  std::optional<uint32_t> domain_id(std::string_view name) const {
    std::shared_lock lock(domains_mu);
    auto it = domain_ids.find(keys::lower_ascii(name));
    if (it == domain_ids.end()) return std::nullopt;
    return it->second;
  }

  // Visits queue keys (and values) matching filter in key order until fn returns false: one
  // partition after another, or only the domain's range. With filter.deferred_at, the keys of a
  // domain due by then are skipped with one seek (keys are ordered by due within a domain).
  // Reads from the implicit snapshot taken when each partition's iterator is made, so writes
  // made by fn (flush, drop) are not seen again.
  Result<void> visit(const ScanFilter& filter,
                     const std::function<bool(const QueueKey&, const rocksdb::Slice&)>& fn) const {
    std::optional<uint32_t> min_due;
    if (filter.deferred_at) {
      if (*filter.deferred_at >= static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
        return {};  // nothing can be due later
      }
      min_due = clamp_due(*filter.deferred_at + 1);
    }
    struct Range {
      std::string lower, upper;
    };
    std::vector<Range> ranges;
    if (!filter.domain.empty()) {
      auto id = domain_id(filter.domain);
      if (!id) return {};
      const uint8_t p = partition_of(filter.domain);
      ranges.push_back({keys::domain_start(p, *id), *id == std::numeric_limits<uint32_t>::max()
                                                        ? keys::partition_start(p + 1u)
                                                        : keys::domain_start(p, *id + 1)});
    } else {
      for (unsigned p = 0; p < kPartitions; ++p) {
        ranges.push_back({keys::partition_start(p), keys::partition_start(p + 1)});
      }
    }
    for (const auto& range : ranges) {
      rocksdb::Slice lower_slice(range.lower), upper_slice(range.upper);
      rocksdb::ReadOptions ro;
      ro.iterate_lower_bound = &lower_slice;
      ro.iterate_upper_bound = &upper_slice;
      ro.fill_cache = false;  // an operator's scan must not evict the hot window
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, queue));
      it->Seek(range.lower);
      while (it->Valid()) {
        const rocksdb::Slice k = it->key();
        const auto key = QueueKey::decode(std::string_view(k.data(), k.size()));
        if (!key) return make_error("corrupt queue key of " + std::to_string(k.size()) + " bytes");
        if (min_due && key->due < *min_due) {
          QueueKey first_deferred{key->partition, key->domain, *min_due, 0};
          it->Seek(first_deferred.encode());
          continue;
        }
        if (!fn(*key, it->value())) return {};
        it->Next();
      }
      if (!it->status().ok()) return storage_error("queue read failed", it->status());
    }
    return {};
  }

  Result<QueueEntry> entry(const QueueKey& key, const rocksdb::Slice& value) const {
    auto record = codec::decode_record(std::string_view(value.data(), value.size()));
    if (!record) {
      return make_error("queue entry (partition " + std::to_string(key.partition) + ", domain " +
                        std::to_string(key.domain) + ", seq " + std::to_string(key.seq) +
                        "): " + record.error().message);
    }
    auto name = domain_name(key.domain);
    if (!name) return name.error();
    return QueueEntry{key, std::move(name.value()), std::move(record.value())};
  }
};

Queue::Queue() : impl_(std::make_unique<Impl>()) {}
Queue::~Queue() = default;

Result<std::unique_ptr<Queue>> Queue::open(const std::string& dir) {
  // Made here so RocksDB's first look at a new directory is not logged as an error.
  std::error_code made;
  std::filesystem::create_directories(dir, made);
  if (made) return make_error("cannot open the queue database at " + dir + ": " + made.message());
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.manual_wal_flush = false;
  db_options.paranoid_checks = true;  // a failed WAL write stops the DB (see Impl::writable)
  db_options.max_total_wal_size = 4 * kWriteBufferSize;
  // Bulk enqueues ingest SST files built by SstFileWriter, which the manifest records without a
  // unique id; verifying ids would only print a warning at every open that finds one.
  db_options.verify_sst_unique_id_in_manifest = false;
  // No LOG file on the queue's disk: see rocksdb_log.h (a full disk must not abort the process).
  db_options.info_log = make_stderr_rocksdb_logger();

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, small_cf_options()},
      {kCfMessages, base_cf_options()},
      {kCfDomains, small_cf_options()},
      {kCfQueue, queue_cf_options()},
      {kCfMeta, small_cf_options()},
  };

  std::unique_ptr<Queue> q(new Queue());
  Impl& impl = *q->impl_;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, cfs, &impl.handles, &impl.db);
  if (!s.ok()) {
    impl.db = nullptr;
    return storage_error("cannot open the queue database at " + dir, s);
  }
  // SST files of bulk enqueues that a crash left unfinished or not ingested: never part of the
  // queue (their recipients were not reported accepted).
  impl.staging_dir = (std::filesystem::path(dir) / "ingest").string();
  std::filesystem::remove_all(impl.staging_dir, made);
  if (!made) std::filesystem::create_directories(impl.staging_dir, made);
  if (made) {
    return make_error("cannot prepare " + impl.staging_dir + ": " + made.message());
  }
  impl.sst_options = rocksdb::Options(db_options, queue_cf_options());
  impl.messages = impl.handles[1];
  impl.domains = impl.handles[2];
  impl.queue = impl.handles[3];
  impl.meta = impl.handles[4];
  if (auto r = impl.load(); !r) {
    return make_error("cannot open the queue database at " + dir + ": " + r.error().message);
  }
  return q;
}

Result<void> Queue::check_writable() {
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, kMetaWritable, u64_value(static_cast<uint64_t>(unix_now())));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->write(wo, batch, "queue write failed");
}

Result<MessageId> Queue::put_message(const StoredMessage& message) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.alloc_mu);
  // The id is consumed even if the write fails: a write reported failed may still be on disk.
  const MessageId id = impl.next_message++;
  rocksdb::WriteBatch batch;
  batch.Put(impl.messages, keys::message_key(id), codec::encode_message(message));
  batch.Put(impl.meta, kMetaNextMessage, u64_value(impl.next_message));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto r = impl.write(wo, batch, "message write failed"); !r) return r.error();
  return id;
}

Result<StoredMessage> Queue::get_message(MessageId id) const {
  std::string value;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->messages, keys::message_key(id), &value);
  if (s.IsNotFound()) return make_error("message " + std::to_string(id) + " not found");
  if (!s.ok()) return storage_error("message read failed", s);
  auto m = codec::decode_message(value);
  if (!m) return make_error("message " + std::to_string(id) + ": " + m.error().message);
  return m;
}

Result<void> Queue::enqueue(MessageId message, std::span<const NewRecipient> recipients,
                            UnixSeconds now) {
  auto prepared = prepare_enqueue(message, recipients, now);
  if (!prepared) return prepared.error();
  return write_enqueue(std::move(*prepared));
}

Result<void> Queue::write_enqueue(PreparedEnqueue&& prepared) {
  if (prepared.empty()) return {};
  auto entry = [&prepared](std::size_t i) {
    const std::size_t start = i == 0 ? 0 : prepared.ends_[i - 1];
    return std::pair{rocksdb::Slice(prepared.bytes_.data() + start, keys::kQueueKeySize),
                     rocksdb::Slice(prepared.bytes_.data() + start + keys::kQueueKeySize,
                                    prepared.ends_[i] - start - keys::kQueueKeySize)};
  };
  if (prepared.size() >= kIngestMin) {
    return impl_->ingest(prepared.size(), prepared.bytes_.size(), entry);
  }
  rocksdb::WriteBatch batch;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    auto [key, value] = entry(i);
    batch.Put(impl_->queue, key, value);
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->write(wo, batch, "queue write failed");
}

Result<PreparedEnqueue> Queue::prepare_enqueue(MessageId message,
                                               std::span<const NewRecipient> recipients,
                                               UnixSeconds now) {
  PreparedEnqueue prepared;
  if (recipients.empty()) return prepared;
  Impl& impl = *impl_;
  rocksdb::WriteOptions wo;
  wo.sync = true;  // domain registrations and seq reservations

  std::vector<uint32_t> ids(recipients.size());
  uint64_t first_seq = 0;
  {
    std::lock_guard lock(impl.alloc_mu);
    if (message == 0 || message >= impl.next_message) {
      return make_error("enqueue refused: unknown message id " + std::to_string(message));
    }
    // Resolve domains; new ones are registered (and a seq block reserved if needed) in one
    // synced write before the recipients are written, so a recipient never names an unknown id.
    std::unordered_map<std::string, uint32_t> fresh;
    rocksdb::WriteBatch reserve;
    for (std::size_t i = 0; i < recipients.size(); ++i) {
      if (recipients[i].domain.empty()) {
        return make_error("enqueue refused: recipient '" + recipients[i].address +
                          "' has no domain");
      }
      std::string name = keys::lower_ascii(recipients[i].domain);
      if (auto it = impl.domain_ids.find(name); it != impl.domain_ids.end()) {
        ids[i] = it->second;
      } else if (auto f = fresh.find(name); f != fresh.end()) {
        ids[i] = f->second;
      } else {
        if (impl.next_domain == std::numeric_limits<uint32_t>::max()) {
          return make_error("enqueue refused: domain id space exhausted");
        }
        const uint32_t id = impl.next_domain++;  // consumed even if the write below fails
        reserve.Put(impl.domains, name, u32_value(id));
        fresh.emplace(std::move(name), id);
        ids[i] = id;
      }
    }
    if (!fresh.empty()) reserve.Put(impl.meta, kMetaNextDomain, u32_value(impl.next_domain));
    const uint64_t n = recipients.size();
    uint64_t new_limit = impl.seq_limit;
    if (impl.next_seq + n > impl.seq_limit) {
      new_limit = impl.next_seq + n + kSeqBlock;
      reserve.Put(impl.meta, kMetaSeqLimit, u64_value(new_limit));
    }
    if (reserve.Count() > 0) {
      if (auto r = impl.write(wo, reserve, "queue write failed"); !r) return r.error();
      impl.seq_limit = new_limit;
      if (!fresh.empty()) {
        std::unique_lock dl(impl.domains_mu);
        for (auto& [name, id] : fresh) {
          if (impl.domain_names.size() <= id) impl.domain_names.resize(id + 1);
          impl.domain_names[id] = name;
          impl.partition_domains[partition_of(name)].push_back(id);  // ids only grow: sorted
          impl.domain_ids.emplace(name, id);
        }
      }
    }
    first_seq = impl.next_seq;
    impl.next_seq += n;
  }

  const uint32_t due = clamp_due(now);
  // In key order: an SST file (the bulk path) must be written so, and a small batch's memtable
  // inserts then land next to each other (a list arrives in domain-interleaved order). Sorted as
  // (key, index) pairs, encoded once each.
  std::vector<std::pair<QueueKey, std::size_t>> keyed;
  keyed.reserve(recipients.size());
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    keyed.emplace_back(QueueKey{partition_of(recipients[i].domain), ids[i], due, first_seq + i}, i);
  }
  std::sort(keyed.begin(), keyed.end());
  prepared.ends_.reserve(recipients.size());
  std::size_t estimate = 0;  // one allocation: growing by doubling copied and faulted in pages
  for (const auto& r : recipients) {
    estimate += keys::kQueueKeySize + 24 + r.address.size() + 2 * r.values.size();
    for (const auto& v : r.values) estimate += v.size();
  }
  prepared.bytes_.reserve(estimate);
  std::string value;
  for (const auto& [queue_key, i] : keyed) {
    keys::put_queue_key(prepared.bytes_, queue_key);
    codec::encode_new_record(value, recipients[i].address, message, recipients[i].values, now);
    prepared.bytes_ += value;
    prepared.ends_.push_back(prepared.bytes_.size());
  }
  return prepared;
}

Result<std::vector<QueueEntry>> Queue::fetch_ready(uint8_t partition, UnixSeconds now,
                                                   std::size_t max,
                                                   const std::optional<QueueKey>& after,
                                                   const FetchHints* hints) const {
  if (partition >= kPartitions) {
    return make_error("fetch_ready: partition " + std::to_string(partition) + " out of range");
  }
  if (after && after->partition != partition) {
    return make_error("fetch_ready: cursor belongs to partition " +
                      std::to_string(after->partition) + ", not " + std::to_string(partition));
  }
  std::vector<QueueEntry> out;
  if (max == 0) return out;
  if (hints != nullptr) return fetch_ready_hinted(partition, now, max, after, *hints);

  const std::string lower = keys::partition_start(partition);
  const std::string upper = keys::partition_start(partition + 1u);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->queue));

  const uint32_t now_due = clamp_due(now);
  seek_past(*it, after, lower);
  while (it->Valid() && out.size() < max) {
    const rocksdb::Slice k = it->key();
    const auto key = QueueKey::decode(std::string_view(k.data(), k.size()));
    if (!key) return make_error("corrupt queue key of " + std::to_string(k.size()) + " bytes");
    if (key->due > now_due) {
      // Keys are ordered by due within a domain: nothing more of this domain is ready.
      if (key->domain == std::numeric_limits<uint32_t>::max()) break;
      it->Seek(keys::domain_start(partition, key->domain + 1));
      continue;
    }
    auto entry = impl_->entry(*key, it->value());
    if (!entry) return entry.error();
    out.push_back(std::move(entry.value()));
    it->Next();
  }
  if (!it->status().ok()) return storage_error("queue read failed", it->status());
  return out;
}

Result<std::vector<QueueEntry>> Queue::fetch_ready_hinted(uint8_t partition, UnixSeconds now,
                                                          std::size_t max,
                                                          const std::optional<QueueKey>& after,
                                                          const FetchHints& hints) const {
  // Domain by domain, each read through its own bounded iterator that starts past the domain's
  // hint: the iterator never walks over another domain's tombstones to find its first key.
  std::vector<QueueEntry> out;
  const std::vector<uint32_t> domains = impl_->domains_in(partition);
  auto d =
      after ? std::lower_bound(domains.begin(), domains.end(), after->domain) : domains.begin();
  const uint32_t now_due = clamp_due(now);
  for (; d != domains.end() && out.size() < max; ++d) {
    std::optional<QueueKey> past;  // start strictly after this key
    if (after && after->domain == *d) past = after;
    if (auto h = hints.find(*d); h != hints.end() && (!past || *past < h->second)) {
      past = h->second;
    }
    const std::string lower = keys::domain_start(partition, *d);
    const std::string upper = *d == std::numeric_limits<uint32_t>::max()
                                  ? keys::partition_start(partition + 1u)
                                  : keys::domain_start(partition, *d + 1);
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->queue));
    seek_past(*it, past, lower);
    for (; it->Valid() && out.size() < max; it->Next()) {
      const rocksdb::Slice k = it->key();
      const auto key = QueueKey::decode(std::string_view(k.data(), k.size()));
      if (!key) return make_error("corrupt queue key of " + std::to_string(k.size()) + " bytes");
      if (key->due > now_due) break;  // ordered by due: nothing more of this domain is ready
      auto entry = impl_->entry(*key, it->value());
      if (!entry) return entry.error();
      out.push_back(std::move(entry.value()));
    }
    if (!it->status().ok()) return storage_error("queue read failed", it->status());
  }
  return out;
}

Result<void> Queue::apply(OutcomeBatch&& outcomes) {
  if (outcomes.empty()) return {};
  rocksdb::WriteBatch batch;
  for (const auto& op : outcomes.ops_) {
    if (op.key.partition >= kPartitions) {
      return make_error("apply refused: queue key with partition " +
                        std::to_string(op.key.partition) + " out of range");
    }
    // Every key is Put once and deleted once, so SingleDelete is valid and lets the pair vanish
    // together in compaction. A reschedule keeps the seq, so order within a due time holds.
    batch.SingleDelete(impl_->queue, op.key.encode());
    if (op.new_due) {
      QueueKey moved = op.key;
      moved.due = *op.new_due;
      batch.Put(impl_->queue, moved.encode(), op.record);
    }
  }
  for (const auto& b : outcomes.bounces_) {
    batch.Put(impl_->meta, bounce_key(b.partition, b.message, b.seq), b.report);
  }
  for (const auto& [key, value] : outcomes.records_) {
    if (auto ok = record_key_allowed(key); !ok) return ok;
    batch.Put(impl_->meta, key, value);
  }
  outcomes.ops_.clear();
  outcomes.bounces_.clear();
  outcomes.records_.clear();
  rocksdb::WriteOptions wo;
  wo.sync = false;  // the owner calls sync_wal() at a short interval
  return impl_->write(wo, batch, "queue outcome write failed");
}

Result<void> Queue::sync_wal() {
  return impl_->sync();
}

QueueCounts Queue::counts(UnixSeconds now) const {
  QueueCounts c;
  const uint32_t now_due = clamp_due(now);
  const std::string lower = keys::partition_start(0);
  const std::string upper = keys::partition_start(kPartitions);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;  // a summary scan must not evict the hot window
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->queue));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const auto key = QueueKey::decode(std::string_view(k.data(), k.size()));
    if (!key) continue;
    if (key->due <= now_due) {
      ++c.ready;
    } else {
      ++c.deferred;
    }
  }
  return c;
}

StorageFigures Queue::storage_figures() const {
  StorageFigures f;
  impl_->db->GetAggregatedIntProperty("rocksdb.estimate-live-data-size", &f.live_data_bytes);
  impl_->db->GetAggregatedIntProperty("rocksdb.estimate-pending-compaction-bytes",
                                      &f.pending_compaction_bytes);
  return f;
}

std::optional<UnixSeconds> Queue::earliest_due() const {
  // One seek per (partition, domain): its first key holds the domain's earliest due time.
  std::optional<UnixSeconds> earliest;
  const std::string lower = keys::partition_start(0);
  const std::string upper = keys::partition_start(kPartitions);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->queue));
  it->Seek(lower);
  while (it->Valid()) {
    const rocksdb::Slice k = it->key();
    const auto key = QueueKey::decode(std::string_view(k.data(), k.size()));
    if (!key) {
      it->Next();
      continue;
    }
    if (!earliest || key->due < *earliest) earliest = key->due;
    if (key->domain == std::numeric_limits<uint32_t>::max()) {
      if (key->partition + 1 >= kPartitions) break;
      it->Seek(keys::partition_start(key->partition + 1u));
    } else {
      it->Seek(keys::domain_start(key->partition, key->domain + 1));
    }
  }
  return earliest;
}

// ---------------------------------------------------------------------------------------------
// Operating the queue

bool queue_in_use(const Error& error) {
  return error.message.find(kInUse) != std::string::npos;
}

bool queue_exists(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(dir) / "CURRENT", ec);
}

Result<std::vector<QueueEntry>> Queue::scan(uint8_t partition, std::size_t max,
                                            const std::optional<QueueKey>& after) const {
  if (partition >= kPartitions) {
    return make_error("scan: partition " + std::to_string(partition) + " out of range");
  }
  if (after && after->partition != partition) {
    return make_error("scan: cursor belongs to partition " + std::to_string(after->partition) +
                      ", not " + std::to_string(partition));
  }
  std::vector<QueueEntry> out;
  if (max == 0) return out;
  const std::string lower = keys::partition_start(partition);
  const std::string upper = keys::partition_start(partition + 1u);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->queue));
  seek_past(*it, after, lower);
  for (; it->Valid() && out.size() < max; it->Next()) {
    const rocksdb::Slice k = it->key();
    const auto key = QueueKey::decode(std::string_view(k.data(), k.size()));
    if (!key) return make_error("corrupt queue key of " + std::to_string(k.size()) + " bytes");
    auto e = impl_->entry(*key, it->value());
    if (!e) return e.error();
    out.push_back(std::move(e.value()));
  }
  if (!it->status().ok()) return storage_error("queue read failed", it->status());
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

Result<std::vector<MessageId>> Queue::campaign_messages(std::string_view campaign) const {
  std::vector<MessageId> ids;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->messages));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != 8)
      return make_error("corrupt message key of " + std::to_string(k.size()) + " bytes");
    const MessageId id = keys::get_u64_be(std::string_view(k.data(), k.size()));
    const rocksdb::Slice v = it->value();
    auto m = codec::decode_message(std::string_view(v.data(), v.size()));
    if (!m) return make_error("message " + std::to_string(id) + ": " + m.error().message);
    if (m->campaign == campaign) ids.push_back(id);
  }
  if (!it->status().ok()) return storage_error("message read failed", it->status());
  return ids;
}

Result<QueueCounts> Queue::campaign_counts(std::string_view campaign, UnixSeconds now) const {
  auto ids = campaign_messages(campaign);
  if (!ids) return ids.error();
  QueueCounts c;
  if (ids->empty()) return c;
  const uint32_t now_due = clamp_due(now);
  std::optional<Error> failed;
  auto r = impl_->visit(ScanFilter{}, [&](const QueueKey& key, const rocksdb::Slice& value) {
    auto record = codec::decode_record(std::string_view(value.data(), value.size()));
    if (!record) {
      failed = make_error("queue entry (seq " + std::to_string(key.seq) +
                          "): " + record.error().message);
      return false;
    }
    if (std::binary_search(ids->begin(), ids->end(), record->message)) {
      ++(key.due <= now_due ? c.ready : c.deferred);
    }
    return true;
  });
  if (!r) return r.error();
  if (failed) return *failed;
  return c;
}

Result<void> Queue::add_campaign_size(std::string_view campaign, uint64_t accepted) {
  auto current = campaign_size(campaign);
  if (!current) return current.error();
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, std::string(kMetaCampaignSize) + std::string(campaign),
            u64_value(current->value_or(0) + accepted));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->write(wo, batch, "campaign size write failed");
}

Result<std::optional<uint64_t>> Queue::campaign_size(std::string_view campaign) const {
  std::string v;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->meta,
                                     std::string(kMetaCampaignSize) + std::string(campaign), &v);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  if (!s.ok()) return storage_error("campaign size read failed", s);
  if (v.size() != 8) return make_error("corrupt campaign size for '" + std::string(campaign) + "'");
  return std::optional<uint64_t>(keys::get_u64_be(v));
}

Result<uint64_t> Queue::flush(UnixSeconds now, std::string_view domain) {
  const uint32_t now_due = clamp_due(now);
  rocksdb::WriteOptions wo;
  wo.sync = true;  // an operator's action: done when it says so
  ChunkedWrites writes(
      [&](rocksdb::WriteBatch& b) { return impl_->write(wo, b, "queue flush write failed"); });
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
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ChunkedWrites writes(
      [&](rocksdb::WriteBatch& b) { return impl_->write(wo, b, "queue drop write failed"); });
  if (!ids->empty()) {
    std::optional<Error> corrupt;
    auto r = impl_->visit(ScanFilter{}, [&](const QueueKey& key, const rocksdb::Slice& value) {
      auto record = codec::decode_record(std::string_view(value.data(), value.size()));
      if (!record) {
        corrupt = make_error("queue entry (seq " + std::to_string(key.seq) +
                             "): " + record.error().message);
        return false;
      }
      if (!std::binary_search(ids->begin(), ids->end(), record->message)) return true;
      writes.batch().SingleDelete(impl_->queue, key.encode());
      return writes.added();
    });
    if (!r) return r.error();
    if (corrupt) return *corrupt;
    if (!writes.commit()) return *writes.error();
  }
  // No recipient refers to these messages any more: remove them and the campaign's size.
  rocksdb::WriteBatch tail;
  for (MessageId id : *ids) tail.Delete(impl_->messages, keys::message_key(id));
  tail.Delete(impl_->meta, std::string(kMetaCampaignSize) + std::string(campaign));
  if (auto w = impl_->write(wo, tail, "queue drop write failed"); !w) return w.error();
  return writes.done();
}

void OutcomeBatch::add_bounce(const QueueKey& key, MessageId message, std::string report) {
  bounces_.push_back(PendingBounce{key.partition, message, key.seq, std::move(report)});
}

Result<std::vector<PendingBounce>> Queue::pending_bounces(uint8_t partition,
                                                          std::size_t max) const {
  std::vector<PendingBounce> out;
  std::string lower(kMetaBounce);
  lower.push_back(static_cast<char>(partition));
  std::string upper(kMetaBounce);
  upper.push_back(static_cast<char>(partition + 1));
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;  // partitions are < 64: partition + 1 fits a byte
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->meta));
  for (it->Seek(lower); it->Valid() && out.size() < max; it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    if (!k.starts_with(lower) || k.size() != lower.size() + 16) break;
    k.remove_prefix(lower.size());
    out.push_back(PendingBounce{partition, read_u64_be(k.substr(0, 8)), read_u64_be(k.substr(8, 8)),
                                it->value().ToString()});
  }
  if (!it->status().ok()) return storage_error("bounce read failed", it->status());
  return out;
}

Result<void> Queue::forget_bounces(std::span<const PendingBounce> reported) {
  if (reported.empty()) return {};
  rocksdb::WriteBatch batch;
  for (const auto& b : reported)
    batch.Delete(impl_->meta, bounce_key(b.partition, b.message, b.seq));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->write(wo, batch, "bounce write failed");
}

void OutcomeBatch::put_record(std::string key, std::string value) {
  records_.emplace_back(std::move(key), std::move(value));
}

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
  rocksdb::Slice lower(prefix.data(), prefix.size());
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->meta));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    if (!k.starts_with(prefix)) break;
    if (!visit(k, std::string_view(it->value().data(), it->value().size()))) return {};
  }
  if (!it->status().ok()) return storage_error("record scan failed", it->status());
  return {};
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
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->write(wo, batch, "record write failed");
}

}  // namespace ringmta::storage
