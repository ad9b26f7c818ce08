// MultipartReader: a sans-I/O reader of multipart/form-data bodies (RFC 7578 over RFC 2046
// §5.1), for uploads streamed through the HTTP listeners (`curl -F recipients=@list.csv`). Fed the
// body in pieces of any size, it yields events: a part starts (its name, filename and type), a
// piece of its data, it ends; the closing delimiter ends the body. A part's data is handed on as it
// arrives, never held whole: at most one feed plus the delimiter's length is buffered.
// Bounded: part headers beyond kMaxPartHead or more than kMaxParts parts fail; the preamble and the
// epilogue are skipped; a body that ends before the closing delimiter fails at finish().
// It may not: do I/O, know what a part means, or decode Content-Transfer-Encoding (RFC 7578 §4.7
// deprecates it; a part is its bytes).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringmta::http {

// The boundary parameter of a Content-Type "multipart/form-data; boundary=..." (quoted or not);
// nothing when the type is another or the boundary is missing or invalid (1-70 characters).
std::optional<std::string> multipart_boundary(std::string_view content_type);

struct MultipartPart {
  std::string name;          // Content-Disposition: form-data; name="..."
  std::string filename;      // its filename parameter, "" for none
  std::string content_type;  // "" for none (text/plain by default)
};

class MultipartReader {
 public:
  static constexpr std::size_t kMaxPartHead = 8 * 1024;
  static constexpr std::size_t kMaxParts = 64;

  enum class Event { kNeedMore, kPartStart, kData, kPartEnd, kEnd, kFailed };

  explicit MultipartReader(std::string boundary);

  void feed(std::string_view bytes);
  // The next event: call until kNeedMore (feed more), kEnd or kFailed (error() says why).
  // kPartStart: part() is the new part; kData: data() is a piece of its bytes, valid until the
  // next call.
  Event next();
  // The body ended: true if it ended after the closing delimiter, else error() says why.
  bool finish();

  const MultipartPart& part() const { return part_; }
  std::string_view data() const { return data_; }
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return buffer_.size(); }

 private:
  enum class State { kPreamble, kAfterDelimiter, kHead, kData, kEpilogue, kFailed };
  Event fail(std::string why);
  bool parse_head(std::string_view head);

  std::string delimiter_;  // CRLF "--" boundary
  std::string buffer_;
  std::string data_;
  State state_ = State::kPreamble;
  MultipartPart part_;
  std::size_t parts_ = 0;
  std::string error_;
};

}  // namespace ringmta::http
