// storage::Queue's internals, shared by its files: Queue::Impl (the database, its column
// families, id allocation, the domain maps, the write guard) and the RocksDB helpers they all
// use (meta keys, error causes, one bounded iterator).
//   queue.cc          open, messages, enqueue, ready fetches, outcome writes, the WAL sync
//   queue_admin.cc    whole-queue reads and the operator's changes: counts, earliest due,
//                     scans, per-domain and campaign counts, campaign sizes, flush, drop
//   queue_records.cc  the meta CF's keyed values: other modules' records, pending bounces
//   queue_impl.cc     what the others share: Impl's writes, domain lookups, entries, iterators
//
// It may not be included outside storage/ (it is in the part's include tree only because every
// header of a folder is), nor hold what one file could keep to itself: apart from Impl's members
// (declared here, defined in the file named above each group), a helper used by one file stays
// in that file's anonymous namespace.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::storage {
namespace detail {

// meta CF keys. Sequence numbers are reserved in blocks: the persisted limit is above every seq
// ever handed out, so a restart continues from it and never reuses one.
inline constexpr const char* kMetaSeqLimit = "seq_limit";
inline constexpr const char* kMetaNextMessage = "next_message";
inline constexpr const char* kMetaNextDomain = "next_domain";
inline constexpr const char* kMetaWritable = "writable";  // check_writable's probe
// 8 random bytes made when the queue is created: tells this queue's Message-IDs from any other's.
inline constexpr const char* kMetaIdentity = "identity";
// meta CF: "campaign_size/<campaign>" -> u64 BE, recipients accepted for that campaign.
inline constexpr std::string_view kMetaCampaignSize = "campaign_size/";
inline std::string campaign_size_key(std::string_view campaign) {
  return std::string(kMetaCampaignSize) + std::string(campaign);
}
// "bounce/" + partition u8 + message u64 BE + seq u64 BE → PendingBounce::report.
inline constexpr std::string_view kMetaBounce = "bounce/";

// The phrase cause_of() gives a held lock (its error's kind is ErrorKind::kInUse).
inline constexpr std::string_view kInUse = "database in use by another process or already open";

std::string bounce_key(uint8_t partition, MessageId message, uint64_t seq);
// Records of other modules share the meta CF under their own prefixes (see Queue::get_records).
Result<void> record_key_allowed(std::string_view key);

// A short human cause for a RocksDB status, so operators see "no space left on device" first.
std::string cause_of(const rocksdb::Status& s);
Error storage_error(std::string_view what, const rocksdb::Status& s);

uint32_t clamp_due(int64_t t);  // into the u32 due field of a queue key
std::string u64_value(uint64_t v);

// Refuses a partition out of range, or a cursor of another partition; `what` names the call.
Result<void> check_partition(std::string_view what, uint8_t partition,
                             const std::optional<QueueKey>& after);

// The queue key an iterator is on; a key that is not 17 bytes is an Error.
Result<QueueKey> queue_key_at(const rocksdb::Iterator& it);

// Whether a read may fill the block cache. The hot path's reads do; an operator's or a summary's
// scan does not (it must not evict the hot window).
enum class CacheFill { kYes, kNo };

// Keys from lower (inclusive; "" = the column family's first) to upper (exclusive; none = to the
// end).
struct KeyRange {
  std::string lower;
  std::optional<std::string> upper;
};

// A RocksDB iterator over one column family's KeyRange, positioned nowhere until a seek. It owns
// the bounds: RocksDB's ReadOptions only point at them, so they live as long as the iterator
// (which is why it can be neither copied nor moved).
class BoundedIterator {
 public:
  BoundedIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, KeyRange range, CacheFill fill,
                  const rocksdb::Snapshot* snapshot = nullptr);
  BoundedIterator(const BoundedIterator&) = delete;
  BoundedIterator& operator=(const BoundedIterator&) = delete;

  rocksdb::Iterator* operator->() const { return it_.get(); }
  rocksdb::Iterator& operator*() const { return *it_; }
  const std::string& lower() const { return lower_; }

  void seek_to_first() { it_->Seek(lower_); }
  // Positions it on the first key strictly after `past`, or on the range's first key without
  // one (a cursor's key may be gone already: Seek lands on the next one).
  void seek_past(const std::optional<QueueKey>& past);
  // The iterator's error, if it stopped on one, as storage_error(what, ...).
  Result<void> status(std::string_view what) const;

 private:
  std::string lower_;
  std::optional<std::string> upper_;
  rocksdb::Slice lower_slice_, upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace detail

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
  uint64_t identity = 0;  // kMetaIdentity, never 0

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

  ~Impl();

  // --- queue_impl.cc: shared by every file ---

  // RocksDB (7.8, assertions on in Debian's build) aborts the process if a WAL writer that has
  // seen an error is used again, so after a failure nothing touches the WAL until RocksDB has
  // recovered (Resume switches to a fresh WAL) or, after a failed WAL sync, until a reopen.
  Result<void> writable(std::string_view what);
  Result<void> write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch& batch,
                     std::string_view what);
  // write() with sync=true: durable before it returns.
  Result<void> write_synced(rocksdb::WriteBatch& batch, std::string_view what);

  Result<std::string> domain_name(uint32_t id) const;
  std::vector<uint32_t> domains_in(uint8_t partition) const;
  std::optional<uint32_t> domain_id(std::string_view name) const;
  // A queue entry from its key and stored record (the domain id resolved to its name).
  Result<QueueEntry> entry(const QueueKey& key, const rocksdb::Slice& value) const;

  // --- queue.cc: opening, enqueue and the WAL ---

  Result<void> load();  // counters and domain maps, at open
  // The seqs (returned: the first of recipients.size()) and domain ids (into ids) of one
  // enqueue, registering new domains and reserving seqs in one synced write.
  Result<uint64_t> allocate(MessageId message, std::span<const NewRecipient> recipients,
                            std::vector<uint32_t>& ids);
  Result<uint64_t> allocate_locked(MessageId message, std::span<const NewRecipient> recipients,
                                   std::vector<uint32_t>& ids);  // alloc_mu held
  // The bulk path of write_enqueue: PreparedEnqueue's bytes and entry ends, as one SST file.
  Result<void> ingest(std::string_view bytes, std::span<const std::size_t> ends);
  Result<void> room_for(std::size_t bytes);
  Result<void> sync();

  // --- queue_admin.cc ---

  // Visits queue keys (and values) matching filter in key order until fn returns false: one
  // partition after another, or only the domain's range. With filter.deferred_at, the keys of a
  // domain due by then are skipped with one seek (keys are ordered by due within a domain).
  // Reads from the implicit snapshot taken when each partition's iterator is made, so writes
  // made by fn (flush, drop) are not seen again.
  Result<void> visit(const ScanFilter& filter,
                     const std::function<bool(const QueueKey&, const rocksdb::Slice&)>& fn) const;
  // visit() over every entry whose record's message is one of ids (ascending): decodes every
  // record, and a corrupt one is an Error naming its seq.
  Result<void> visit_campaign(
      std::span<const MessageId> ids,
      const std::function<bool(const QueueKey&, const rocksdb::Slice&)>& fn) const;

 private:
  using Fresh = std::unordered_map<std::string, uint32_t>;
  // Under alloc_mu: each recipient's domain id into ids; new ones get fresh ids, put into
  // reserve (with the next-domain counter) and returned, not yet in the domain maps.
  Result<Fresh> resolve_domains(std::span<const NewRecipient> recipients,
                                std::vector<uint32_t>& ids, rocksdb::WriteBatch& reserve);
  // Under alloc_mu, after their registration is written: fresh domains join the domain maps.
  void publish_domains(const Fresh& fresh);
};

}  // namespace ringmta::storage
