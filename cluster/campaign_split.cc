// owner_of, ListPart and split_list (see campaign_split.h).
#include "cluster/campaign_split.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "message/address.h"
#include "message/csv.h"
#include "util/errno_text.h"
#include "util/hash.h"
#include "util/strings.h"

namespace ringmta::cluster {
namespace {

// Stable across builds and machines (util/hash.h), and well mixed in every bit, so that the
// highest of the nodes' scores is a fair draw.
uint64_t score(std::string_view node, std::string_view domain) {
  return avalanche(fnv1a(domain, fnv1a(std::string_view("\n", 1), fnv1a(node))));
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

}  // namespace

std::size_t owner_of(std::string_view domain, const std::vector<std::string>& nodes) {
  std::size_t best = 0;
  uint64_t best_score = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const uint64_t s = score(nodes[i], domain);
    // Ties (practically never) go to the node whose name sorts first, on every node alike.
    if (i == 0 || s > best_score || (s == best_score && nodes[i] < nodes[best])) {
      best = i;
      best_score = s;
    }
  }
  return best;
}

Result<ListPart> ListPart::create(const std::string& dir, std::string node,
                                  const std::vector<std::string>& header) {
  std::string path = dir + "/ringmta-part-XXXXXX.csv";
  const int fd = ::mkstemps(path.data(), 4);
  if (fd < 0) return make_error("cannot create a file in " + dir + ": " + errno_text(errno));
  std::FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return make_error("cannot open " + path + ": " + errno_text(e));
  }
  ListPart part(std::move(node), std::move(path), file);
  if (auto written = part.write_row(header); !written) return written.error();
  return part;
}

ListPart::ListPart(ListPart&& other) noexcept
    : node_(std::move(other.node_)),
      path_(std::move(other.path_)),
      file_(other.file_),
      next_line_(other.next_line_),
      part_lines_(std::move(other.part_lines_)),
      list_lines_(std::move(other.list_lines_)) {
  other.file_ = nullptr;
  other.path_.clear();
}

ListPart::~ListPart() {
  if (file_ != nullptr) std::fclose(file_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::size_t ListPart::list_line(std::size_t part_line) const {
  const auto at = std::lower_bound(part_lines_.begin(), part_lines_.end(), part_line);
  if (at == part_lines_.end() || *at != part_line) return 0;
  return list_lines_[static_cast<std::size_t>(at - part_lines_.begin())];
}

Result<void> ListPart::write_row(const std::vector<std::string>& fields) {
  std::string row;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) row.push_back(',');
    message::append_csv_field(row, fields[i]);
  }
  row.push_back('\n');
  if (file_ == nullptr || std::fwrite(row.data(), 1, row.size(), file_) != row.size()) {
    return make_error("cannot write " + path_ + ": " + errno_text(errno));
  }
  next_line_ += static_cast<std::size_t>(std::count(row.begin(), row.end(), '\n'));
  return {};
}

Result<void> ListPart::append(const std::vector<std::string>& fields, std::size_t list_line) {
  const std::size_t starts_at = next_line_;
  if (auto written = write_row(fields); !written) return written;
  part_lines_.push_back(starts_at);
  list_lines_.push_back(list_line);
  return {};
}

Result<void> ListPart::close() {
  if (file_ == nullptr) return {};
  const bool ok = std::fflush(file_) == 0 && std::ferror(file_) == 0;
  const int e = errno;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok) return make_error("cannot write " + path_ + ": " + errno_text(e));
  return {};
}

Result<void> ListPart::take_rows_of(const ListPart& other) {
  if (file_ == nullptr) {
    file_ = std::fopen(path_.c_str(), "ab");  // closed by split_list: open again, at its end
    if (file_ == nullptr) return make_error("cannot open " + path_ + ": " + errno_text(errno));
  }
  File file(std::fopen(other.path_.c_str(), "rb"), std::fclose);
  if (!file) return make_error("cannot read " + other.path_ + ": " + errno_text(errno));
  message::CsvReader reader(file.get());
  message::CsvRecord record;
  bool header = true;
  for (;;) {
    const auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    // The part was written by append(): every record reads back.
    if (status == message::CsvReader::Status::kMalformed) {
      return make_error(other.path_ + " line " + std::to_string(record.line) + ": " +
                        reader.error());
    }
    if (header) {
      header = false;
      continue;
    }
    if (auto added = append(record.fields, other.list_line(record.line)); !added) return added;
  }
  return {};
}

Result<SplitList> split_list(const std::string& list_path, const std::vector<std::string>& nodes,
                             const std::string& dir) {
  File file(std::fopen(list_path.c_str(), "rb"), std::fclose);
  if (!file) return make_error("cannot read " + list_path + ": " + errno_text(errno));
  message::CsvReader reader(file.get());
  message::CsvRecord record;
  SplitList out;
  std::optional<std::size_t> email_column;
  // A header that does not read, or has no email column: not split.
  if (reader.next(record) != message::CsvReader::Status::kRecord) return out;
  for (std::size_t c = 0; c < record.fields.size(); ++c) {
    if (iequals(trim(record.fields[c]), "email")) {
      email_column = c;
      break;
    }
  }
  if (!email_column) return out;
  out.split = true;
  for (const std::string& node : nodes) {
    auto part = ListPart::create(dir, node, record.fields);
    if (!part) return part.error();
    out.parts.push_back(std::move(part.value()));
  }
  for (;;) {
    const auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    if (status == message::CsvReader::Status::kMalformed) {
      out.unreadable.push_back({record.line, "malformed CSV: " + reader.error()});
      continue;
    }
    std::string_view domain;  // none readable: the empty domain's node refuses the row
    std::optional<message::Address> address;
    if (*email_column < record.fields.size()) {
      if (auto parsed = message::parse_address(record.fields[*email_column])) {
        address = std::move(*parsed);
        domain = address->domain;
      }
    }
    const std::size_t owner = owner_of(domain, nodes);
    if (auto added = out.parts[owner].append(record.fields, record.line); !added) {
      return added.error();
    }
  }
  if (std::ferror(file.get())) return make_error("read error in " + list_path);
  for (ListPart& part : out.parts) {
    if (auto closed = part.close(); !closed) return closed.error();
  }
  return out;
}

}  // namespace ringmta::cluster
