// CsvReader: streaming RFC 4180 CSV (quoted fields, "" escapes, CRLF or LF rows, fields that span
// lines), UTF-8 passed through. Memory is bounded by the longest record, not the file.
// It may not interpret columns: that is the ingest step's job.
#pragma once

#include <cstdio>
#include <string>
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
  std::FILE* file_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  bool eof_ = false;
  std::string error_;
};

}  // namespace ringmta::message
