// List fields (see list_fields.h).
#include "unsubscribe/list_fields.h"

#include "util/strings.h"

namespace ringmta::unsubscribe {
namespace {

constexpr std::string_view kPlaceholder = "{token}";

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos ||
         s.find('\0') != std::string_view::npos;
}

}  // namespace

Result<void> check_list_fields(const storage::ListFields& f) {
  if (!f.unsubscribe_url.empty()) {
    const std::string& url = f.unsubscribe_url;
    const std::string what = "--unsubscribe-url " + url;
    if (!istarts_with(url, "https://")) {
      return make_error(what +
                        ": must be an https:// URL (RFC 8058 one-click needs HTTPS; put "
                        "ringmta's admin listener behind your HTTPS reverse proxy)");
    }
    if (url.find(kPlaceholder) == std::string::npos) {
      return make_error(what +
                        ": has no {token} (where each recipient's token goes, e.g. "
                        "https://news.example.org/u/{token})");
    }
    if (has_line_break(url) || url.find_first_of(" <>\"") != std::string::npos) {
      return make_error(what + ": spaces, quotes, '<', '>' and line breaks cannot be in a URL");
    }
  }
  if (const std::string& to = f.unsubscribe_mailto; !to.empty()) {
    std::size_t at = to.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == to.size() || has_line_break(to) ||
        to.find_first_of(" <>?\"") != std::string::npos || !is_host_name(to.substr(at + 1))) {
      return make_error("--unsubscribe-mailto " + to + ": not a plain address (user@example.org)");
    }
  }
  if (has_line_break(f.list_id)) return make_error("--list-id: no line breaks allowed");
  return {};
}

void append_list_fields(std::string& out, const storage::ListFields& f, std::string_view token) {
  if (!f.unsubscribe_url.empty() || !f.unsubscribe_mailto.empty()) {
    out.append("List-Unsubscribe: ");
    if (!f.unsubscribe_url.empty()) {
      const std::string& url = f.unsubscribe_url;
      std::size_t at = url.find(kPlaceholder);
      out.push_back('<');
      out.append(url, 0, at).append(token).append(url, at + kPlaceholder.size());
      out.push_back('>');
      if (!f.unsubscribe_mailto.empty()) out.append(",\r\n ");
    }
    if (!f.unsubscribe_mailto.empty()) {
      out.append("<mailto:").append(f.unsubscribe_mailto);
      out.append("?subject=unsubscribe%20").append(token).append(">");
    }
    out.append("\r\n");
    // RFC 8058 §3.1: the POST field goes with an HTTPS URI only.
    if (!f.unsubscribe_url.empty()) {
      out.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
  }
  if (!f.list_id.empty()) {
    out.append("List-Id: ");
    // A bare identifier gets its angle brackets (RFC 2919: phrase <list-id>).
    if (f.list_id.find('<') == std::string::npos) {
      out.append("<").append(f.list_id).append(">");
    } else {
      out.append(f.list_id);
    }
    out.append("\r\n");
  }
}

std::string token_in_request(std::string_view message) {
  std::string subject;
  bool in_subject = false;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find('\n', pos);
    std::string_view line = message.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? message.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header section
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_subject) subject.append(line);
      continue;
    }
    in_subject = subject.empty() && istarts_with(line, "subject:");
    if (in_subject) subject.assign(line.substr(8));
  }
  std::string_view words = trim(subject);
  if (!istarts_with(words, "unsubscribe")) return {};
  words = trim(words.substr(11));
  return std::string(words.substr(0, words.find_first_of(" \t")));
}

}  // namespace ringmta::unsubscribe
