// Ingest: streams a recipient CSV against a parsed template into storage::Queue in synced batches.
// The CSV is parsed, checked and encoded (Queue::prepare_enqueue) on the calling thread while a
// writer thread writes the previous batch (Queue::write_enqueue), so the two halves use two cores.
// The suppression list is loaded once as a set of hashes: only a recipient whose hash is on it is
// looked up in the database (one MultiGet per batch). Memory: two batches plus compact sets of
// 64-bit address hashes (8-16 bytes per recipient and per suppressed address). It may not deliver
// or schedule anything, nor hold more than two batches of recipients in memory.
#include "ingest/ingest.h"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "ingest/address_set.h"
#include "message/address.h"
#include "message/csv.h"
#include "storage/records.h"
#include "util/errno_text.h"
#include "util/strings.h"
#include "util/time.h"

namespace ringmta::ingest {
namespace {

// Writes prepared batches on its own thread: submit() hands one over and returns at once unless
// the previous one is still being written (then it waits), so at most one batch is written while
// the next is read and encoded. The first failed write stops the writer; submit() and finish()
// return its error.
class BatchWriter {
 public:
  using Batch = storage::PreparedEnqueue;
  using Write = std::function<Result<void>(Batch&&)>;

  explicit BatchWriter(Write write) : write_(std::move(write)), thread_([this] { run(); }) {}
  ~BatchWriter() { (void)finish(); }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  Result<void> submit(Batch&& batch) {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return !busy_ || failed_; });
    if (failed_) return error_;
    work_ = std::move(batch);
    busy_ = true;
    wake_.notify_one();
    return {};
  }

  // Waits for the last batch; the writer thread ends.
  Result<void> finish() {
    {
      std::unique_lock lock(mu_);
      idle_.wait(lock, [this] { return !busy_ || failed_; });
      done_ = true;
      wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    if (failed_) return error_;
    return {};
  }

 private:
  void run() {
    for (;;) {
      Batch mine;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [this] { return busy_ || done_; });
        if (!busy_) return;
        mine = std::move(work_);
      }
      Result<void> written = write_(std::move(mine));
      std::lock_guard lock(mu_);
      busy_ = false;
      if (!written) {
        failed_ = true;
        error_ = written.error();
      }
      idle_.notify_all();
      if (failed_) return;
    }
  }

  Write write_;
  std::mutex mu_;
  std::condition_variable wake_, idle_;
  Batch work_;
  bool busy_ = false, done_ = false, failed_ = false;
  Error error_;
  std::thread thread_;  // last: starts once everything above exists
};

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// "cannot open PATH: No such file or directory", from errno.
std::string file_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + errno_text(errno);
}

}  // namespace

Result<IngestSummary> ingest(storage::Queue& queue, const IngestOptions& options,
                             const std::function<void(const IngestSummary&)>& progress) {
  auto tmpl = message::MessageTemplate::parse(options.raw_message);
  if (!tmpl) return make_error("message: " + tmpl.error().message);
  const std::vector<std::string>& fields = tmpl->fields();

  File csv(std::fopen(options.recipients_path.c_str(), "rb"));
  if (!csv) return make_error(file_error("cannot open", options.recipients_path));
  File rejects;
  if (!options.rejects_path.empty()) {
    rejects.reset(std::fopen(options.rejects_path.c_str(), "wb"));
    if (!rejects) return make_error(file_error("cannot create", options.rejects_path));
    std::fputs("line,reason,email\n", rejects.get());
  }

  // Header row: find "email" and map every template field to a column.
  message::CsvReader reader(csv.get());
  message::CsvRecord record;
  const auto head = reader.next(record);
  if (head == message::CsvReader::Status::kEnd) {
    if (std::ferror(csv.get()))
      return make_error(file_error("cannot read", options.recipients_path));
    return make_error(options.recipients_path + ": empty CSV (no header row)");
  }
  if (head == message::CsvReader::Status::kMalformed) {
    return make_error(options.recipients_path + ": line " + std::to_string(record.line) +
                      ": bad header row: " + reader.error());
  }
  const std::vector<std::string> header = record.fields;
  const std::size_t columns = header.size();
  std::optional<std::size_t> email_col;
  for (std::size_t c = 0; c < columns; ++c) {
    if (iequals(trim(header[c]), "email")) {
      email_col = c;
      break;
    }
  }
  if (!email_col) {
    return make_error(options.recipients_path + ": the header row has no \"email\" column");
  }
  std::vector<std::size_t> field_col(fields.size());
  for (std::size_t f = 0; f < fields.size(); ++f) {
    std::optional<std::size_t> col;
    if (iequals(fields[f], "email")) col = *email_col;
    for (std::size_t c = 0; !col && c < columns; ++c) {
      if (trim(header[c]) == fields[f]) col = c;
    }
    for (std::size_t c = 0; !col && c < columns; ++c) {
      if (iequals(trim(header[c]), fields[f])) col = c;
    }
    if (!col) {
      return make_error("the message uses field \"" + fields[f] + "\" but " +
                        options.recipients_path + " has no such column");
    }
    field_col[f] = *col;
  }

  IngestSummary summary;
  storage::StoredMessage stored{options.envelope_sender, options.raw_message, fields,
                                options.campaign, unix_now()};
  stored.verp = options.verp;
  auto id = queue.put_message(stored);
  if (!id) return make_error("queue: cannot store the message: " + id.error().message);
  summary.message = *id;

  std::string reject_line;
  bool rejects_ok = true;
  auto reject = [&](std::size_t line, std::string_view reason, std::string_view email) {
    ++summary.rejected_rows;
    if (!rejects) return;
    reject_line.assign(std::to_string(line)).push_back(',');
    message::append_csv_field(reject_line, reason);
    reject_line.push_back(',');
    message::append_csv_field(reject_line, email);
    reject_line.push_back('\n');
    if (std::fwrite(reject_line.data(), 1, reject_line.size(), rejects.get()) !=
        reject_line.size()) {
      rejects_ok = false;
    }
  };

  std::vector<storage::NewRecipient> batch;
  batch.reserve(kBatch);
  // The suppression list as hashes; a recipient whose hash is on it is a candidate, confirmed
  // (or not: a hash collision) by one lookup of the batch's candidates when the batch is handed
  // over.
  storage::SuppressionList suppression(queue);
  AddressSet suppressed_hashes;
  if (options.skip_suppressed) {
    auto loaded = suppression.addresses([&](std::string_view address) {
      suppressed_hashes.insert(hash_address(address));
      return true;
    });
    if (!loaded)
      return make_error("reading the suppression list failed: " + loaded.error().message);
  }
  std::vector<std::size_t> candidates;  // indexes into batch
  std::vector<std::string> candidate_addresses;
  auto drop_suppressed = [&]() -> Result<void> {
    candidate_addresses.clear();
    for (std::size_t i : candidates) candidate_addresses.push_back(batch[i].address);
    auto listed = suppression.contains(candidate_addresses);
    if (!listed)
      return make_error("reading the suppression list failed: " + listed.error().message);
    std::size_t kept = 0, c = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const bool on_list = c < candidates.size() && candidates[c] == i && (*listed)[c++];
      if (on_list) continue;
      if (kept != i) batch[kept] = std::move(batch[i]);
      ++kept;
    }
    summary.suppressed += batch.size() - kept;
    batch.resize(kept);
    candidates.clear();
    return {};
  };
  // The writer thread's side: it alone touches these until finish().
  uint64_t accepted = 0;
  std::atomic<uint64_t> accepted_so_far{0};
  const storage::MessageId message_id = summary.message;
  BatchWriter writer([&](BatchWriter::Batch&& batch) -> Result<void> {
    const std::size_t n = batch.size();
    if (auto r = queue.write_enqueue(std::move(batch)); !r) {
      return make_error("queue write failed after " + std::to_string(accepted) +
                        " recipients were accepted: " + r.error().message);
    }
    accepted += n;
    accepted_so_far.store(accepted, std::memory_order_relaxed);
    return {};
  });
  // Progress once per synced batch (seen from here: when the next batch is handed over).
  uint64_t reported = 0;
  auto report = [&](uint64_t accepted_now) {
    if (!progress || accepted_now == reported) return;
    reported = accepted_now;
    IngestSummary so_far = summary;
    so_far.accepted = accepted_now;
    progress(so_far);
  };
  auto flush = [&]() -> Result<void> {
    if (!candidates.empty()) {
      if (auto r = drop_suppressed(); !r) return r;
    }
    if (batch.empty()) return {};
    auto prepared = queue.prepare_enqueue(message_id, batch, unix_now());
    if (!prepared) {
      return make_error("queue write failed after " +
                        std::to_string(accepted_so_far.load(std::memory_order_relaxed)) +
                        " recipients were accepted: " + prepared.error().message);
    }
    batch.clear();
    if (auto r = writer.submit(std::move(*prepared)); !r) return r;
    if (rejects) std::fflush(rejects.get());
    report(accepted_so_far.load(std::memory_order_relaxed));
    return {};
  };

  AddressSet seen;
  std::vector<std::string> values(fields.size());
  for (;;) {
    const auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    if (status == message::CsvReader::Status::kMalformed) {
      reject(record.line, "malformed CSV: " + reader.error(), "");
      continue;
    }
    const std::string_view raw_email =
        *email_col < record.fields.size() ? std::string_view(record.fields[*email_col]) : "";
    if (record.fields.size() != columns) {
      reject(record.line,
             std::to_string(record.fields.size()) + " columns, expected " + std::to_string(columns),
             raw_email);
      continue;
    }
    auto address = message::parse_address(raw_email);
    if (!address) {
      reject(record.line, address.error().message, raw_email);
      continue;
    }
    std::string normalised = address->str();
    for (std::size_t f = 0; f < fields.size(); ++f) {
      values[f] = field_col[f] == *email_col ? normalised : record.fields[field_col[f]];
    }
    if (auto check = tmpl->check_values(values); !check) {
      reject(record.line, check.error().message, raw_email);
      continue;
    }
    if (!seen.insert(hash_address(normalised))) {
      ++summary.duplicates;
      continue;
    }
    if (!suppressed_hashes.empty() && suppressed_hashes.contains(hash_address_folded(normalised))) {
      candidates.push_back(batch.size());
    }
    batch.push_back(storage::NewRecipient{std::move(normalised), std::move(address->domain),
                                          std::move(values)});
    values.assign(fields.size(), std::string());
    if (batch.size() >= kBatch) {
      if (auto r = flush(); !r) return r.error();
    }
  }
  if (std::ferror(csv.get())) {
    (void)writer.finish();  // what was handed over is queued; the count says how much
    return make_error(file_error("read error in", options.recipients_path) + " (" +
                      std::to_string(accepted) + " recipients accepted before)");
  }
  if (auto r = flush(); !r) return r.error();
  if (auto r = writer.finish(); !r) return r.error();
  summary.accepted = accepted;
  report(accepted);
  if (rejects) {
    if (std::fflush(rejects.get()) != 0 || std::ferror(rejects.get())) rejects_ok = false;
    if (std::fclose(rejects.release()) != 0) rejects_ok = false;
    if (!rejects_ok) {
      return make_error("cannot write " + options.rejects_path + " (" +
                        std::to_string(summary.accepted) + " recipients were accepted and queued)");
    }
  }
  return summary;
}

}  // namespace ringmta::ingest
