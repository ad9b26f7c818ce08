// CampaignUpload implementation: the multipart events routed to the message, the recipients'
// sink or a text field, and the fields checked as the JSON request's are.
#include "service/campaign_upload.h"

#include <algorithm>
#include <array>
#include <utility>

#include "util/strings.h"

namespace ringmta::service {
namespace {

constexpr std::string_view kKnown =
    "message, recipients, campaign, sender, unsubscribe_url, unsubscribe_mailto, list_id, verp, "
    "ignore_suppression, new_campaign";

std::optional<bool> parse_flag(std::string_view text) {
  text = trim(text, " \t\r\n");
  for (std::string_view yes : {"true", "1", "yes", "on"}) {
    if (iequals(text, yes)) return true;
  }
  for (std::string_view no : {"false", "0", "no", "off", ""}) {
    if (iequals(text, no)) return false;
  }
  return std::nullopt;
}

}  // namespace

CampaignUpload::CampaignUpload(std::string boundary, std::size_t max_message, Sink recipients)
    : reader_(std::move(boundary)), max_message_(max_message), sink_(std::move(recipients)) {}

std::optional<UploadError> CampaignUpload::fail(int status, std::string field,
                                                std::string message) const {
  return UploadError{status, RequestError{std::move(field), std::move(message)}};
}

std::optional<UploadError> CampaignUpload::consume(std::string_view piece) {
  reader_.feed(piece);
  for (;;) {
    switch (reader_.next()) {
      case http::MultipartReader::Event::kNeedMore:
      case http::MultipartReader::Event::kEnd:
        return std::nullopt;
      case http::MultipartReader::Event::kFailed:
        return fail(400, "", "malformed multipart/form-data body: " + reader_.error());
      case http::MultipartReader::Event::kPartStart:
        if (auto bad = start_part(reader_.part())) return bad;
        break;
      case http::MultipartReader::Event::kPartEnd:
        if (auto bad = end_part()) return bad;
        break;
      case http::MultipartReader::Event::kData: {
        const std::string_view data = reader_.data();
        if (target_ == Target::kRecipients) {
          recipient_bytes_ += data.size();
          if (auto written = sink_(data); !written) {
            return fail(507, "recipients", written.error().message);
          }
        } else if (target_ == Target::kMessage) {
          if (request_.message.size() + data.size() > max_message_) {
            return fail(413, "message",
                        "larger than " + std::to_string(max_message_) + " bytes (--api-max-body)");
          }
          request_.message.append(data);
        } else {
          if (text_.size() + data.size() > kMaxField) {
            return fail(400, name_, "longer than " + std::to_string(kMaxField) + " bytes");
          }
          text_.append(data);
        }
        break;
      }
    }
  }
}

std::optional<UploadError> CampaignUpload::start_part(const http::MultipartPart& part) {
  name_ = part.name;
  if (std::find(seen_.begin(), seen_.end(), name_) != seen_.end()) {
    return fail(400, name_, "given twice");
  }
  seen_.push_back(name_);
  text_.clear();
  if (name_ == "message") {
    target_ = Target::kMessage;
  } else if (name_ == "recipients") {
    target_ = Target::kRecipients;
  } else {
    static constexpr std::array<std::string_view, 8> kText = {
        "campaign", "sender", "unsubscribe_url",    "unsubscribe_mailto",
        "list_id",  "verp",   "ignore_suppression", "new_campaign"};
    if (std::find(kText.begin(), kText.end(), name_) == kText.end()) {
      return fail(400, name_, "unknown field (known: " + std::string(kKnown) + ")");
    }
    target_ = Target::kText;
  }
  return std::nullopt;
}

std::optional<UploadError> CampaignUpload::end_part() {
  const Target target = std::exchange(target_, Target::kNone);
  if (target != Target::kText) return std::nullopt;
  if (name_ == "verp" || name_ == "ignore_suppression" || name_ == "new_campaign") {
    const auto flag = parse_flag(text_);
    if (!flag) return fail(400, name_, "not a flag: give true or false");
    (name_ == "verp"                 ? request_.verp
     : name_ == "ignore_suppression" ? request_.ignore_suppression
                                     : request_.new_campaign) = *flag;
    return std::nullopt;
  }
  // A form field's value as a browser or curl sends it: no line break belongs in any of them.
  const std::string value(trim(text_, " \t\r\n"));
  if (value.find_first_of("\r\n") != std::string::npos) {
    return fail(400, name_, "a line break in a one-line field");
  }
  std::string& into = name_ == "campaign"             ? request_.campaign
                      : name_ == "sender"             ? request_.sender
                      : name_ == "unsubscribe_url"    ? request_.list.unsubscribe_url
                      : name_ == "unsubscribe_mailto" ? request_.list.unsubscribe_mailto
                                                      : request_.list.list_id;
  into = value;
  return std::nullopt;
}

std::optional<UploadError> CampaignUpload::finish() {
  if (!reader_.finish())
    return fail(400, "", "malformed multipart/form-data body: " + reader_.error());
  if (std::find(seen_.begin(), seen_.end(), "message") == seen_.end()) {
    return fail(400, "message", "missing: the RFC 5322 message to send");
  }
  if (std::find(seen_.begin(), seen_.end(), "recipients") == seen_.end()) {
    return fail(400, "recipients", "missing: the CSV of recipients");
  }
  if (recipient_bytes_ == 0) return fail(400, "recipients", "empty: nothing to send");
  return std::nullopt;
}

}  // namespace ringmta::service
