// The flags that say what message a send (or a render) sends: an RFC 5322 file (--message), or the
// parts of one for message/builder.h to put together (--text, --html, --attach, --inline,
// --subject, --from, --to), and what its copies carry (--unsubscribe-url, --unsubscribe-mailto,
// --list-id, --verp). Registration and loading only.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::cli {

struct MessageOptions {
  std::string message_path;
  std::string text_path, html_path;
  std::vector<std::string> attachments, inline_images;
  std::string subject, from, to = "{{email}}";
  // What every copy carries besides the message: the list fields, one envelope Sender each.
  storage::ListFields list;
  bool verp = false;
};

void add_message_options(CLI::App& sub, MessageOptions& options);

struct LoadedMessageText {
  std::string raw;   // RFC 5322 text, merge fields allowed
  std::string name;  // how errors name it: the file, or "the built message"
};
// --message's file, or the message built from the parts; errors say which flag is wrong.
Result<LoadedMessageText> load_message(const MessageOptions& options);

}  // namespace ringmta::cli
