// MessageBuilder: an RFC 5322 / MIME message made from the parts a user has — a text and/or an
// HTML body, attachments, inline images, a subject and a sender — for users who do not write MIME
// (`send --html FILE --text FILE --attach FILE --subject ... --from ...`). The result is a message
// template like any other: merge fields in the subject, the To: and both bodies stay fields (the
// bodies are quoted-printable, which the MIME-aware merge decodes and encodes again).
// The structure: one body part alone; text and HTML as multipart/alternative; HTML with inline
// images as multipart/related (each image's Content-ID is its file name, for <img src="cid:...">);
// attachments around it all as multipart/mixed. It may not read files (the caller gives bytes).
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace ringmta::message {

struct BuiltPart {
  std::string name;  // the file's name (no directories): filename / Content-ID
  std::string bytes;
};

struct MessageParts {
  std::string from;  // "News <news@example.org>" or an address
  std::string to = "{{email}}";
  std::string subject;                   // UTF-8; merge fields allowed
  std::string text;                      // UTF-8 plain text ("" = none)
  std::string html;                      // UTF-8 HTML ("" = none)
  std::vector<BuiltPart> inline_images;  // need html
  std::vector<BuiltPart> attachments;
};

// Errors: no body, inline images without HTML, an empty subject or from, a name with CR/LF.
Result<std::string> build_message(const MessageParts& parts);

// The Content-Type for a file name by its extension (application/octet-stream when unknown).
std::string content_type_for(const std::string& name);

}  // namespace ringmta::message
