// MessageBuilder: a MIME message from a text and/or HTML body, attachments and inline images (see
// builder.h). It may not read files.
#include "message/builder.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "message/header_value.h"
#include "message/transfer_encoding.h"
#include "util/strings.h"

namespace ringmta::message {
namespace {

// Boundaries start with "=_": neither quoted-printable ("=" is always followed by two hex digits
// or a line end) nor base64 can contain that, so no encoded line can pass for a delimiter.
constexpr const char* kMixed = "=_ringmta_mixed";
constexpr const char* kRelated = "=_ringmta_related";
constexpr const char* kAlternative = "=_ringmta_alternative";

// An unstructured header's text (Subject): runs of words without a merge field are written as
// they are when ASCII, else as one run of RFC 2047 encoded-words (so the blanks inside a run
// stay); a word with a merge field is left for the template, whose merge encodes the value.
std::string unstructured(std::string_view text) {
  // A non-ASCII run next to a field carries the blank between them inside its encoded-words: the
  // template then writes the value as an encoded-word too (HeaderContext::kEncodedWord), and the
  // blanks between encoded-words are not shown.
  std::string out, run;
  bool after_field = false;
  auto flush = [&](bool before_field) {
    if (run.empty()) return;
    if (!out.empty()) out.push_back(' ');
    if (has_8bit(run)) run = (after_field ? " " : "") + run + (before_field ? " " : "");
    append_header_value(out, run, HeaderContext::kUnstructured);
    run.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(i, end - i);
    if (word.find("{{") != std::string_view::npos) {
      flush(true);
      if (!out.empty()) out.push_back(' ');
      out.append(word);
      after_field = true;
    } else {
      if (!run.empty()) run.push_back(' ');
      run.append(word);
    }
    i = end;
  }
  flush(false);
  return out;
}

// "Name <addr>" with the name written as a display name must be; a bare address as it is.
std::string mailbox(std::string_view value) {
  const std::size_t open = value.rfind('<');
  if (open == std::string_view::npos) return std::string(trim(value));
  std::string_view name = trim(value.substr(0, open));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  std::string out;
  if (!name.empty()) {
    if (name.find("{{") != std::string_view::npos) {
      out.append(name);
    } else {
      append_header_value(out, name, HeaderContext::kPhrase);
    }
    out.push_back(' ');
  }
  out.append(trim(value.substr(open)));
  return out;
}

// A file name as a parameter: quoted when it is plain ASCII, else RFC 2231 (name*=utf-8''%XX).
std::string name_parameter(const char* parameter, std::string_view name) {
  const bool plain = !has_8bit(name) && name.find_first_of("\"\\") == std::string_view::npos;
  if (plain) return std::string(parameter) + "=\"" + std::string(name) + "\"";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = std::string(parameter) + "*=utf-8''";
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
        std::string_view("-._~").find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

// A part: its header lines, the blank line, its encoded body (which ends with CRLF).
std::string text_part(const char* subtype, std::string_view text) {
  std::string out = std::string("Content-Type: text/") + subtype +
                    "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  std::string body;
  append_canonical_text(body, text);
  if (body.size() >= 2 && body.ends_with("\r\n")) body.resize(body.size() - 2);
  append_quoted_printable(out, body);
  return out;
}

std::string file_part(const BuiltPart& file, bool inline_image) {
  std::string out = "Content-Type: " + content_type_for(file.name) + "; " +
                    name_parameter("name", file.name) + "\r\n";
  if (inline_image) out += "Content-ID: <" + file.name + ">\r\n";
  out += std::string("Content-Disposition: ") + (inline_image ? "inline" : "attachment") + "; " +
         name_parameter("filename", file.name) + "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  append_base64_lines(out, file.bytes);
  return out;
}

std::string multipart(const char* subtype, const char* boundary,
                      const std::vector<std::string>& parts) {
  std::string out =
      std::string("Content-Type: multipart/") + subtype + "; boundary=\"" + boundary + "\"\r\n\r\n";
  for (const std::string& part : parts) out += std::string("--") + boundary + "\r\n" + part;
  out += std::string("--") + boundary + "--\r\n";
  return out;
}

bool has_line_break(std::string_view v) {
  return v.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

std::string content_type_for(const std::string& name) {
  static constexpr std::array<std::pair<const char*, const char*>, 22> kTypes{{
      {"pdf", "application/pdf"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"svg", "image/svg+xml"},
      {"txt", "text/plain"},
      {"csv", "text/csv"},
      {"html", "text/html"},
      {"htm", "text/html"},
      {"ics", "text/calendar"},
      {"zip", "application/zip"},
      {"json", "application/json"},
      {"xml", "application/xml"},
      {"doc", "application/msword"},
      {"xls", "application/vnd.ms-excel"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"mp4", "video/mp4"},
      {"mp3", "audio/mpeg"},
  }};
  const std::size_t dot = name.rfind('.');
  if (dot != std::string::npos) {
    const std::string extension = lower(std::string_view(name).substr(dot + 1));
    for (const auto& [ext, type] : kTypes) {
      if (extension == ext) return type;
    }
  }
  return "application/octet-stream";
}

Result<std::string> build_message(const MessageParts& parts) {
  if (parts.text.empty() && parts.html.empty()) {
    return make_error("the message needs a body: --text FILE, --html FILE, or both");
  }
  if (!parts.inline_images.empty() && parts.html.empty()) {
    return make_error("inline images need an HTML body (--html) that shows them (cid:NAME)");
  }
  if (trim(parts.from).empty()) return make_error("the message needs a sender: --from");
  if (trim(parts.subject).empty()) return make_error("the message needs a --subject");
  for (const std::string_view v : {std::string_view(parts.from), std::string_view(parts.to),
                                   std::string_view(parts.subject)}) {
    if (has_line_break(v)) return make_error("a line break in --from, --to or --subject");
  }
  for (const auto* files : {&parts.attachments, &parts.inline_images}) {
    for (const BuiltPart& f : *files) {
      if (f.name.empty() || has_line_break(f.name) || f.name.find('/') != std::string::npos) {
        return make_error("an attachment needs a file name without '/' or line breaks");
      }
    }
  }
  std::string body;
  std::string html;
  if (!parts.html.empty()) {
    html = text_part("html", parts.html);
    if (!parts.inline_images.empty()) {
      std::vector<std::string> related{html};
      for (const BuiltPart& image : parts.inline_images) related.push_back(file_part(image, true));
      html = multipart("related", kRelated, related);
    }
  }
  if (!parts.text.empty() && !html.empty()) {
    body = multipart("alternative", kAlternative, {text_part("plain", parts.text), html});
  } else {
    body = html.empty() ? text_part("plain", parts.text) : html;
  }
  if (!parts.attachments.empty()) {
    std::vector<std::string> mixed{body};
    for (const BuiltPart& file : parts.attachments) mixed.push_back(file_part(file, false));
    body = multipart("mixed", kMixed, mixed);
  }
  return "From: " + mailbox(parts.from) + "\r\nTo: " + mailbox(parts.to) +
         "\r\nSubject: " + unstructured(parts.subject) + "\r\nMIME-Version: 1.0\r\n" + body;
}

}  // namespace ringmta::message
