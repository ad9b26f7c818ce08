// UnsubscribeEndpoint (see endpoint.h).
#include "unsubscribe/endpoint.h"

#include <array>

#include "storage/records.h"

namespace ringmta::unsubscribe {
namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string page(std::string_view title, std::string_view text, bool button) {
  std::string html =
      "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width\"><title>";
  html.append(title).append(
      "</title></head><body style=\"font-family:sans-serif;max-width:32em;"
      "margin:3em auto\"><h1>");
  html.append(title).append("</h1><p>").append(text).append("</p>");
  if (button) {
    html.append(
        "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
        "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>");
  }
  html.append("</body></html>\n");
  return html;
}

// RFC 8058 §3.2: the body is the form field List-Unsubscribe=One-Click (among others, possibly).
bool one_click(std::string_view body) {
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t end = std::min(body.find('&', pos), body.size());
    std::string_view field = body.substr(pos, end - pos);
    while (!field.empty() && (field.back() == '\r' || field.back() == '\n')) field.remove_suffix(1);
    if (field == "List-Unsubscribe=One-Click") return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

Result<bool> UnsubscribeEndpoint::record(std::string_view token, std::string_view how,
                                         UnixSeconds now) {
  auto claims = tokens_->verify(token);
  if (!claims) return false;
  storage::SuppressionList list(queue_);
  const std::array<std::string, 1> address{claims->address};
  auto present = list.contains(address);
  if (!present) return present.error();
  if (present->front()) {
    if (on_unsubscribed_) on_unsubscribed_(claims->address);
    return true;
  }
  const std::array<storage::SuppressionEntry, 1> entry{
      storage::SuppressionEntry{.address = claims->address,
                                .category = "unsubscribe",
                                .reason = std::string(how),
                                .campaign = claims->campaign,
                                .since = now}};
  if (auto ok = list.add(entry); !ok) return ok.error();
  unsubscribed_.fetch_add(1, std::memory_order_relaxed);
  if (on_unsubscribed_) on_unsubscribed_(claims->address);
  return true;
}

EndpointAnswer UnsubscribeEndpoint::handle(std::string_view method, std::string_view path,
                                           std::string_view body, UnixSeconds now) {
  std::string_view token = path.substr(kPathPrefix.size());
  if (method == "GET" || method == "HEAD") {
    auto claims = tokens_->verify(token);
    if (!claims) {
      return {400, "text/html; charset=utf-8",
              page("Not a valid link", "This unsubscribe link is not valid.", false)};
    }
    return {200, "text/html; charset=utf-8",
            page("Unsubscribe", "Stop sending mail to <b>" + html_escape(claims->address) + "</b>?",
                 true)};
  }
  if (method != "POST") return {405, "text/plain; charset=utf-8", "only GET and POST\n"};
  if (!one_click(body)) {
    return {400, "text/plain; charset=utf-8",
            "the body must be List-Unsubscribe=One-Click (RFC 8058)\n"};
  }
  auto recorded = record(token, "one-click unsubscribe (RFC 8058)", now);
  if (!recorded) {
    // Not recorded: an error status, so the mailbox provider tries again later.
    return {500, "text/plain; charset=utf-8", "could not record the unsubscribe; try again\n"};
  }
  if (!*recorded) return {400, "text/plain; charset=utf-8", "not a valid unsubscribe link\n"};
  return {200, "text/html; charset=utf-8",
          page("Unsubscribed", "You will get no more mail from this list.", false)};
}

}  // namespace ringmta::unsubscribe
