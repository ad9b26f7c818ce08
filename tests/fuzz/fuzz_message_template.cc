// libFuzzer target for message::MessageTemplate: parse arbitrary bytes, then render with fixed
// values (ASCII, line breaks, dots, non-ASCII and specials for header encoding) and check the wire
// invariants (only CRLF, no unstuffed '.', ends with CRLF, accepted values within 998 a line);
// and the 7-bit copy for a server without 8BITMIME keeps them.
// It may not touch files or the network.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "message/seven_bit.h"
#include "message/template.h"

namespace {

void check_wire(const std::string& s) {
  if (s.size() < 2 || s.compare(s.size() - 2, 2, "\r\n") != 0) std::abort();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) std::abort();
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) std::abort();
    if (s[i] == '.' && i >= 2 && s[i - 1] == '\n' && s[i - 2] == '\r') {
      if (i + 1 >= s.size() || s[i + 1] != '.') std::abort();  // a line start must be stuffed
      ++i;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto t = ringmta::message::MessageTemplate::parse(raw);
  if (!t.ok()) return 0;
  static const std::string kValues[] = {
      "", ".", "x\r\n.\r\ny", "\n.\n", "plain", ".lead\rcr\n", std::string(400, 'v'),
      "." + std::string(300, 'w') + "\n",
      // Display names and subjects: encoded-words (long ones folded), quoted-strings.
      "J\xc3\xbcrgen M\xc3\xbcller", "Tom \"T\", & Co\\", std::string(150, '\xc3') + "\xbc"};
  constexpr std::size_t kNumValues = sizeof(kValues) / sizeof(kValues[0]);
  for (std::size_t round = 0; round < kNumValues; ++round) {
    std::vector<std::string> values;
    for (std::size_t i = 0; i < t->fields().size(); ++i) {
      values.push_back(kValues[(i + round) % kNumValues]);
    }
    std::string out;
    // Render even if check_values refuses: render must stay wire-safe regardless.
    const bool accepted = t->check_values(values).ok();
    t->render(out, values, "<id@example.com>", "Thu, 01 Jan 1970 00:00:00 +0000");
    check_wire(out);
    std::string seven_bit = out;
    ringmta::message::downgrade_to_seven_bit(seven_bit);
    check_wire(seven_bit);
    if (accepted) {
      // Accepted values must keep every wire line within 998 bytes (plus CRLF).
      std::size_t start = 0;
      for (std::size_t nl; (nl = out.find("\r\n", start)) != std::string::npos; start = nl + 2) {
        if (nl - start > 998) std::abort();
      }
    }
  }
  return 0;
}
