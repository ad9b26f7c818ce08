// storage::Queue on RocksDB, the delivery path: opening and tuning the database, id allocation,
// messages, enqueue (a synced batch or an ingested SST file), ready fetches and outcome writes.
// See queue.h for the contract and the durability rules, queue_impl.h for how the files divide.
//
// It may not: schedule or decide retries, hold more than the asked-for window of recipients in
// RAM, scan the whole queue (that is queue_admin.cc's), or throw (RocksDB reports Status values;
// everything here returns Result).
#include "storage/queue.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <unordered_map>

#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/queue_impl.h"
#include "storage/rocksdb_log.h"
#include "util/strings.h"

namespace ringmta::storage {

using detail::BoundedIterator;
using detail::CacheFill;
using detail::clamp_due;
using detail::KeyRange;
using detail::queue_key_at;
using detail::storage_error;
using detail::u64_value;

namespace {

constexpr const char* kCfMessages = "messages";
constexpr const char* kCfDomains = "domains";
constexpr const char* kCfQueue = "queue";
constexpr const char* kCfMeta = "meta";

constexpr uint64_t kSeqBlock = 1 << 16;  // seqs reserved by one write of the seq limit
constexpr std::size_t kWriteBufferSize = 64u << 20;

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

rocksdb::ColumnFamilyOptions small_cf_options() {
  rocksdb::ColumnFamilyOptions cf = base_cf_options();
  cf.write_buffer_size = 4u << 20;  // domains and meta are tiny
  return cf;
}

rocksdb::ColumnFamilyOptions meta_cf_options() {
  rocksdb::ColumnFamilyOptions cf = small_cf_options();
  // The suppression list lives here and is read by point lookups of addresses that are mostly
  // absent (at enqueue, and for every window a shard fetches): a bloom filter answers most of
  // them without reading a block.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

rocksdb::DBOptions db_options() {
  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.manual_wal_flush = false;
  db.paranoid_checks = true;  // a failed WAL write stops the DB (see Impl::writable)
  db.max_total_wal_size = 4 * kWriteBufferSize;
  // Bulk enqueues ingest SST files built by SstFileWriter, which the manifest records without a
  // unique id; verifying ids would only print a warning at every open that finds one.
  db.verify_sst_unique_id_in_manifest = false;
  // No LOG file on the queue's disk: see rocksdb_log.h (a full disk must not abort the process).
  db.info_log = make_stderr_rocksdb_logger();
  return db;
}

// Entry i of a PreparedEnqueue's bytes (entry i ends at ends[i]): its 17-byte key and record.
std::pair<rocksdb::Slice, rocksdb::Slice> prepared_entry(std::string_view bytes,
                                                         std::span<const std::size_t> ends,
                                                         std::size_t i) {
  const std::size_t start = i == 0 ? 0 : ends[i - 1];
  return std::pair{rocksdb::Slice(bytes.data() + start, keys::kQueueKeySize),
                   rocksdb::Slice(bytes.data() + start + keys::kQueueKeySize,
                                  ends[i] - start - keys::kQueueKeySize)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// OutcomeBatch

void OutcomeBatch::remove(const QueueKey& key) {
  ops_.push_back(Op{key, std::nullopt, {}});
}

void OutcomeBatch::add_bounce(const QueueKey& key, MessageId message, std::string report) {
  bounces_.push_back(PendingBounce{key.partition, message, key.seq, std::move(report)});
}

void OutcomeBatch::reschedule(const QueueKey& key, uint32_t new_due,
                              const RecipientRecord& record) {
  ops_.push_back(Op{key, new_due, codec::encode_record(record)});
}

void OutcomeBatch::put_record(std::string key, std::string value) {
  records_.emplace_back(std::move(key), std::move(value));
}

// ---------------------------------------------------------------------------------------------
// Opening

bool queue_in_use(const Error& error) {
  return error.kind == ErrorKind::kInUse;
}

bool queue_exists(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(dir) / "CURRENT", ec);
}

Queue::Queue() : impl_(std::make_unique<Impl>()) {}
Queue::~Queue() = default;

namespace {

// Whether another process holds the queue's LOCK (RocksDB takes it with fcntl, F_SETLK).
bool lock_held_elsewhere(const std::string& dir) {
  const int fd = ::open((std::filesystem::path(dir) / "LOCK").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  const bool held = ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

}  // namespace

Result<std::unique_ptr<Queue>> Queue::open(const std::string& dir) {
  // Made here so RocksDB's first look at a new directory is not logged as an error.
  std::error_code made;
  std::filesystem::create_directories(dir, made);
  if (made) return make_error("cannot open the queue database at " + dir + ": " + made.message());
  const rocksdb::DBOptions options = db_options();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, small_cf_options()},
      {kCfMessages, base_cf_options()},
      {kCfDomains, small_cf_options()},
      {kCfQueue, queue_cf_options()},
      {kCfMeta, meta_cf_options()},
  };

  // A queue another process holds is told apart before RocksDB tries it: its failed open would
  // log a raw error line on stderr before our own plain one.
  if (lock_held_elsewhere(dir)) {
    return make_error(
        "cannot open the queue database at " + dir + " (" + std::string(detail::kInUse) + ")",
        ErrorKind::kInUse);
  }
  std::unique_ptr<Queue> q(new Queue());
  Impl& impl = *q->impl_;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, cfs, &impl.handles, &impl.db);
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
  impl.sst_options = rocksdb::Options(options, queue_cf_options());
  impl.messages = impl.handles[1];
  impl.domains = impl.handles[2];
  impl.queue = impl.handles[3];
  impl.meta = impl.handles[4];
  if (auto r = impl.load(); !r) {
    return make_error("cannot open the queue database at " + dir + ": " + r.error().message);
  }
  return q;
}

Result<void> Queue::Impl::load() {
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
  if (auto r = read_meta(detail::kMetaSeqLimit, seq_limit, 8); !r) return r;
  if (auto r = read_meta(detail::kMetaNextMessage, next_message, 8); !r) return r;
  if (auto r = read_meta(detail::kMetaNextDomain, next_dom, 4); !r) return r;
  seq_limit = std::max<uint64_t>(seq_limit, 1);
  next_seq = seq_limit;
  next_message = std::max<uint64_t>(next_message, 1);
  if (auto r = read_meta(detail::kMetaIdentity, identity, 8); !r) return r;
  while (identity == 0) {
    std::random_device random;  // the kernel's getrandom()
    identity = (uint64_t{random()} << 32) | random();
    if (identity == 0) continue;
    rocksdb::WriteBatch batch;
    batch.Put(meta, detail::kMetaIdentity, u64_value(identity));
    if (auto r = write_synced(batch, "cannot write the queue identity"); !r) return r;
  }

  BoundedIterator it(db, domains, KeyRange{}, CacheFill::kYes);
  for (it.seek_to_first(); it->Valid(); it->Next()) {
    const rocksdb::Slice val = it->value();
    if (val.size() != 4) {
      return make_error("corrupt domains entry for '" + it->key().ToString() + "'");
    }
    const uint32_t id = keys::get_u32_be(val.ToStringView());
    if (id == std::numeric_limits<uint32_t>::max()) {
      return make_error("corrupt domains entry for '" + it->key().ToString() + "'");
    }
    domain_ids[it->key().ToString()] = id;
    if (domain_names.size() <= id) domain_names.resize(id + 1);
    domain_names[id] = it->key().ToString();
    next_dom = std::max<uint64_t>(next_dom, uint64_t{id} + 1);
  }
  if (auto r = it.status("cannot load the domains"); !r) return r;
  for (const auto& [name, id] : domain_ids) partition_domains[partition_of(name)].push_back(id);
  for (auto& ids : partition_domains) std::sort(ids.begin(), ids.end());
  next_domain = static_cast<uint32_t>(next_dom);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Messages

uint64_t Queue::identity() const {
  return impl_->identity;
}

Result<void> Queue::check_writable() {
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, detail::kMetaWritable, u64_value(static_cast<uint64_t>(unix_now())));
  return impl_->write_synced(batch, "queue write failed");
}

Result<MessageId> Queue::put_message(const StoredMessage& message) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.alloc_mu);
  // The id is consumed even if the write fails: a write reported failed may still be on disk.
  const MessageId id = impl.next_message++;
  rocksdb::WriteBatch batch;
  batch.Put(impl.messages, keys::message_key(id), codec::encode_message(message));
  batch.Put(impl.meta, detail::kMetaNextMessage, u64_value(impl.next_message));
  if (auto r = impl.write_synced(batch, "message write failed"); !r) return r.error();
  return id;
}

// Under alloc_mu throughout, as put_message: the next_message written is the newest.
Result<std::vector<MessageId>> Queue::put_submissions(std::span<const Submission> submissions,
                                                      UnixSeconds now) {
  Impl& impl = *impl_;
  std::vector<MessageId> ids;
  if (submissions.empty()) return ids;
  std::lock_guard lock(impl.alloc_mu);
  rocksdb::WriteBatch batch;
  std::map<std::string_view, uint64_t> sizes;  // recipients added per campaign
  const uint32_t due = clamp_due(now);
  std::vector<uint32_t> domain_ids;
  std::string key, value;
  for (const Submission& s : submissions) {
    if (s.recipients.empty()) return make_error("a submission without recipients");
    // The id is consumed even if the write fails: a write reported failed may still be on disk.
    const MessageId id = impl.next_message++;
    ids.push_back(id);
    batch.Put(impl.messages, keys::message_key(id), codec::encode_message(s.message));
    domain_ids.assign(s.recipients.size(), 0);
    auto first_seq = impl.allocate_locked(id, s.recipients, domain_ids);
    if (!first_seq) return first_seq.error();
    for (std::size_t i = 0; i < s.recipients.size(); ++i) {
      key.clear();
      keys::put_queue_key(
          key, QueueKey{partition_of(s.recipients[i].domain), domain_ids[i], due, *first_seq + i});
      codec::encode_new_record(value, s.recipients[i].address, id, s.recipients[i].values, now);
      batch.Put(impl.queue, key, value);
    }
    if (!s.message.is_dsn) sizes[s.message.campaign] += s.recipients.size();
  }
  batch.Put(impl.meta, detail::kMetaNextMessage, u64_value(impl.next_message));
  for (const auto& [campaign, added] : sizes) {
    std::string stored;
    const std::string size_key = detail::campaign_size_key(campaign);
    rocksdb::Status st = impl.db->Get(rocksdb::ReadOptions(), impl.meta, size_key, &stored);
    if (!st.ok() && !st.IsNotFound()) return storage_error("campaign size read failed", st);
    const uint64_t before = stored.size() == 8 ? keys::get_u64_be(stored) : 0;
    batch.Put(impl.meta, size_key, u64_value(before + added));
  }
  if (auto r = impl.write_synced(batch, "queue write failed"); !r) return r.error();
  return ids;
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

// ---------------------------------------------------------------------------------------------
// Enqueue

Result<void> Queue::enqueue(MessageId message, std::span<const NewRecipient> recipients,
                            UnixSeconds now) {
  auto prepared = prepare_enqueue(message, recipients, now);
  if (!prepared) return prepared.error();
  return write_enqueue(std::move(*prepared));
}

Result<void> Queue::write_enqueue(PreparedEnqueue&& prepared) {
  if (prepared.empty()) return {};
  if (prepared.size() >= kIngestMin) return impl_->ingest(prepared.bytes_, prepared.ends_);
  rocksdb::WriteBatch batch;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    auto [key, value] = prepared_entry(prepared.bytes_, prepared.ends_, i);
    batch.Put(impl_->queue, key, value);
  }
  return impl_->write_synced(batch, "queue write failed");
}

// The sorted entries written as one SST file in staging_dir (synced by Finish), then moved into
// the queue column family. A failure leaves the database as it was and removes the file; a crash
// between the two leaves a file that open() removes.
Result<void> Queue::Impl::ingest(std::string_view bytes, std::span<const std::size_t> ends) {
  if (auto r = writable("queue write failed"); !r) return r;
  if (auto r = room_for(bytes.size()); !r) return r;
  const std::string path = staging_dir + "/" + std::to_string(next_staged.fetch_add(1)) + ".sst";
  std::error_code ignored;
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), sst_options, queue);
  rocksdb::Status s = writer.Open(path);
  for (std::size_t i = 0; s.ok() && i < ends.size(); ++i) {
    auto [key, value] = prepared_entry(bytes, ends, i);
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
Result<void> Queue::Impl::room_for(std::size_t bytes) {
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

Result<PreparedEnqueue> Queue::prepare_enqueue(MessageId message,
                                               std::span<const NewRecipient> recipients,
                                               UnixSeconds now) {
  PreparedEnqueue prepared;
  if (recipients.empty()) return prepared;
  std::vector<uint32_t> ids(recipients.size());
  auto first_seq = impl_->allocate(message, recipients, ids);
  if (!first_seq) return first_seq.error();

  const uint32_t due = clamp_due(now);
  // In key order: an SST file (the bulk path) must be written so, and a small batch's memtable
  // inserts then land next to each other (a list arrives in domain-interleaved order). Sorted as
  // (key, index) pairs, encoded once each.
  std::vector<std::pair<QueueKey, std::size_t>> keyed;
  keyed.reserve(recipients.size());
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    keyed.emplace_back(QueueKey{partition_of(recipients[i].domain), ids[i], due, *first_seq + i},
                       i);
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

Result<uint64_t> Queue::Impl::allocate(MessageId message, std::span<const NewRecipient> recipients,
                                       std::vector<uint32_t>& ids) {
  std::lock_guard lock(alloc_mu);
  return allocate_locked(message, recipients, ids);
}

Result<uint64_t> Queue::Impl::allocate_locked(MessageId message,
                                              std::span<const NewRecipient> recipients,
                                              std::vector<uint32_t>& ids) {
  if (message == 0 || message >= next_message) {
    return make_error("enqueue refused: unknown message id " + std::to_string(message));
  }
  // Resolve domains; new ones are registered (and a seq block reserved if needed) in one synced
  // write before the recipients are written, so a recipient never names an unknown id.
  rocksdb::WriteBatch reserve;
  auto fresh = resolve_domains(recipients, ids, reserve);
  if (!fresh) return fresh.error();
  const uint64_t n = recipients.size();
  uint64_t new_limit = seq_limit;
  if (next_seq + n > seq_limit) {
    new_limit = next_seq + n + kSeqBlock;
    reserve.Put(meta, detail::kMetaSeqLimit, u64_value(new_limit));
  }
  if (reserve.Count() > 0) {
    if (auto r = write_synced(reserve, "queue write failed"); !r) return r.error();
    seq_limit = new_limit;
    publish_domains(*fresh);
  }
  const uint64_t first_seq = next_seq;
  next_seq += n;
  return first_seq;
}

Result<Queue::Impl::Fresh> Queue::Impl::resolve_domains(std::span<const NewRecipient> recipients,
                                                        std::vector<uint32_t>& ids,
                                                        rocksdb::WriteBatch& reserve) {
  Fresh fresh;
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    if (recipients[i].domain.empty()) {
      return make_error("enqueue refused: recipient '" + recipients[i].address + "' has no domain");
    }
    std::string name = lower(recipients[i].domain);
    if (auto it = domain_ids.find(name); it != domain_ids.end()) {
      ids[i] = it->second;
    } else if (auto f = fresh.find(name); f != fresh.end()) {
      ids[i] = f->second;
    } else {
      if (next_domain == std::numeric_limits<uint32_t>::max()) {
        return make_error("enqueue refused: domain id space exhausted");
      }
      const uint32_t id = next_domain++;  // consumed even if the registration write fails
      reserve.Put(domains, name, u32_value(id));
      fresh.emplace(std::move(name), id);
      ids[i] = id;
    }
  }
  if (!fresh.empty()) reserve.Put(meta, detail::kMetaNextDomain, u32_value(next_domain));
  return fresh;
}

void Queue::Impl::publish_domains(const Fresh& fresh) {
  if (fresh.empty()) return;
  std::unique_lock lock(domains_mu);
  for (const auto& [name, id] : fresh) {
    if (domain_names.size() <= id) domain_names.resize(id + 1);
    domain_names[id] = name;
    partition_domains[partition_of(name)].push_back(id);  // ids only grow: sorted
    domain_ids.emplace(name, id);
  }
}

// ---------------------------------------------------------------------------------------------
// Ready fetches

Result<std::vector<QueueEntry>> Queue::fetch_ready(uint8_t partition, UnixSeconds now,
                                                   std::size_t max,
                                                   const std::optional<QueueKey>& after,
                                                   const FetchHints* hints) const {
  if (auto ok = detail::check_partition("fetch_ready", partition, after); !ok) return ok.error();
  std::vector<QueueEntry> out;
  if (max == 0) return out;
  if (hints != nullptr) return fetch_ready_hinted(partition, now, max, after, *hints);

  BoundedIterator it(impl_->db, impl_->queue,
                     {keys::partition_start(partition), keys::partition_start(partition + 1u)},
                     CacheFill::kYes);
  const uint32_t now_due = clamp_due(now);
  it.seek_past(after);
  while (it->Valid() && out.size() < max) {
    auto key = queue_key_at(*it);
    if (!key) return key.error();
    if (key->due > now_due) {
      // Keys are ordered by due within a domain: nothing more of this domain is ready.
      it->Seek(keys::domain_end(partition, key->domain));
      continue;
    }
    auto entry = impl_->entry(*key, it->value());
    if (!entry) return entry.error();
    out.push_back(std::move(entry.value()));
    it->Next();
  }
  if (auto r = it.status("queue read failed"); !r) return r.error();
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
    BoundedIterator it(impl_->db, impl_->queue,
                       {keys::domain_start(partition, *d), keys::domain_end(partition, *d)},
                       CacheFill::kYes);
    for (it.seek_past(past); it->Valid() && out.size() < max; it->Next()) {
      auto key = queue_key_at(*it);
      if (!key) return key.error();
      if (key->due > now_due) break;  // ordered by due: nothing more of this domain is ready
      auto entry = impl_->entry(*key, it->value());
      if (!entry) return entry.error();
      out.push_back(std::move(entry.value()));
    }
    if (auto r = it.status("queue read failed"); !r) return r.error();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Outcome writes

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
    batch.Put(impl_->meta, detail::bounce_key(b.partition, b.message, b.seq), b.report);
  }
  for (const auto& [key, value] : outcomes.records_) {
    if (auto ok = detail::record_key_allowed(key); !ok) return ok;
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

Result<void> Queue::Impl::sync() {
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

}  // namespace ringmta::storage
