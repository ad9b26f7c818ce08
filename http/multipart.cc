// MultipartReader implementation: a delimiter search over a buffer of at most one feed plus the
// delimiter's length, and the part heads' Content-Disposition and Content-Type.
#include "http/multipart.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "util/strings.h"

namespace ringmta::http {
namespace {

using Parameters = std::vector<std::pair<std::string, std::string>>;

// `; name=value; name="quoted \" value"` after a header value's first item; false if malformed.
bool parse_parameters(std::string_view rest, Parameters& out) {
  for (;;) {
    rest = trim(rest);
    if (rest.empty()) return true;
    if (rest.front() != ';') return false;
    rest = trim(rest.substr(1));
    if (rest.empty()) return true;  // a trailing ';'
    const std::size_t eq = rest.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    std::string name = lower(trim(rest.substr(0, eq)));
    rest = trim(rest.substr(eq + 1));
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      std::size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value += rest[i];
      }
      if (i >= rest.size()) return false;  // unterminated
      rest.remove_prefix(i + 1);
    } else {
      const std::size_t end = std::min(rest.find(';'), rest.size());
      value = std::string(trim(rest.substr(0, end)));
      rest.remove_prefix(end);
    }
    out.emplace_back(std::move(name), std::move(value));
  }
}

bool is_bchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return false;
  if (std::isalnum(u) != 0) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semicolon = std::min(content_type.find(';'), content_type.size());
  if (!iequals(trim(content_type.substr(0, semicolon)), "multipart/form-data")) {
    return std::nullopt;
  }
  Parameters parameters;
  if (!parse_parameters(content_type.substr(semicolon), parameters)) return std::nullopt;
  for (const auto& [name, value] : parameters) {
    if (name != "boundary") continue;
    if (value.empty() || value.size() > 70 || value.back() == ' ' ||
        !std::all_of(value.begin(), value.end(), is_bchar)) {
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

MultipartReader::MultipartReader(std::string boundary)
    : delimiter_("\r\n--" + boundary),
      // A body may open with the delimiter itself: the CRLF before it is the reader's own.
      buffer_("\r\n") {}

void MultipartReader::feed(std::string_view bytes) {
  if (state_ == State::kEpilogue || state_ == State::kFailed) return;
  buffer_.append(bytes);
}

MultipartReader::Event MultipartReader::fail(std::string why) {
  state_ = State::kFailed;
  error_ = std::move(why);
  buffer_.clear();
  return Event::kFailed;
}

bool MultipartReader::finish() {
  if (state_ == State::kEpilogue) return true;
  if (state_ != State::kFailed) fail("the body ended before its closing boundary");
  return false;
}

MultipartReader::Event MultipartReader::next() {
  data_.clear();
  // What of the buffer cannot be the start of a delimiter: all but its last delimiter - 1 bytes.
  const auto settled = [this] {
    return buffer_.size() >= delimiter_.size() ? buffer_.size() - (delimiter_.size() - 1) : 0;
  };
  switch (state_) {
    case State::kPreamble: {
      const std::size_t at = buffer_.find(delimiter_);
      if (at == std::string::npos) {
        buffer_.erase(0, settled());
        return Event::kNeedMore;
      }
      buffer_.erase(0, at + delimiter_.size());
      state_ = State::kAfterDelimiter;
      return next();
    }
    case State::kAfterDelimiter: {
      if (buffer_.size() < 2) return Event::kNeedMore;
      if (buffer_.starts_with("--")) {
        state_ = State::kEpilogue;
        buffer_.clear();
        return Event::kEnd;
      }
      const std::size_t crlf = buffer_.find("\r\n");
      if (crlf == std::string::npos) {
        if (buffer_.size() > 1024) return fail("a boundary line that does not end");
        return Event::kNeedMore;
      }
      // Transport padding (RFC 2046 §5.1.1) may follow the boundary.
      if (!std::all_of(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(crlf),
                       is_blank)) {
        return fail("malformed boundary line");
      }
      buffer_.erase(0, crlf + 2);
      state_ = State::kHead;
      return next();
    }
    case State::kHead: {
      std::size_t head_end = 0, consumed = 2;  // a part without header lines
      if (!buffer_.starts_with("\r\n")) {
        head_end = buffer_.find("\r\n\r\n");
        consumed = head_end + 4;
      }
      if (head_end == std::string::npos) {
        if (buffer_.size() > kMaxPartHead) return fail("a part's headers are too large");
        return Event::kNeedMore;
      }
      if (head_end > kMaxPartHead) return fail("a part's headers are too large");
      if (++parts_ > kMaxParts) {
        return fail("more than " + std::to_string(kMaxParts) + " parts");
      }
      if (!parse_head(std::string_view(buffer_).substr(0, head_end))) return Event::kFailed;
      buffer_.erase(0, consumed);
      state_ = State::kData;
      return Event::kPartStart;
    }
    case State::kData: {
      const std::size_t at = buffer_.find(delimiter_);
      if (at == 0) {
        buffer_.erase(0, delimiter_.size());
        state_ = State::kAfterDelimiter;
        return Event::kPartEnd;
      }
      const std::size_t take = at == std::string::npos ? settled() : at;
      if (take == 0) return Event::kNeedMore;
      data_.assign(buffer_, 0, take);
      buffer_.erase(0, take);
      return Event::kData;
    }
    case State::kEpilogue:
      buffer_.clear();
      return Event::kEnd;
    case State::kFailed:
      break;
  }
  return Event::kFailed;
}

bool MultipartReader::parse_head(std::string_view head) {
  part_ = MultipartPart{};
  bool disposition = false;
  while (!head.empty()) {
    const std::size_t crlf = head.find("\r\n");
    const std::string_view line = head.substr(0, crlf);
    head.remove_prefix(crlf == std::string_view::npos ? head.size() : crlf + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      fail("malformed part header \"" + std::string(line.substr(0, 80)) + "\"");
      return false;
    }
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-type")) {
      part_.content_type = std::string(value);
      continue;
    }
    if (!iequals(name, "content-disposition")) continue;
    const std::size_t semicolon = std::min(value.find(';'), value.size());
    Parameters parameters;
    if (!iequals(trim(value.substr(0, semicolon)), "form-data") ||
        !parse_parameters(value.substr(semicolon), parameters)) {
      fail("a part whose Content-Disposition is not form-data with parameters");
      return false;
    }
    for (auto& [key, text] : parameters) {
      if (key == "name") {
        part_.name = std::move(text);
        disposition = true;
      } else if (key == "filename") {
        part_.filename = std::move(text);
      }
    }
  }
  if (!disposition) {
    fail("a part without Content-Disposition: form-data; name=\"...\"");
    return false;
  }
  return true;
}

}  // namespace ringmta::http
