// CampaignUpload: a multipart campaign read into the request with the recipients streamed to the
// sink, fields checked and named, and the sink's failure answered with its status.
#include <gtest/gtest.h>

#include "service/campaign_upload.h"

namespace ringmta::service {
namespace {

std::string part(std::string_view name, std::string_view value, std::string_view filename = {}) {
  std::string out = "--B\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"";
  if (!filename.empty()) out += "; filename=\"" + std::string(filename) + "\"";
  return out + "\r\n\r\n" + std::string(value) + "\r\n";
}

const std::string kMessage = "From: a@example.org\r\nSubject: Hi {{name}}\r\n\r\nHello\r\n";

struct Outcome {
  std::optional<UploadError> error;
  std::string sunk;
  CampaignRequest request;
};

Outcome upload(const std::string& body, std::size_t step = 13, std::size_t max_message = 1000,
               bool sink_fails = false) {
  Outcome out;
  CampaignUpload up("B", max_message, [&](std::string_view bytes) -> Result<void> {
    if (sink_fails) return make_error("cannot write /spool/x.csv: No space left on device");
    out.sunk.append(bytes);
    return {};
  });
  for (std::size_t i = 0; i < body.size() && !out.error; i += step) {
    out.error = up.consume(std::string_view(body).substr(i, step));
  }
  if (!out.error) out.error = up.finish();
  out.request = up.request();
  return out;
}

TEST(CampaignUpload, ReadsTheMessageTheOptionsAndStreamsTheRecipients) {
  std::string csv = "email,name\r\n";
  for (int i = 0; i < 2000; ++i) csv += "r" + std::to_string(i) + "@example.net,R" + "\r\n";
  const std::string body = part("recipients", csv, "list.csv") + part("message", kMessage) +
                           part("campaign", "spring-2027") + part("sender", "b@example.org") +
                           part("verp", "true") + part("ignore_suppression", "0") +
                           part("list_id", "News <news.example.org>") + "--B--\r\n";
  for (std::size_t step : {1u, 100u, 100000u}) {
    const Outcome got = upload(body, step);
    ASSERT_FALSE(got.error) << got.error->error.field << ": " << got.error->error.message;
    EXPECT_EQ(got.sunk, csv);
    EXPECT_EQ(got.request.message, kMessage);
    EXPECT_EQ(got.request.campaign, "spring-2027");
    EXPECT_EQ(got.request.sender, "b@example.org");
    EXPECT_TRUE(got.request.verp);
    EXPECT_FALSE(got.request.ignore_suppression);
    EXPECT_EQ(got.request.list.list_id, "News <news.example.org>");
    EXPECT_TRUE(got.request.csv.empty());
  }
}

TEST(CampaignUpload, NamesTheFieldAtFault) {
  const std::string recipients = part("recipients", "email\r\na@example.net");
  const std::string message = part("message", kMessage);
  const auto fault = [](const std::string& body) {
    const Outcome got = upload(body);
    return got.error ? std::to_string(got.error->status) + " " + got.error->error.field + ": " +
                           got.error->error.message
                     : std::string("none");
  };
  EXPECT_EQ(fault(recipients + "--B--"), "400 message: missing: the RFC 5322 message to send");
  EXPECT_EQ(fault(message + "--B--"), "400 recipients: missing: the CSV of recipients");
  EXPECT_EQ(fault(message + part("recipients", "") + "--B--"),
            "400 recipients: empty: nothing to send");
  EXPECT_EQ(fault(message + message + recipients + "--B--"), "400 message: given twice");
  EXPECT_NE(fault(message + recipients + part("colour", "x") + "--B--")
                .find("400 colour: unknown field (known: message, recipients"),
            std::string::npos);
  EXPECT_EQ(fault(message + recipients + part("verp", "maybe") + "--B--"),
            "400 verp: not a flag: give true or false");
  EXPECT_EQ(fault(message + recipients + part("sender", "a@b\r\nBcc: x@y") + "--B--"),
            "400 sender: a line break in a one-line field");
  EXPECT_NE(fault(message + recipients + part("campaign", std::string(5000, 'c')) + "--B--")
                .find("400 campaign: longer than"),
            std::string::npos);
  EXPECT_NE(fault(message + recipients)
                .find("400 : malformed multipart/form-data body: the body "
                      "ended before its closing boundary"),
            std::string::npos);
  EXPECT_EQ(fault(message + recipients + "--B--"), "none");
}

TEST(CampaignUpload, AMessageOverTheLimitIs413AndAFailingSinkIsItsError) {
  const Outcome big = upload(part("message", std::string(2000, 'm')) + "--B--", 64, 1000);
  ASSERT_TRUE(big.error);
  EXPECT_EQ(big.error->status, 413);
  EXPECT_EQ(big.error->error.field, "message");
  const Outcome full =
      upload(part("message", kMessage) + part("recipients", "email\r\na@example.net") + "--B--", 13,
             1000, true);
  ASSERT_TRUE(full.error);
  EXPECT_EQ(full.error->status, 507);
  EXPECT_EQ(full.error->error.field, "recipients");
  EXPECT_NE(full.error->error.message.find("No space left on device"), std::string::npos);
}

}  // namespace
}  // namespace ringmta::service
