// HttpRequestParser implementation (RFC 9112 message syntax, the subset a GET needs).
#include "http/request_parser.h"

#include <algorithm>
#include <cctype>

#include "util/strings.h"

namespace ringmta::http {
namespace {

bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool has_token(std::string_view list, std::string_view token) {
  std::string l = lower(list);
  std::string_view rest(l);
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    if (trim(rest.substr(0, comma)) == token) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

void HttpRequestParser::feed(std::string_view data) {
  if (rejection_) return;
  buffer_.append(data);
  // The caller drains next() after each feed, so more than one maximal head plus one read
  // means a head that never ends.
  if (buffer_.size() > max_buffered_) reject(431, "request head too large");
}

void HttpRequestParser::reject(int status, std::string reason) {
  rejection_ = HttpRejection{status, std::move(reason)};
  buffer_.clear();
  streaming_ = Streaming::kNone;
}

std::optional<HttpRequest> HttpRequestParser::next() {
  if (rejection_ || in_body()) return std::nullopt;
  // Leading empty lines before a request line are ignored (RFC 9112 §2.2).
  std::size_t skip = 0;
  while (skip < buffer_.size() && (buffer_[skip] == '\r' || buffer_[skip] == '\n')) ++skip;
  if (skip > 0) buffer_.erase(0, skip);
  std::size_t line_end = buffer_.find('\n');
  if (line_end == std::string::npos) {
    if (buffer_.size() > kMaxRequestLine) reject(414, "request line too long");
    return std::nullopt;
  }
  if (line_end > kMaxRequestLine) {
    reject(414, "request line too long");
    return std::nullopt;
  }
  // The head's end is looked for only where a head may end: a large body behind it is not
  // searched again at every read (that made a 60 MB upload quadratic).
  const std::string_view head_zone =
      std::string_view(buffer_).substr(0, line_end + kMaxHeaderBytes + 4);
  std::size_t end = head_zone.find("\n\r\n", line_end > 0 ? line_end - 1 : 0);
  std::size_t end_lf = head_zone.find("\n\n", line_end > 0 ? line_end - 1 : 0);
  std::size_t head_end = std::string::npos, consumed = 0;
  if (end != std::string::npos && (end_lf == std::string::npos || end < end_lf)) {
    head_end = end + 1;
    consumed = end + 3;
  } else if (end_lf != std::string::npos) {
    head_end = end_lf + 1;
    consumed = end_lf + 2;
  }
  if (head_end == std::string::npos) {
    if (buffer_.size() - line_end > kMaxHeaderBytes) reject(431, "request headers too large");
    return std::nullopt;
  }
  if (head_end - line_end > kMaxHeaderBytes + 1) {
    reject(431, "request headers too large");
    return std::nullopt;
  }
  uint64_t body_length = 0;
  bool chunked = false;
  auto req = parse_head(std::string_view(buffer_).substr(0, head_end), body_length, chunked);
  if (!req) return std::nullopt;
  if (req->streamed) {
    buffer_.erase(0, consumed);
    streaming_ = chunked ? Streaming::kChunkSize : Streaming::kLength;
    body_left_ = chunked ? 0 : body_length;
    streamed_total_ = 0;
    trailer_bytes_ = 0;
    const std::string* expect = req->header("expect");
    continue_due_ = expect != nullptr && iequals(*expect, "100-continue") &&
                    (chunked || body_length > buffer_.size());
    return req;
  }
  if (buffer_.size() < consumed + body_length) {  // the body is on its way
    buffer_.reserve(consumed + body_length);      // once, not a copy at every doubling
    const std::string* expect = req->header("expect");
    if (expect != nullptr && iequals(*expect, "100-continue") && !continue_sent_) {
      continue_due_ = continue_sent_ = true;
    }
    return std::nullopt;
  }
  req->body = buffer_.substr(consumed, body_length);
  buffer_.erase(0, consumed + body_length);
  continue_sent_ = false;
  return req;
}

HttpRequestParser::BodyStatus HttpRequestParser::read_body(std::string& piece) {
  if (rejection_) return BodyStatus::kFailed;
  if (streaming_ == Streaming::kLength) {
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(body_left_, buffer_.size()));
    piece.append(buffer_, 0, n);
    buffer_.erase(0, n);
    body_left_ -= n;
    streamed_total_ += n;
    if (body_left_ > 0) return BodyStatus::kMore;
    streaming_ = Streaming::kNone;
    return BodyStatus::kEnd;
  }
  if (streaming_ == Streaming::kNone) return BodyStatus::kEnd;
  return read_chunked(piece);
}

HttpRequestParser::BodyStatus HttpRequestParser::read_chunked(std::string& piece) {
  std::size_t at = 0;  // consumed of buffer_, erased once at the end
  BodyStatus status = BodyStatus::kMore;
  while (status == BodyStatus::kMore) {
    const std::string_view rest = std::string_view(buffer_).substr(at);
    if (streaming_ == Streaming::kChunkData) {
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(body_left_, rest.size()));
      piece.append(rest.substr(0, n));
      at += n;
      body_left_ -= n;
      streamed_total_ += n;
      if (body_left_ > 0) break;
      streaming_ = Streaming::kChunkDataEnd;
      continue;
    }
    const std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      const std::size_t limit =
          streaming_ == Streaming::kTrailers ? kMaxHeaderBytes - trailer_bytes_ : kMaxChunkLine;
      if (rest.size() > limit) reject(400, "chunk size line or trailer too long");
      break;
    }
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at += nl + 1;
    if (streaming_ == Streaming::kChunkDataEnd) {
      if (!line.empty()) reject(400, "chunk data longer than its size");
      streaming_ = Streaming::kChunkSize;
    } else if (streaming_ == Streaming::kTrailers) {
      trailer_bytes_ += nl + 1;
      if (trailer_bytes_ > kMaxHeaderBytes) reject(400, "chunked trailers too large");
      if (line.empty()) {
        streaming_ = Streaming::kNone;
        status = BodyStatus::kEnd;
      }
    } else {  // kChunkSize: 1*HEXDIG [ chunk-ext ]
      if (nl > kMaxChunkLine) {
        reject(400, "chunk size line too long");
        break;
      }
      const std::string_view size = line.substr(0, line.find_first_of("; \t"));
      if (size.empty() || size.size() > 15 ||
          !std::all_of(size.begin(), size.end(), [](char c) { return std::isxdigit(c); })) {
        reject(400, "malformed chunk size");
        break;
      }
      body_left_ = std::stoull(std::string(size), nullptr, 16);
      if (body_left_ > max_streamed_ - streamed_total_) {
        reject(413, "request body larger than " + std::to_string(max_streamed_) + " bytes");
        break;
      }
      streaming_ = body_left_ == 0 ? Streaming::kTrailers : Streaming::kChunkData;
    }
    if (rejection_) break;
  }
  if (rejection_) return BodyStatus::kFailed;
  buffer_.erase(0, at);
  return status;
}

std::optional<HttpRequest> HttpRequestParser::parse_head(std::string_view head,
                                                         uint64_t& body_length, bool& chunked) {
  HttpRequest req;
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  if (lines.empty()) {
    reject(400, "empty request");
    return std::nullopt;
  }
  // request-line = method SP request-target SP HTTP-version
  std::string_view rl = lines[0];
  std::size_t sp1 = rl.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      rl.find(' ', sp2 + 1) != std::string_view::npos) {
    reject(400, "malformed request line");
    return std::nullopt;
  }
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = rl.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) {
    reject(400, "malformed method");
    return std::nullopt;
  }
  if (target.empty() || target.front() != '/' ||
      std::any_of(target.begin(), target.end(),
                  [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    reject(400, "malformed request target");
    return std::nullopt;
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    reject(400, "unsupported HTTP version");
    return std::nullopt;
  }
  req.method = method;
  req.target = target;
  req.path = target.substr(0, target.find('?'));
  req.minor_version = version[7] - '0';
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      reject(400, "obsolete header folding");
      return std::nullopt;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), is_tchar)) {
      reject(400, "malformed header field");
      return std::nullopt;
    }
    std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(),
                    [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; })) {
      reject(400, "control character in a header value");
      return std::nullopt;
    }
    if (req.headers.size() >= kMaxHeaders) {
      reject(431, "too many header fields");
      return std::nullopt;
    }
    req.headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
  }
  if (req.minor_version >= 1 && req.header("host") == nullptr) {
    reject(400, "HTTP/1.1 request without Host");
    return std::nullopt;
  }
  req.streamed = stream_policy_ && stream_policy_(req);
  const uint64_t max_body = req.streamed ? max_streamed_ : max_body_;
  chunked = false;
  if (const std::string* te = req.header("transfer-encoding")) {
    if (!req.streamed) {
      reject(413, "chunked request bodies are not accepted here");
      return std::nullopt;
    }
    // Only chunked alone, and never with a Content-Length (a request smuggling vector).
    if (!iequals(*te, "chunked") || req.header("content-length") != nullptr) {
      reject(400, "Transfer-Encoding other than chunked, or with Content-Length");
      return std::nullopt;
    }
    chunked = true;
  }
  body_length = 0;
  if (const std::string* cl = req.header("content-length")) {
    if (cl->empty() || !std::all_of(cl->begin(), cl->end(), ::isdigit)) {
      reject(400, "malformed Content-Length");
      return std::nullopt;
    }
    std::string_view digits = *cl;
    digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size()));
    if (digits.size() > 19 || (!digits.empty() && std::stoull(std::string(digits)) > max_body)) {
      reject(413, "request body larger than " + std::to_string(max_body) + " bytes");
      return std::nullopt;
    }
    body_length = digits.empty() ? 0 : std::stoull(std::string(digits));
  }
  const std::string* conn = req.header("connection");
  req.keep_alive = req.minor_version >= 1 ? !(conn && has_token(*conn, "close"))
                                          : (conn && has_token(*conn, "keep-alive"));
  return req;
}

std::string_view http_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 507:
      return "Insufficient Storage";
    default:
      return "Error";
  }
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, bool head_only, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += http_reason(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nCache-Control: no-store\r\nConnection: ";
  out += keep_alive ? "keep-alive" : "close";
  out += "\r\n";
  out += extra_headers;
  out += "\r\n";
  if (!head_only) out += body;
  return out;
}

}  // namespace ringmta::http
