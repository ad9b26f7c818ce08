// DKIM canonicalization (see canonicalization.h).
#include "dkim/canonicalization.h"

#include "util/strings.h"

namespace ringmta::dkim {
namespace {

std::string_view trim_trailing_wsp(std::string_view s) {
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Relaxed value: line breaks of folding removed, runs of white space one space, none at the ends.
void append_relaxed_value(std::string& out, std::string_view value) {
  bool started = false;
  bool pending_space = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;
    if (is_blank(c)) {
      pending_space = started;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    started = true;
    out.push_back(c);
  }
}

// Calls line(text) for each line of body without its CRLF; a last line without CRLF counts too.
template <class F>
void for_each_line(std::string_view body, F&& line) {
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      line(body.substr(pos));
      return;
    }
    line(body.substr(pos, eol - pos));
    pos = eol + 2;
  }
}

// A body line, relaxed: runs of white space one space, none at the end. Copied in runs: only a
// tab, a second space or white space at the end interrupts one (most lines have none).
void append_relaxed_line(std::string& out, std::string_view line) {
  std::size_t run = 0;  // start of the text not yet copied
  std::size_t i = 0;
  while (i < line.size()) {
    if (!is_blank(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == ' ' && i + 1 < line.size() && !is_blank(line[i + 1])) {
      i += 2;  // a single space inside the line stays as it is
      continue;
    }
    out.append(line.substr(run, i - run));
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i < line.size()) out.push_back(' ');
    run = i;
  }
  out.append(line.substr(run));
}

}  // namespace

SplitMessage split_message(std::string_view message) {
  SplitMessage split;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find("\r\n", pos);
    std::size_t next = eol == std::string_view::npos ? message.size() : eol + 2;
    std::string_view line = message.substr(pos, next - pos);
    if (eol == pos) {  // the empty line: the body follows
      split.body = message.substr(next);
      return split;
    }
    if (is_blank(line.front()) && !split.fields.empty()) {
      HeaderField& field = split.fields.back();
      field.text = std::string_view(field.text.data(), field.text.size() + line.size());
    } else if (std::size_t colon = line.find(':'); colon != std::string_view::npos) {
      split.fields.push_back(HeaderField{trim_trailing_wsp(line.substr(0, colon)), line});
    } else {
      split.body = message.substr(pos);  // not a header line: the header section ends here
      return split;
    }
    pos = next;
  }
  return split;
}

void append_relaxed_field(std::string& out, std::string_view name, std::string_view value) {
  for (char c : trim_trailing_wsp(name)) out.push_back(lower(c));
  out.push_back(':');
  append_relaxed_value(out, value);
}

void append_canonical_field(std::string& out, const HeaderField& field, Canon canon) {
  if (canon == Canon::kSimple) {
    out.append(field.text);
    if (!field.text.ends_with("\r\n")) out.append("\r\n");
    return;
  }
  std::size_t colon = field.text.find(':');
  append_relaxed_field(out, field.name, field.text.substr(colon + 1));
  out.append("\r\n");
}

void append_canonical_body(std::string& out, std::string_view body, Canon canon) {
  std::size_t empty_lines = 0;  // held back: they count only when a line with content follows
  bool any = false;
  for_each_line(body, [&](std::string_view line) {
    // Relaxed: white space at a line's end is ignored, so a line of only white space is empty.
    bool empty = canon == Canon::kSimple ? line.empty()
                                         : line.find_first_not_of(" \t") == std::string_view::npos;
    if (empty) {
      ++empty_lines;
      return;
    }
    for (; empty_lines > 0; --empty_lines) out.append("\r\n");
    if (canon == Canon::kSimple) {
      out.append(line);
    } else {
      append_relaxed_line(out, line);
    }
    out.append("\r\n");
    any = true;
  });
  // A simple body with no content is one CRLF; a relaxed one is nothing (RFC 6376 §3.4.3-4).
  if (!any && canon == Canon::kSimple) out.append("\r\n");
}

}  // namespace ringmta::dkim
