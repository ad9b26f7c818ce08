// CampaignUpload: the multipart/form-data body of `POST /api/v1/campaigns`, for lists of any size
// (`curl -F message=@news.eml -F recipients=@list.csv -F campaign=spring-2027 ...`), read into what
// queueing needs — the same CampaignRequest as the JSON body, but with the recipients streamed to a
// sink (the API's spool file) as they arrive instead of held.
//
//   message              the RFC 5322 text with merge fields (at most max_message bytes)
//   recipients           the CSV as `send` reads it (a header row with an "email" column); any size
//   campaign, sender, unsubscribe_url, unsubscribe_mailto, list_id
//                        text, as the JSON request's fields of the same names
//   verp, ignore_suppression, new_campaign
//                        "true" or "false" (also 1/0, yes/no, on/off)
//
// Parts may come in any order; a field given twice, an unknown part name, or a malformed body is
// an error naming the field. Sans-I/O: fed the body, it writes the recipients' bytes to the sink
// and returns the request or the first error with its HTTP status (400 for the body's fault, 413
// for a message too large, the sink's status when it fails: 507 for a full disk).
// It may not: queue anything, touch files itself, or know about sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/multipart.h"
#include "service/campaign_request.h"
#include "util/result.h"

namespace ringmta::service {

struct UploadError {
  int status = 400;
  RequestError error;
};

class CampaignUpload {
 public:
  static constexpr std::size_t kMaxField = 4096;  // a text field's bytes
  using Sink = std::function<Result<void>(std::string_view bytes)>;

  CampaignUpload(std::string boundary, std::size_t max_message, Sink recipients);

  // A piece of the body as it arrives; an error ends the upload.
  std::optional<UploadError> consume(std::string_view piece);
  // The body is whole: the request (its csv empty: the recipients went to the sink), or what is
  // missing or wrong.
  std::optional<UploadError> finish();
  CampaignRequest& request() { return request_; }
  uint64_t recipient_bytes() const { return recipient_bytes_; }

 private:
  enum class Target { kNone, kMessage, kRecipients, kText };
  std::optional<UploadError> start_part(const http::MultipartPart& part);
  std::optional<UploadError> end_part();
  std::optional<UploadError> fail(int status, std::string field, std::string message) const;

  http::MultipartReader reader_;
  std::size_t max_message_;
  Sink sink_;
  CampaignRequest request_;
  Target target_ = Target::kNone;
  std::string name_;               // of the part being read
  std::string text_;               // a text field's value while it arrives
  std::vector<std::string> seen_;  // the part names given so far
  uint64_t recipient_bytes_ = 0;
};

}  // namespace ringmta::service
