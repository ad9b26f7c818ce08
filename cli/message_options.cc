// The flags that say what message a send sends (see message_options.h).
#include "cli/message_options.h"

#include <filesystem>
#include <limits>
#include <tuple>

#include "message/builder.h"
#include "util/file.h"

namespace ringmta::cli {

void add_message_options(CLI::App& sub, MessageOptions& o) {
  sub.add_option("--message", o.message_path,
                 "RFC 5322 message, {{field}} merge fields allowed (or build one: --text/--html)");
  sub.add_option("--text", o.text_path, "Build the message: its plain-text body (UTF-8)");
  sub.add_option("--html", o.html_path, "Build the message: its HTML body (UTF-8)");
  sub.add_option("--attach", o.attachments, "Build the message: attach this file (repeatable)");
  sub.add_option("--inline", o.inline_images,
                 "Build the message: an image the HTML shows as <img src=\"cid:FILE-NAME\">");
  sub.add_option("--subject", o.subject, "Build the message: its Subject (merge fields allowed)");
  sub.add_option("--from", o.from, "Build the message: its From, e.g. \"News <news@example.org>\"");
  sub.add_option("--to", o.to, "Build the message: its To (default {{email}})");
  sub.add_option("--unsubscribe-url", o.list.unsubscribe_url,
                 "One-click unsubscribe (RFC 8058) in every copy: an https:// URL with {token}, "
                 "e.g. https://news.example.org/u/{token}, that reaches the admin listener's /u/");
  sub.add_option("--unsubscribe-mailto", o.list.unsubscribe_mailto,
                 "An address for unsubscribe requests by mail (List-Unsubscribe mailto:, "
                 "`ringmta bounces ingest` reads them)");
  sub.add_option("--list-id", o.list.list_id,
                 "List-Id in every copy, e.g. \"News <news.example.org>\"");
  sub.add_flag("--verp", o.verp,
               "One envelope Sender per recipient (SENDER+mID-user=domain@...), so bounces that "
               "come back later name the recipient (`ringmta bounces ingest`)");
}

Result<LoadedMessageText> load_message(const MessageOptions& o) {
  const bool building = !o.text_path.empty() || !o.html_path.empty();
  if (!o.message_path.empty()) {
    if (building || !o.attachments.empty() || !o.inline_images.empty() || !o.subject.empty() ||
        !o.from.empty()) {
      return make_error(
          "give either --message FILE or the parts of one (--text/--html, --subject, --from, "
          "--attach), not both");
    }
    auto raw = read_file(o.message_path, "message", std::numeric_limits<std::size_t>::max());
    if (!raw) return make_error("cannot read --message: " + raw.error().message);
    return LoadedMessageText{std::move(*raw), o.message_path};
  }
  if (!building) {
    return make_error(
        "no message: give --message FILE, or --text FILE and/or --html FILE with "
        "--subject and --from");
  }
  message::MessageParts parts;
  parts.subject = o.subject;
  parts.from = o.from;
  parts.to = o.to;
  const auto read = [](const std::string& path, const char* flag) -> Result<std::string> {
    auto bytes = read_file(path, flag, std::numeric_limits<std::size_t>::max());
    if (!bytes)
      return make_error(std::string("cannot read ") + flag + ": " + bytes.error().message);
    return bytes;
  };
  if (!o.text_path.empty()) {
    auto text = read(o.text_path, "--text");
    if (!text) return text.error();
    parts.text = std::move(*text);
  }
  if (!o.html_path.empty()) {
    auto html = read(o.html_path, "--html");
    if (!html) return html.error();
    parts.html = std::move(*html);
  }
  for (const auto& [paths, flag, into] :
       {std::tuple{&o.attachments, "--attach", &parts.attachments},
        std::tuple{&o.inline_images, "--inline", &parts.inline_images}}) {
    for (const std::string& path : *paths) {
      auto bytes = read(path, flag);
      if (!bytes) return bytes.error();
      into->push_back({std::filesystem::path(path).filename().string(), std::move(*bytes)});
    }
  }
  auto built = message::build_message(parts);
  if (!built) return make_error("building the message: " + built.error().message);
  return LoadedMessageText{std::move(*built), "the built message"};
}

}  // namespace ringmta::cli
