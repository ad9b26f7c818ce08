// CsvReader: a streaming RFC 4180 parser over a FILE*, read in 64 KiB blocks.
// Memory is bounded by kMaxRecordBytes plus one block: the buffer keeps only the current record.
// It may not interpret columns, trim fields, or stop at a broken record (it reports and goes on).
#include "message/csv.h"

#include <cstring>

namespace ringmta::message {
namespace {
constexpr std::size_t kBlock = 64 * 1024;
}  // namespace

CsvReader::CsvReader(std::FILE* file) : file_(file) {}

// Drops what precedes the current record, then appends one block. False at end of file or error.
bool CsvReader::fill() {
  if (eof_) return false;
  if (rec_start_ > 0) {
    buf_.erase(0, rec_start_);
    pos_ -= rec_start_;
    rec_start_ = 0;
  }
  const std::size_t old = buf_.size();
  buf_.resize(old + kBlock);
  const std::size_t n = std::fread(buf_.data() + old, 1, kBlock, file_);
  buf_.resize(old + n);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  return true;
}

int CsvReader::peek() {
  if (pos_ == buf_.size() && !fill()) return -1;
  return static_cast<unsigned char>(buf_[pos_]);
}

// Consumes through the end of the current physical line (LF, CRLF or a bare CR).
void CsvReader::skip_line() {
  for (;;) {
    rec_start_ = pos_;  // nothing here needs keeping
    const int c = peek();
    if (c < 0) return;
    ++pos_;
    if (c == '\n') break;
    if (c == '\r') {
      if (peek() == '\n') ++pos_;
      break;
    }
  }
  ++line_;
}

CsvReader::Status CsvReader::malformed(CsvRecord& record, const char* why, bool rewind) {
  error_ = why;
  record.fields.clear();
  if (rewind) {
    // The record's opening quote may have been a stray one: go on at the line after its start.
    pos_ = rec_start_;
    line_ = record.line;
    skip_line();
  } else {
    skip_line();
  }
  rec_start_ = pos_;
  return Status::kMalformed;
}

CsvReader::Status CsvReader::next(CsvRecord& record) {
  if (!bom_checked_) {
    bom_checked_ = true;
    while (buf_.size() - pos_ < 3 && fill()) {
    }
    if (buf_.size() - pos_ >= 3 && std::memcmp(buf_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) {
      pos_ += 3;
    }
  }
  error_.clear();
  record.fields.clear();

  // Blank lines carry no record: skip them (they still count for line numbers).
  for (;;) {
    rec_start_ = pos_;
    const int c = peek();
    if (c < 0) return Status::kEnd;
    if (c == '\n') {
      ++pos_;
      ++line_;
    } else if (c == '\r') {
      ++pos_;
      if (peek() == '\n') ++pos_;
      ++line_;
    } else {
      break;
    }
  }
  rec_start_ = pos_;
  record.line = line_;

  std::size_t bytes = 0;
  std::string field;
  for (;;) {  // one field per iteration
    field.clear();
    int c = peek();
    if (c == '"') {
      ++pos_;
      for (;;) {
        c = peek();
        if (c < 0) return malformed(record, "unterminated quoted field", true);
        ++pos_;
        if (c == '"') {
          if (peek() == '"') {
            ++pos_;
          } else {
            break;
          }
        } else if (c == '\n') {
          ++line_;
        } else if (c == '\r' && peek() != '\n') {
          ++line_;
        }
        if (++bytes > kMaxRecordBytes) return malformed(record, "record too long", true);
        field.push_back(static_cast<char>(c));
      }
      c = peek();
      if (c >= 0 && c != ',' && c != '\r' && c != '\n') {
        return malformed(record, "text after a closing quote", false);
      }
    } else {
      // Unquoted: scan the run of plain bytes at once.
      for (;;) {
        if (pos_ == buf_.size() && !fill()) break;
        const char* p = buf_.data() + pos_;
        const char* end = buf_.data() + buf_.size();
        const char* q = p;
        while (q < end && *q != ',' && *q != '\r' && *q != '\n' && *q != '"') ++q;
        bytes += static_cast<std::size_t>(q - p);
        if (bytes > kMaxRecordBytes) return malformed(record, "record too long", false);
        field.append(p, q);
        pos_ += static_cast<std::size_t>(q - p);
        if (q < end) break;
      }
      c = peek();
      if (c == '"') return malformed(record, "quote inside an unquoted field", false);
    }
    record.fields.push_back(field);
    if (++bytes > kMaxRecordBytes) return malformed(record, "record too long", false);
    // c is now ',', a line end, or end of file.
    if (c == ',') {
      ++pos_;
      continue;
    }
    if (c == '\r') {
      ++pos_;
      if (peek() == '\n') ++pos_;
      ++line_;
    } else if (c == '\n') {
      ++pos_;
      ++line_;
    }
    rec_start_ = pos_;
    return Status::kRecord;
  }
}

void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace ringmta::message
