// Tests for message::CsvReader: RFC 4180 quoting, line ends, line numbers, BOM, broken records.
// They may not interpret columns (that is ingest's job).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "message/csv.h"

using ringmta::message::CsvReader;
using ringmta::message::CsvRecord;

namespace {

struct Item {
  CsvReader::Status status;
  std::size_t line;
  std::vector<std::string> fields;
  std::string error;
};

std::vector<Item> read_all(const std::string& data) {
  std::FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  std::fwrite(data.data(), 1, data.size(), f);
  std::rewind(f);
  CsvReader reader(f);
  std::vector<Item> out;
  CsvRecord rec;
  for (int guard = 0; guard < 100000; ++guard) {
    auto st = reader.next(rec);
    if (st == CsvReader::Status::kEnd) break;
    out.push_back(Item{st, rec.line, rec.fields, reader.error()});
  }
  std::fclose(f);
  return out;
}

using V = std::vector<std::string>;
constexpr auto kRec = CsvReader::Status::kRecord;
constexpr auto kBad = CsvReader::Status::kMalformed;

TEST(Csv, Simple) {
  auto r = read_all("email,name\na@x.com,Ann\nb@x.com,Bob\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].fields, (V{"email", "name"}));
  EXPECT_EQ(r[1].fields, (V{"a@x.com", "Ann"}));
  EXPECT_EQ(r[2].fields, (V{"b@x.com", "Bob"}));
  EXPECT_EQ(r[2].line, 3u);
}

TEST(Csv, CrlfAndNoFinalNewline) {
  auto r = read_all("a,b\r\nc,d\r\ne,f");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].fields, (V{"c", "d"}));
  EXPECT_EQ(r[2].fields, (V{"e", "f"}));
  EXPECT_EQ(r[2].line, 3u);
}

TEST(Csv, EmptyFields) {
  auto r = read_all(",a,\n,\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (V{"", "a", ""}));
  EXPECT_EQ(r[1].fields, (V{"", ""}));
  EXPECT_TRUE(read_all("").empty());
}

TEST(Csv, QuotedFieldsAndEscapes) {
  auto r = read_all("\"a,b\",\"say \"\"hi\"\"\",\"\"\n\"\"\"\"\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, kRec);
  EXPECT_EQ(r[0].fields, (V{"a,b", "say \"hi\"", ""}));
  EXPECT_EQ(r[1].fields, (V{"\""}));
}

TEST(Csv, QuotedFieldSpanningLines) {
  auto r = read_all("h1,h2\n\"line one\nline two\r\nline three\",x\nnext,row\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_EQ(r[1].fields, (V{"line one\nline two\r\nline three", "x"}));
  EXPECT_EQ(r[2].line, 5u);
  EXPECT_EQ(r[2].fields, (V{"next", "row"}));
}

TEST(Csv, BlankLinesSkippedButCounted) {
  auto r = read_all("a\n\n\r\nb\n\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].line, 1u);
  EXPECT_EQ(r[1].line, 4u);
  EXPECT_EQ(r[1].fields, (V{"b"}));
}

TEST(Csv, BomSkippedOnlyAtStart) {
  auto r = read_all(
      "\xEF\xBB\xBF"
      "email\n\xEF\xBB\xBFx\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (V{"email"}));
  EXPECT_EQ(r[1].fields, (V{"\xEF\xBB\xBFx"}));
  EXPECT_EQ(r[1].line, 2u);
  auto u = read_all("caf\xC3\xA9,\"\xE2\x82\xAC\"\n");
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].fields, (V{"caf\xC3\xA9", "\xE2\x82\xAC"}));
}

TEST(Csv, QuoteInsideUnquotedFieldIsMalformedAndReadingGoesOn) {
  auto r = read_all("a,b\nbad\"field,x\nc,d\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].status, kBad);
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_NE(r[1].error.find("quote"), std::string::npos);
  EXPECT_EQ(r[2].status, kRec);
  EXPECT_EQ(r[2].line, 3u);
  EXPECT_EQ(r[2].fields, (V{"c", "d"}));
}

TEST(Csv, TextAfterClosingQuote) {
  auto r = read_all("\"ab\"c,d\ne,f\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, kBad);
  EXPECT_EQ(r[0].line, 1u);
  EXPECT_EQ(r[1].status, kRec);
  EXPECT_EQ(r[1].fields, (V{"e", "f"}));
  EXPECT_EQ(r[1].line, 2u);
}

TEST(Csv, UnterminatedQuoteResumesAtNextLine) {
  auto r = read_all("a,b\n\"open,x\nc,d\ne,f\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[1].status, kBad);
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_NE(r[1].error.find("unterminated"), std::string::npos);
  EXPECT_EQ(r[2].status, kRec);
  EXPECT_EQ(r[2].line, 3u);
  EXPECT_EQ(r[2].fields, (V{"c", "d"}));
  EXPECT_EQ(r[3].line, 4u);
}

TEST(Csv, ColumnCountIsThePassedThrough) {
  auto r = read_all("a,b,c\n1,2\n1,2,3,4\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].fields.size(), 2u);
  EXPECT_EQ(r[2].fields.size(), 4u);
}

TEST(Csv, RecordsAcrossBufferBoundaries) {
  // Many records, with quoted fields and CRLF straddling the 64 KiB block edges.
  std::string data;
  for (int i = 0; i < 20000; ++i) {
    data += "user" + std::to_string(i) + "@x.com,\"q,\"\"" + std::to_string(i) + "\"\r\n";
  }
  auto r = read_all(data);
  ASSERT_EQ(r.size(), 20000u);
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(r[i].status, kRec);
    ASSERT_EQ(r[i].line, static_cast<std::size_t>(i + 1));
    ASSERT_EQ(r[i].fields[1], "q,\"" + std::to_string(i));
  }
}

TEST(Csv, OverlongRecordRefused) {
  std::string data = "a,b\n" + std::string(CsvReader::kMaxRecordBytes + 10, 'x') + "\nc,d\n";
  auto r = read_all(data);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].status, kBad);
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_EQ(r[2].fields, (V{"c", "d"}));
  EXPECT_EQ(r[2].line, 3u);
}

TEST(Csv, OverlongQuotedRecordRefused) {
  std::string data = "\"" + std::string(CsvReader::kMaxRecordBytes + 10, 'x') + "\"\nc,d\n";
  auto r = read_all(data);
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(r[0].status, kBad);
  EXPECT_EQ(r.back().fields, (V{"c", "d"}));
  EXPECT_EQ(r.back().line, 2u);
}

}  // namespace
