// storage::Queue: the durable recipient queue on RocksDB (one database, column families).
//
//   messages  : message id (u64 BE)            -> StoredMessage (sender, raw template, fields,
//   campaign) domains   : domain name                     -> dense id (u32) queue     : partition
//   u8 | domain id u32 BE | due u32 BE | seq u64 BE -> RecipientRecord meta      : counters (next
//   ids), settings
//
// Big-endian key fields make byte order equal (partition, domain, due time) order, so "ready" is
// due <= now and a domain's entries are contiguous. Partitions are fixed at 64 (hash of the
// domain), and a shard owns the partitions p with p % shards == shard id: the shard count may
// change between runs without re-keying the queue.
//
// Durability: enqueue() and put_message() are durable before returning success: written with
// sync=true (WAL fsynced), or for a bulk enqueue as an fsynced SST file ingested into the queue
// column family (see prepare_enqueue). apply() writes outcomes unsynced; the owner calls sync_wal()
// at a short interval, so a crash may re-deliver the recipients finished since the last sync
// (at-least-once), never lose one.
//
// It may not: schedule, decide retries, or hold recipients in RAM beyond the window asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/result.h"
#include "util/time.h"

namespace ringmta::storage {

constexpr int kPartitions = 64;
uint8_t partition_of(std::string_view domain);  // stable hash of the lower-case domain

using MessageId = uint64_t;

// The RFC 2369 / RFC 8058 list fields every copy of a campaign gets (unsubscribe/list_fields).
struct ListFields {
  std::string unsubscribe_url;     // https://... with "{token}"; "" = none
  std::string unsubscribe_mailto;  // an address; "" = none
  std::string list_id;             // List-Id's value; "" = none
  bool any() const {
    return !unsubscribe_url.empty() || !unsubscribe_mailto.empty() || !list_id.empty();
  }
};

struct StoredMessage {
  std::string envelope_sender;      // MAIL FROM ("" = null reverse-path)
  std::string raw;                  // the message template as given (parsed again on load)
  std::vector<std::string> fields;  // merge field names, in RecipientRecord::values order
  std::string campaign;
  UnixSeconds created = 0;
  // A complete message sent as it is, with the null reverse-path (MAIL FROM:<>) and no merge
  // fields: a DSN. Never bounced itself.
  bool is_dsn = false;
  // Each recipient gets its own envelope Sender (message/verp.h), so late bounces identify it.
  bool verp = false;
  // Submitted whole over SMTP (submission/): sent as it came, with its own Date and Message-ID
  // and no merge fields.
  bool submitted = false;
  ListFields list;
};

struct RecipientRecord {
  std::string address;
  MessageId message = 0;
  std::vector<std::string> values;  // merge values, in StoredMessage::fields order
  uint32_t attempts = 0;
  UnixSeconds first_enqueued = 0;
  std::string last_reply;  // the last transient reply, for `queue` listings and diagnosis
};

struct QueueKey {
  uint8_t partition = 0;
  uint32_t domain = 0;
  uint32_t due = 0;  // unix seconds
  uint64_t seq = 0;
  std::string encode() const;  // 17 bytes
  static std::optional<QueueKey> decode(std::string_view bytes);
  bool operator==(const QueueKey&) const = default;
  // Field order is the encoded order: comparing keys compares their bytes.
  auto operator<=>(const QueueKey&) const = default;
};

// Per domain id, the highest key earlier fetches in this process handed out. Keys at or below it
// were handed out already (in flight, or decided: deleted, or moved to a later due), so a fetch
// seeks past them instead of stepping over the tombstones a draining campaign leaves at the front
// of each domain. Sound while nothing writes a key below a hint: new and moved keys carry
// due >= now and fresh seqs; the owner drops a domain's hint when it releases one of its entries
// untouched, and all hints when the clock steps back.
using FetchHints = std::unordered_map<uint32_t, QueueKey>;

struct QueueEntry {
  QueueKey key;
  std::string domain;  // resolved from the domain id
  RecipientRecord record;
};

struct NewRecipient {
  std::string address;  // validated, domain lower-cased
  std::string domain;
  std::vector<std::string> values;
};

// A message submitted whole with its recipients (Queue::put_submissions).
struct Submission {
  StoredMessage message;
  std::vector<NewRecipient> recipients;
};

// RocksDB's own estimates for the whole database (all column families); no scan.
struct StorageFigures {
  uint64_t live_data_bytes = 0;           // rocksdb.estimate-live-data-size
  uint64_t pending_compaction_bytes = 0;  // rocksdb.estimate-pending-compaction-bytes
};

struct QueueCounts {
  uint64_t ready = 0;     // due <= now
  uint64_t deferred = 0;  // due > now
  uint64_t total() const { return ready + deferred; }
};

// Ready and deferred recipients of one domain (see Queue::counts_by_domain).
struct DomainCount {
  std::string domain;
  uint64_t ready = 0;
  uint64_t deferred = 0;
  uint64_t total() const { return ready + deferred; }
};

// Which entries Queue::scan_all visits.
struct ScanFilter {
  std::optional<UnixSeconds> deferred_at;  // only entries with due > deferred_at
  std::string domain;                      // only this domain ("" = every domain)
};

// True for the error Queue::open returns when another process (a running `ringmta send` or
// `run`) holds the queue's lock, or this process already has it open.
bool queue_in_use(const Error& error);
// True if dir holds a queue database (without opening or creating it).
bool queue_exists(const std::string& dir);

// A set of outcome writes applied as one WriteBatch.
// A permanent failure still to be reported to its message's envelope Sender: recorded in the
// same batch that removes the recipient, so a crash cannot lose the bounce. `report` is opaque
// here (bounce/ encodes it).
struct PendingBounce {
  uint8_t partition = 0;  // the failed recipient's
  MessageId message = 0;
  uint64_t seq = 0;  // the failed recipient's
  std::string report;
};

class OutcomeBatch {
 public:
  void remove(const QueueKey& key);  // delivered or failed for good
  // With remove(key): keep a bounce report for the recipient's message.
  void add_bounce(const QueueKey& key, MessageId message, std::string report);
  // Moves the entry to a new due time with an updated record (SingleDelete + Put).
  void reschedule(const QueueKey& key, uint32_t new_due, const RecipientRecord& record);
  // A keyed record written with the outcomes (see Queue's records section).
  void put_record(std::string key, std::string value);
  bool empty() const { return ops_.empty() && bounces_.empty() && records_.empty(); }
  std::size_t size() const { return ops_.size(); }

 private:
  friend class Queue;
  struct Op {
    QueueKey key;
    std::optional<uint32_t> new_due;
    std::string record;  // encoded, for reschedule
  };
  std::vector<Op> ops_;
  std::vector<PendingBounce> bounces_;
  std::vector<std::pair<std::string, std::string>> records_;
};

// New recipients encoded by Queue::prepare_enqueue (ids and seqs allocated, entries in key
// order), to be written by Queue::write_enqueue, possibly on another thread. Dropped unwritten, it
// queues nothing (its seqs are simply never used).
class PreparedEnqueue {
 public:
  std::size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }

 private:
  friend class Queue;
  std::string bytes_;  // entry i: 17-byte key, then the record, ending at ends_[i]
  std::vector<std::size_t> ends_;
};

class Queue {
 public:
  static Result<std::unique_ptr<Queue>> open(const std::string& dir);
  ~Queue();

  // 64 random bits made with the queue (never 0): no other queue, here or on another host, has
  // the same, so it keeps their Message-IDs apart.
  uint64_t identity() const;

  Result<MessageId> put_message(const StoredMessage& message);  // synced
  // Stores each message once and queues its recipients (due now), adding them to their
  // campaign's size (not a DSN's), all in one synced WriteBatch: the messages of many SMTP sessions
  // share one fsync (group commit). All or nothing. Returns the message ids, in order.
  Result<std::vector<MessageId>> put_submissions(std::span<const Submission> submissions,
                                                 UnixSeconds now);
  Result<StoredMessage> get_message(MessageId id) const;

  // Adds recipients of one message with due = now, in one WriteBatch, synced before returning.
  // A failed write (disk full, I/O error) returns an Error naming the cause; nothing of the batch
  // is then queued, and what was queued before stays.
  Result<void> enqueue(MessageId message, std::span<const NewRecipient> recipients,
                       UnixSeconds now);
  // enqueue() in two halves, so that a bulk ingest encodes the next batch while the last one is
  // written: prepare_enqueue resolves the domains (registering new ones, synced), allocates the
  // seqs and encodes the entries in key order; write_enqueue writes them durably, all or nothing.
  // Both are safe to call from different threads at once.
  // From kIngestMin entries on, write_enqueue bypasses the WAL and the memtable: the sorted
  // entries become one SST file (synced), ingested into the queue column family. The memtable's
  // skip list inserts were most of a bulk enqueue's time, and its later flush wrote the data again.
  Result<PreparedEnqueue> prepare_enqueue(MessageId message,
                                          std::span<const NewRecipient> recipients,
                                          UnixSeconds now);
  Result<void> write_enqueue(PreparedEnqueue&& prepared);

  // Up to max entries of one partition with due <= now, in key order, strictly after `after`
  // (nullopt: from the partition's start). Entries of a domain whose first key is not due are
  // skipped by seeking to the next domain, so deferred domains cost one seek each. With hints,
  // keys at or below a domain's hint are skipped by one seek too.
  Result<std::vector<QueueEntry>> fetch_ready(uint8_t partition, UnixSeconds now, std::size_t max,
                                              const std::optional<QueueKey>& after,
                                              const FetchHints* hints = nullptr) const;

  // One small synced write: proves, before anything is delivered, that outcomes can be recorded
  // (on a full disk a delivery whose removal cannot be written is delivered again by a later run).
  Result<void> check_writable();

  Result<void> apply(OutcomeBatch&& batch);  // unsynced
  Result<void> sync_wal();

  // A full scan: for summaries, not the hot path. A corrupt key is not counted; a read error is
  // an Error.
  Result<QueueCounts> counts(UnixSeconds now) const;
  // Cheap: two DB properties, for metrics. An Error if RocksDB cannot give one.
  Result<StorageFigures> storage_figures() const;
  // The earliest due time in the queue (nullopt: no entry). A corrupt key is stepped over; a read
  // error is an Error.
  Result<std::optional<UnixSeconds>> earliest_due() const;

  // --- operating the queue (`ringmta queue`): full or per-domain scans, not the hot path ---

  // Up to max entries of one partition whatever their due time, in key order, strictly after
  // `after` (nullopt: from the partition's start); for paging through the whole queue.
  Result<std::vector<QueueEntry>> scan(uint8_t partition, std::size_t max,
                                       const std::optional<QueueKey>& after) const;
  // Visits the entries matching filter, partition by partition in key order, until visit returns
  // false. With filter.deferred_at, each domain's entries due by then are skipped with one seek.
  Result<void> scan_all(const ScanFilter& filter,
                        const std::function<bool(const QueueEntry&)>& visit) const;
  // Ready (due <= now) and deferred counts per domain, largest total first, then by name. Reads
  // keys only.
  Result<std::vector<DomainCount>> counts_by_domain(UnixSeconds now) const;
  // The ids of the stored messages of a campaign, ascending.
  Result<std::vector<MessageId>> campaign_messages(std::string_view campaign) const;
  // Ready and deferred counts of a campaign's recipients (decodes every record).
  Result<QueueCounts> campaign_counts(std::string_view campaign, UnixSeconds now) const;
  // The number of recipients accepted for a campaign, if the ingesting side recorded it with
  // add_campaign_size (synced; adds to what is stored, so a campaign may be queued in parts).
  Result<void> add_campaign_size(std::string_view campaign, uint64_t accepted);
  Result<std::optional<uint64_t>> campaign_size(std::string_view campaign) const;

  // Makes deferred entries (due > now) due at now, every domain or only `domain`: SingleDelete
  // of the old key + Put of the same seq at due = now, record unchanged, one synced WriteBatch
  // per chunk of kAdminChunk entries. Returns how many entries moved.
  Result<uint64_t> flush(UnixSeconds now, std::string_view domain = {});
  // Removes every queued recipient of a campaign's messages (SingleDelete, one synced WriteBatch
  // per chunk), then the messages and the stored campaign size. Returns how many recipients.
  Result<uint64_t> drop_campaign(std::string_view campaign);

  // --- housekeeping ---

  // Deletes the stored messages that were submitted whole (SMTP) or are DSNs once none of their
  // recipients is queued and no bounce report needs them: one-off messages would otherwise fill
  // the disk of a long-running service. A campaign's message is kept (its records and VERP
  // attribution name it). Every read is of one snapshot, and such messages are written with
  // their recipients in one batch (put_submissions), so one is never seen without them; the
  // deletions are one synced batch, which makes every outcome before them durable too. Decodes
  // every queued record: for a timer, not the hot path. Returns how many messages were deleted.
  Result<uint64_t> collect_messages();

  // --- bounces (engine/bounce_reporter) ---

  // Up to max pending bounce reports of one partition, ordered by message then seq. A malformed
  // report key or a read error is an Error.
  Result<std::vector<PendingBounce>> pending_bounces(uint8_t partition, std::size_t max) const;
  // Deletes reports once their DSN is queued (synced).
  Result<void> forget_bounces(std::span<const PendingBounce> reported);

  // --- records: small keyed values other modules keep beside the queue (storage/records.h) ---
  // Keys start with a prefix of the owning module ending in '/'; the queue's own meta keys
  // (seq_limit, next_message, next_domain, writable, campaign_size/, bounce/) are refused.

  // The value of each key, or nullopt where there is none (one MultiGet).
  Result<std::vector<std::optional<std::string>>> get_records(
      std::span<const std::string> keys) const;
  // Visits the records whose key starts with prefix, in key order, until visit returns false.
  Result<void> scan_records(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const;
  // Puts and deletes in one synced WriteBatch.
  Result<void> write_records(std::span<const std::pair<std::string, std::string>> puts,
                             std::span<const std::string> deletes);

  static constexpr std::size_t kAdminChunk = 10'000;
  static constexpr std::size_t kIngestMin = 2'000;

 private:
  Result<std::vector<QueueEntry>> fetch_ready_hinted(uint8_t partition, UnixSeconds now,
                                                     std::size_t max,
                                                     const std::optional<QueueKey>& after,
                                                     const FetchHints& hints) const;
  Queue();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringmta::storage
