// parse_campaign_request: a SAX reader of the campaign body (see campaign_request.h). The reader
// is a small state machine over where in the document it is: the top object, one of its values,
// the recipients array, a recipient, a recipient's value. Anything else (a deeper level, a wrong
// type) ends the parse with an error naming the place.
#include "service/campaign_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "message/csv.h"
#include "util/strings.h"

namespace ringmta::service {
namespace {

using json = nlohmann::json;

enum class Where { kStart, kTop, kRecipients, kRecipient, kDone };

class CampaignReader : public nlohmann::json_sax<json> {
 public:
  explicit CampaignReader(CampaignRequest& out) : out_(out) {}

  const RequestError& error() const { return error_; }
  bool failed() const { return failed_; }

  // At the end: what must have been there.
  bool finish() {
    if (failed_) return false;
    if (!seen_message_) return fail("message", "missing: the RFC 5322 message to send");
    if (!seen_recipients_) return fail("recipients", "missing: the list of recipients");
    if (recipients_ == 0) return fail("recipients", "empty: nothing to send");
    return true;
  }

  bool null() override { return scalar(std::nullopt, "null"); }  // an empty recipient value
  bool boolean(bool value) override {
    if (where_ == Where::kTop) {
      if (key_ == "verp") return set(out_.verp, value);
      if (key_ == "ignore_suppression") return set(out_.ignore_suppression, value);
      if (key_ == "new_campaign") return set(out_.new_campaign, value);
    }
    return scalar(std::nullopt, "a boolean");
  }
  bool number_integer(number_integer_t value) override {
    return scalar(std::to_string(value), "a number");
  }
  bool number_unsigned(number_unsigned_t value) override {
    return scalar(std::to_string(value), "a number");
  }
  bool number_float(number_float_t, const string_t& text) override {
    return scalar(text, "a number");
  }
  bool string(string_t& value) override { return scalar(std::move(value), "a string"); }
  bool binary(binary_t&) override { return fail(place(), "binary values are not JSON"); }

  bool start_object(std::size_t) override {
    switch (where_) {
      case Where::kStart:
        where_ = Where::kTop;
        return true;
      case Where::kRecipients:
        where_ = Where::kRecipient;
        values_.assign(columns_.size(), std::nullopt);
        return true;
      default:
        return fail(place(), type_error("an object"));
    }
  }
  bool end_object() override {
    if (where_ == Where::kTop) {
      where_ = Where::kDone;
      return true;
    }
    // kRecipient: the recipient's row.
    where_ = Where::kRecipients;
    if (recipients_ == 0) {
      if (std::none_of(columns_.begin(), columns_.end(),
                       [](const std::string& c) { return iequals(trim(c), "email"); })) {
        return fail(recipient(), "no \"email\": the first recipient's keys are the columns");
      }
      for (std::size_t c = 0; c < columns_.size(); ++c) field(c, columns_[c]);
      end_row();
    }
    out_.row_lines.push_back(line_);
    for (std::size_t c = 0; c < columns_.size(); ++c) field(c, values_[c].value_or(""));
    end_row();
    ++recipients_;
    return true;
  }
  bool key(string_t& name) override {
    key_ = std::move(name);
    if (where_ == Where::kTop) return true;
    // kRecipient: which column.
    auto known = std::find(columns_.begin(), columns_.end(), key_);
    if (known == columns_.end()) {
      if (recipients_ > 0) {
        return fail(place(), "not a key of recipients[0]: every recipient has the same columns");
      }
      if (key_.empty()) return fail(recipient(), "a key is empty");
      columns_.push_back(key_);
      values_.emplace_back();
      column_ = columns_.size() - 1;
    } else {
      column_ = static_cast<std::size_t>(known - columns_.begin());
      if (values_[column_]) return fail(place(), "given twice");
    }
    return true;
  }
  bool start_array(std::size_t) override {
    if (where_ == Where::kTop && key_ == "recipients") {
      where_ = Where::kRecipients;
      seen_recipients_ = true;
      return true;
    }
    return fail(place(), type_error("an array"));
  }
  bool end_array() override {
    where_ = Where::kTop;  // only the recipients array is ever opened
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    if (failed_) return false;  // stopped by one of ours: keep that error
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
    if (auto colon = what.find("] "); colon != std::string::npos) what = what.substr(colon + 2);
    return fail("", "not valid JSON (byte " + std::to_string(position) + "): " + what);
  }

 private:
  // A string, number, boolean (no text) or null (nullopt) at the current place.
  bool scalar(std::optional<std::string> text, const char* type) {
    switch (where_) {
      case Where::kTop:
        return top_value(std::move(text), type);
      case Where::kRecipient:
        if (std::string_view(type) == "a boolean") {
          return fail(place(), std::string("must be a string or a number, not ") + type);
        }
        values_[column_] = text.value_or("");  // null: an empty value
        return true;
      case Where::kRecipients:
        return fail(recipient(), std::string("must be an object, not ") + type);
      default:
        return fail("", std::string("the body must be a JSON object, not ") + type);
    }
  }

  bool top_value(std::optional<std::string> text, const char* type) {
    std::string* target = key_ == "message"              ? &out_.message
                          : key_ == "campaign"           ? &out_.campaign
                          : key_ == "sender"             ? &out_.sender
                          : key_ == "unsubscribe_url"    ? &out_.list.unsubscribe_url
                          : key_ == "unsubscribe_mailto" ? &out_.list.unsubscribe_mailto
                          : key_ == "list_id"            ? &out_.list.list_id
                                                         : nullptr;
    if (target == nullptr || !text || std::string_view(type) != "a string") {
      return fail(key_, top_type_error(type));
    }
    if (key_ == "message") seen_message_ = true;
    *target = std::move(*text);
    return true;
  }

  bool set(bool& target, bool value) {
    target = value;
    return true;
  }

  std::string type_error(const char* type) const {
    if (where_ == Where::kRecipient)
      return std::string("must be a string or a number, not ") + type;
    if (where_ == Where::kTop) return top_type_error(type);
    if (where_ == Where::kStart) return std::string("the body must be a JSON object, not ") + type;
    return std::string("unexpected ") + type;
  }

  // What the top-level field key_ must be, given that it was `type`.
  std::string top_type_error(const char* type) const {
    static constexpr std::string_view kStrings[] = {
        "message", "campaign", "sender", "unsubscribe_url", "unsubscribe_mailto", "list_id"};
    static constexpr std::string_view kFlags[] = {"verp", "ignore_suppression", "new_campaign"};
    if (std::find(std::begin(kStrings), std::end(kStrings), key_) != std::end(kStrings)) {
      return std::string("must be a string, not ") + type;
    }
    if (std::find(std::begin(kFlags), std::end(kFlags), key_) != std::end(kFlags)) {
      return std::string("must be true or false, not ") + type;
    }
    if (key_ == "recipients") return std::string("must be an array of objects, not ") + type;
    return "unknown field (known: message, recipients, campaign, sender, unsubscribe_url, "
           "unsubscribe_mailto, list_id, verp, ignore_suppression, new_campaign)";
  }

  std::string recipient() const { return "recipients[" + std::to_string(recipients_) + "]"; }
  std::string place() const {
    switch (where_) {
      case Where::kTop:
        return key_;
      case Where::kRecipient:
        return recipient() + "." + key_;
      case Where::kRecipients:
        return recipient();
      default:
        return "";
    }
  }

  bool fail(std::string field, std::string message) {
    if (!failed_) error_ = RequestError{std::move(field), std::move(message)};
    failed_ = true;
    return false;
  }

  // Every field written, an empty one as "" (CsvReader skips a blank line).
  void field(std::size_t column, std::string_view value) {
    if (column > 0) out_.csv.push_back(',');
    if (value.empty()) {
      out_.csv.append("\"\"");
      return;
    }
    const std::size_t start = out_.csv.size();
    message::append_csv_field(out_.csv, value);
    line_ += static_cast<std::size_t>(
        std::count(out_.csv.begin() + static_cast<std::ptrdiff_t>(start), out_.csv.end(), '\n'));
  }
  void end_row() {
    out_.csv.push_back('\n');
    ++line_;
  }

  CampaignRequest& out_;
  Where where_ = Where::kStart;
  std::string key_;
  std::vector<std::string> columns_;
  std::vector<std::optional<std::string>> values_;  // the current recipient's, by column
  std::size_t column_ = 0;
  std::size_t recipients_ = 0;
  std::size_t line_ = 1;  // the line the next CSV row starts on
  bool seen_message_ = false;
  bool seen_recipients_ = false;
  bool failed_ = false;
  RequestError error_;
};

}  // namespace

long CampaignRequest::recipient_at_line(std::size_t line) const {
  auto it = std::lower_bound(row_lines.begin(), row_lines.end(), line);
  if (it == row_lines.end() || *it != line) return -1;
  return static_cast<long>(it - row_lines.begin());
}

ParsedCampaign parse_campaign_request(std::string_view body) {
  ParsedCampaign parsed;
  CampaignReader reader(parsed.request);
  const bool read = json::sax_parse(body, &reader);
  if (!read || !reader.finish()) {
    parsed.error = reader.failed()
                       ? reader.error()
                       : RequestError{"", "not valid JSON: the body ended before the object did"};
    parsed.request = CampaignRequest{};
    return parsed;
  }
  parsed.ok = true;
  return parsed;
}

}  // namespace ringmta::service
