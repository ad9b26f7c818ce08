// CsvReader: streaming RFC 4180 CSV (quoted fields, "" escapes, CRLF or LF rows, fields that span
// lines), UTF-8 passed through (a BOM at the file start is skipped; blank lines are skipped but
// counted). Memory is bounded by the longest record, not the file.
// It may not interpret columns: that is the ingest step's job.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::message {

struct CsvRecord {
  std::size_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

class CsvReader {
 public:
  static constexpr std::size_t kMaxRecordBytes = 1 << 20;

  explicit CsvReader(std::FILE* file);  // not owned
  enum class Status { kRecord, kMalformed, kEnd };
  // kMalformed: the record at record.line is broken (error() says how: unterminated quote, a quote
  // inside an unquoted field, over kMaxRecordBytes); reading goes on at the next line.
  Status next(CsvRecord& record);
  const std::string& error() const { return error_; }

 private:
  bool fill();
  int peek();  // the next byte, or -1 at end of file
  void skip_line();
  Status malformed(CsvRecord& record, const char* why, bool rewind);
  std::FILE* file_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t rec_start_ = 0;  // offset in buf_ of the current record (kept until it is done)
  bool eof_ = false;
  bool bom_checked_ = false;
  std::string error_;
};

// Appends one field for a CSV writer: quoted (quotes doubled) when it holds a comma, quote, CR or
// LF (RFC 4180), as CsvReader reads it back.
void append_csv_field(std::string& out, std::string_view field);

}  // namespace ringmta::message
