// MultipartReader: bodies split anywhere, delimiters across pieces, lookalike delimiters in data,
// preamble and epilogue, and every malformation named; multipart_boundary's parameter parsing.
#include <gtest/gtest.h>

#include <map>

#include "http/multipart.h"

namespace ringmta::http {
namespace {

struct Parsed {
  std::map<std::string, std::string> data;      // by part name
  std::map<std::string, std::string> filename;  // by part name
  bool ended = false;
  std::string error;
};

Parsed read_all(std::string_view body, std::size_t step, std::string boundary = "XyZ") {
  MultipartReader reader(std::move(boundary));
  Parsed out;
  std::string current;
  for (std::size_t i = 0; i <= body.size(); i += step) {
    reader.feed(body.substr(i, step));
    for (;;) {
      const auto event = reader.next();
      if (event == MultipartReader::Event::kNeedMore) break;
      if (event == MultipartReader::Event::kFailed) {
        out.error = reader.error();
        return out;
      }
      if (event == MultipartReader::Event::kEnd) {
        out.ended = true;
        break;
      }
      if (event == MultipartReader::Event::kPartStart) {
        current = reader.part().name;
        out.data[current];
        out.filename[current] = reader.part().filename;
      }
      if (event == MultipartReader::Event::kData) out.data[current] += reader.data();
    }
  }
  if (!reader.finish()) out.error = reader.error();
  return out;
}

const std::string kBody =
    "preamble to skip\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"message\"; filename=\"news.eml\"\r\n"
    "Content-Type: message/rfc822\r\n\r\n"
    "Subject: hi\r\n\r\nA line with --XyZ inside, and \r\n--XY at a line start.\r\n"
    "--XyZ  \r\n"
    "content-disposition: form-data; name=campaign\r\n\r\n"
    "spring\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
    "\r\n--XyZ--\r\nepilogue, ignored\r\n--XyZ\r\n";

TEST(MultipartReader, ReadsEveryPartWhateverThePieces) {
  for (std::size_t step : {1u, 2u, 3u, 5u, 8u, 64u, 10000u}) {
    const Parsed got = read_all(kBody, step);
    ASSERT_EQ(got.error, "") << step;
    EXPECT_TRUE(got.ended) << step;
    EXPECT_EQ(got.data.at("message"),
              "Subject: hi\r\n\r\nA line with --XyZ inside, and \r\n--XY at a line start.")
        << step;
    EXPECT_EQ(got.filename.at("message"), "news.eml");
    EXPECT_EQ(got.data.at("campaign"), "spring");
    EXPECT_EQ(got.data.at("empty"), "");
  }
}

TEST(MultipartReader, ABodyMayOpenWithItsDelimiter) {
  const Parsed got =
      read_all("--b\r\nContent-Disposition: form-data; name=\"a\\\"q\"\r\n\r\nv\r\n--b--", 4, "b");
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.data.at("a\"q"), "v");
}

TEST(MultipartReader, HoldsAtMostOneFeedPlusTheDelimiter) {
  MultipartReader reader("boundary");
  reader.feed("--boundary\r\nContent-Disposition: form-data; name=\"r\"\r\n\r\n");
  ASSERT_EQ(reader.next(), MultipartReader::Event::kPartStart);
  const std::string chunk(65536, 'a');
  std::size_t data = 0;
  for (int i = 0; i < 100; ++i) {
    reader.feed(chunk);
    for (auto e = reader.next(); e == MultipartReader::Event::kData; e = reader.next()) {
      data += reader.data().size();
    }
    EXPECT_LE(reader.buffered(), chunk.size() + 20);
  }
  EXPECT_GT(data, 100u * 65536u - 20u);
}

TEST(MultipartReader, NamesWhatIsWrong) {
  const auto error_of = [](std::string body) { return read_all(body, 7).error; };
  EXPECT_NE(error_of("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--")
                .find("without Content-Disposition"),
            std::string::npos);
  EXPECT_NE(error_of("--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--")
                .find("not form-data"),
            std::string::npos);
  EXPECT_NE(error_of("--XyZ\r\nno colon here\r\n\r\n").find("malformed part header"),
            std::string::npos);
  EXPECT_NE(error_of("--XyZjunk\r\n").find("malformed boundary line"), std::string::npos);
  EXPECT_NE(error_of("--XyZ\r\n" + std::string(10000, 'h')).find("too large"), std::string::npos);
  EXPECT_NE(error_of("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\ncut off")
                .find("ended before its closing boundary"),
            std::string::npos);
  EXPECT_NE(error_of("no delimiter at all").find("ended before"), std::string::npos);
  std::string many;
  for (std::size_t i = 0; i <= MultipartReader::kMaxParts; ++i) {
    many += "--XyZ\r\nContent-Disposition: form-data; name=p" + std::to_string(i) + "\r\n\r\nv\r\n";
  }
  EXPECT_NE(error_of(many + "--XyZ--").find("more than"), std::string::npos);
}

TEST(MultipartBoundary, FromTheContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\" ; charset=x"), "a b:c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/mixed; boundary=abc"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary="), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')),
            std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"unterminated"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=a\x01"), std::nullopt);
}

}  // namespace
}  // namespace ringmta::http
