// Ingest: streams a recipient CSV against a parsed template into storage::Queue in synced batches.
// The CSV is parsed, checked and encoded (Queue::prepare_enqueue) on the calling thread while a
// writer thread writes the previous batch (Queue::write_enqueue), so the two halves use two cores.
// The suppression list is loaded once as a set of hashes: only a recipient whose hash is on it is
// looked up in the database (one MultiGet per batch). Memory: two batches plus compact sets of
// 64-bit address hashes (8-16 bytes per recipient and per suppressed address). It may not deliver
// or schedule anything, nor hold more than two batches of recipients in memory.
#include "ingest/ingest.h"

#include <unistd.h>

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

// Where the address and the template's fields are in each row, from the header row.
struct Columns {
  std::size_t count = 0;  // every data row must have this many
  std::size_t email = 0;
  std::vector<std::size_t> of_field;  // per template field
};

// Reads the header row: the "email" column (any case, blanks around it ignored) and, for each
// template field, the column of that name (exactly, else in any case; "email" is the address).
// name: how errors name the list; path: the file, for read errors.
Result<Columns> read_header(message::CsvReader& reader, std::FILE* csv, const std::string& path,
                            const std::string& name, const std::vector<std::string>& fields) {
  message::CsvRecord record;
  const auto head = reader.next(record);
  if (head == message::CsvReader::Status::kEnd) {
    if (std::ferror(csv)) return make_error(file_error("cannot read", path));
    return make_error(name + ": empty CSV (no header row)", ErrorKind::kInput);
  }
  if (head == message::CsvReader::Status::kMalformed) {
    return make_error(
        name + ": line " + std::to_string(record.line) + ": bad header row: " + reader.error(),
        ErrorKind::kInput);
  }
  const std::vector<std::string>& header = record.fields;
  Columns out;
  out.count = header.size();
  std::optional<std::size_t> email_col;
  for (std::size_t c = 0; c < out.count; ++c) {
    if (iequals(trim(header[c]), "email")) {
      email_col = c;
      break;
    }
  }
  if (!email_col) {
    // Say what was found; a header read as one column that holds ';' or a tab was written with
    // another delimiter (a spreadsheet's "CSV" in many locales).
    std::string found;
    for (const std::string& h : header) found += (found.empty() ? "\"" : ", \"") + h + "\"";
    std::string hint;
    if (header.size() == 1 && header[0].find(';') != std::string::npos) {
      hint = "; the header is separated by ';': save the file as comma-separated CSV";
    } else if (header.size() == 1 && header[0].find('\t') != std::string::npos) {
      hint = "; the header is separated by tabs: save the file as comma-separated CSV";
    }
    return make_error(
        name + ": the header row has no \"email\" column (found " + found + ")" + hint,
        ErrorKind::kInput);
  }
  out.email = *email_col;
  out.of_field.resize(fields.size());
  for (std::size_t f = 0; f < fields.size(); ++f) {
    std::optional<std::size_t> col;
    if (iequals(fields[f], "email")) col = out.email;
    for (std::size_t c = 0; !col && c < out.count; ++c) {
      if (trim(header[c]) == fields[f]) col = c;
    }
    for (std::size_t c = 0; !col && c < out.count; ++c) {
      if (iequals(trim(header[c]), fields[f])) col = c;
    }
    if (!col) {
      return make_error(
          "the message uses field \"" + fields[f] + "\" but " + name + " has no such column",
          ErrorKind::kInput);
    }
    out.of_field[f] = *col;
  }
  return out;
}

// A data row as a recipient (the address normalised, the template's values checked), or the
// reason to reject the row.
Result<storage::NewRecipient> recipient_of(const message::CsvRecord& record, const Columns& columns,
                                           const message::MessageTemplate& tmpl) {
  if (record.fields.size() != columns.count) {
    return make_error(std::to_string(record.fields.size()) + " columns, expected " +
                      std::to_string(columns.count));
  }
  auto address = message::parse_address(record.fields[columns.email]);
  if (!address) return address.error();
  std::string normalised = address->str();
  std::vector<std::string> values(columns.of_field.size());
  for (std::size_t f = 0; f < values.size(); ++f) {
    const std::size_t col = columns.of_field[f];
    values[f] = col == columns.email ? normalised : record.fields[col];
  }
  if (auto check = tmpl.check_values(values); !check) return check.error();
  return storage::NewRecipient{std::move(normalised), std::move(address->domain),
                               std::move(values)};
}

// The rejects file, if one is asked for: a "line,reason,email" row per rejected row. A failed
// write is remembered; close() reports it.
class RejectsFile {
 public:
  // Nothing is created until the first rejected row (no header-only file is left behind); an
  // old file of that name from an earlier run is removed, so it never passes for this run's.
  Result<void> open(const std::string& path) {
    path_ = path;
    if (path.empty()) return {};
    // Before anything is queued: a file that could not be created later would lose the rows.
    const std::string dir = path.find('/') == std::string::npos
                                ? std::string(".")
                                : path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
    if (::access(dir.c_str(), W_OK) != 0) return make_error(file_error("cannot create", path));
    if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
      return make_error(file_error("cannot replace", path));
    }
    return {};
  }

  void write(std::size_t line, std::string_view reason, std::string_view email) {
    if (!file_ && !path_.empty() && ok_) {
      file_.reset(std::fopen(path_.c_str(), "wb"));
      if (!file_ || std::fputs("line,reason,email\n", file_.get()) < 0) ok_ = false;
    }
    if (!file_) return;
    row_.assign(std::to_string(line)).push_back(',');
    message::append_csv_field(row_, reason);
    row_.push_back(',');
    message::append_csv_field(row_, email);
    row_.push_back('\n');
    if (std::fwrite(row_.data(), 1, row_.size(), file_.get()) != row_.size()) ok_ = false;
  }

  void flush() {
    if (file_) std::fflush(file_.get());
  }

  // Flushes and closes the file: false if a write to it failed (true without a file).
  bool close() {
    if (!file_) return ok_;
    if (std::fflush(file_.get()) != 0 || std::ferror(file_.get())) ok_ = false;
    if (std::fclose(file_.release()) != 0) ok_ = false;
    return ok_;
  }

 private:
  std::string path_;
  File file_;
  std::string row_;
  bool ok_ = true;
};

// The suppression list as hashes, loaded once; a recipient whose hash is on it is a candidate,
// confirmed (or not: a hash collision) by one lookup of the batch's candidates when the batch is
// handed over.
class SuppressionFilter {
 public:
  explicit SuppressionFilter(storage::Queue& queue) : list_(queue) {}

  Result<void> load() {
    auto loaded = list_.addresses([&](std::string_view address) {
      hashes_.insert(hash_address(address));
      return true;
    });
    if (!loaded)
      return make_error("reading the suppression list failed: " + loaded.error().message);
    return {};
  }

  // Notes the recipient about to be batch[index] as a candidate if its hash is on the list.
  void check(std::size_t index, const std::string& normalised) {
    if (!hashes_.empty() && hashes_.contains(hash_address_folded(normalised))) {
      candidates_.push_back(index);
    }
  }

  // Removes the candidates that are on the list from `batch`; returns how many.
  Result<std::size_t> drop_listed(std::vector<storage::NewRecipient>& batch) {
    if (candidates_.empty()) return std::size_t{0};
    addresses_.clear();
    for (std::size_t i : candidates_) addresses_.push_back(batch[i].address);
    auto listed = list_.contains(addresses_);
    if (!listed)
      return make_error("reading the suppression list failed: " + listed.error().message);
    std::size_t kept = 0, c = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const bool on_list = c < candidates_.size() && candidates_[c] == i && (*listed)[c++];
      if (on_list) continue;
      if (kept != i) batch[kept] = std::move(batch[i]);
      ++kept;
    }
    const std::size_t dropped = batch.size() - kept;
    batch.resize(kept);
    candidates_.clear();
    return dropped;
  }

 private:
  storage::SuppressionList list_;
  AddressSet hashes_;
  std::vector<std::size_t> candidates_;  // indexes into the batch
  std::vector<std::string> addresses_;   // the candidates' addresses, for one lookup
};

}  // namespace

Result<ChosenRow> choose_row(const std::string& recipients_path, const std::string& name,
                             const message::MessageTemplate& tmpl, std::size_t row,
                             const std::string& email) {
  File csv(std::fopen(recipients_path.c_str(), "rb"));
  if (!csv) return make_error(file_error("cannot open", recipients_path), ErrorKind::kInput);
  message::CsvReader reader(csv.get());
  auto columns = read_header(reader, csv.get(), recipients_path, name, tmpl.fields());
  if (!columns) return columns.error();
  const std::string wanted = email.empty() ? "" : storage::suppression_address(email);
  message::CsvRecord record;
  std::size_t rows = 0;
  for (std::size_t n = 1;; ++n) {
    const auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    rows = n;
    if (row != 0 && n != row) continue;
    const std::string where =
        name + ": line " + std::to_string(record.line) + " (row " + std::to_string(n) + ")";
    if (status == message::CsvReader::Status::kMalformed) {
      if (row == 0) continue;
      return make_error(where + " is rejected: malformed CSV: " + reader.error(),
                        ErrorKind::kInput);
    }
    auto recipient = recipient_of(record, *columns, tmpl);
    if (row == 0) {
      if (!recipient || storage::suppression_address(recipient->address) != wanted) continue;
    }
    if (!recipient) {
      return make_error(where + " is rejected: " + recipient.error().message, ErrorKind::kInput);
    }
    return ChosenRow{std::move(*recipient), n, record.line};
  }
  if (std::ferror(csv.get())) return make_error(file_error("read error in", recipients_path));
  if (row != 0) {
    return make_error(
        name + " has no row " + std::to_string(row) + " (it has " + std::to_string(rows) + ")",
        ErrorKind::kInput);
  }
  return make_error(name + " has no row for " + email, ErrorKind::kInput);
}

Result<IngestSummary> ingest(storage::Queue& queue, const IngestOptions& options,
                             const std::function<void(const IngestSummary&)>& progress) {
  auto tmpl = message::MessageTemplate::parse(options.raw_message);
  if (!tmpl) return make_error("message: " + tmpl.error().message, ErrorKind::kInput);
  const std::vector<std::string>& fields = tmpl->fields();

  File csv(std::fopen(options.recipients_path.c_str(), "rb"));
  if (!csv) return make_error(file_error("cannot open", options.recipients_path));
  RejectsFile rejects;
  if (auto opened = rejects.open(options.rejects_path); !opened) return opened.error();
  message::CsvReader reader(csv.get());
  auto columns = read_header(
      reader, csv.get(), options.recipients_path,
      options.recipients_name.empty() ? options.recipients_path : options.recipients_name, fields);
  if (!columns) return columns.error();

  IngestSummary summary;
  storage::StoredMessage stored{options.envelope_sender, options.raw_message, fields,
                                options.campaign, unix_now()};
  stored.verp = options.verp;
  stored.list = options.list;
  auto id = queue.put_message(stored);
  if (!id) return make_error("queue: cannot store the message: " + id.error().message);
  summary.message = *id;

  auto reject = [&](std::size_t line, std::string_view reason, std::string_view email) {
    ++summary.rejected_rows;
    rejects.write(line, reason, email);
  };
  std::vector<storage::NewRecipient> batch;
  batch.reserve(kBatch);
  SuppressionFilter suppression(queue);
  if (options.skip_suppressed) {
    if (auto loaded = suppression.load(); !loaded) return loaded.error();
  }
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
    auto dropped = suppression.drop_listed(batch);
    if (!dropped) return dropped.error();
    summary.suppressed += *dropped;
    if (batch.empty()) return {};
    auto prepared = queue.prepare_enqueue(message_id, batch, unix_now());
    if (!prepared) {
      return make_error("queue write failed after " +
                        std::to_string(accepted_so_far.load(std::memory_order_relaxed)) +
                        " recipients were accepted: " + prepared.error().message);
    }
    batch.clear();
    if (auto r = writer.submit(std::move(*prepared)); !r) return r;
    rejects.flush();
    report(accepted_so_far.load(std::memory_order_relaxed));
    return {};
  };

  AddressSet seen;
  uint64_t taken = 0;  // rows handed to the writer (suppressed ones among them)
  message::CsvRecord record;
  for (;;) {
    const auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    if (status == message::CsvReader::Status::kMalformed) {
      reject(record.line, "malformed CSV: " + reader.error(), "");
      continue;
    }
    auto recipient = recipient_of(record, *columns, *tmpl);
    if (!recipient) {
      const std::string_view raw_email = columns->email < record.fields.size()
                                             ? std::string_view(record.fields[columns->email])
                                             : "";
      reject(record.line, recipient.error().message, raw_email);
      continue;
    }
    if (!seen.insert(hash_address(recipient->address))) {
      ++summary.duplicates;
      continue;
    }
    if (options.deliver_to) {
      recipient->address = options.deliver_to->str();
      recipient->domain = options.deliver_to->domain;
    }
    suppression.check(batch.size(), recipient->address);
    batch.push_back(std::move(*recipient));
    ++taken;
    if (batch.size() >= kBatch) {
      if (auto r = flush(); !r) return r.error();
    }
    if (options.max_rows != 0 && taken >= options.max_rows) break;
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
  if (!rejects.close()) {
    return make_error("cannot write " + options.rejects_path + " (" +
                      std::to_string(summary.accepted) + " recipients were accepted and queued)");
  }
  return summary;
}

}  // namespace ringmta::ingest
