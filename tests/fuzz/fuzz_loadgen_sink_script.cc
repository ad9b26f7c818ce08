// libFuzzer target: random `--script` specs into SinkScript::parse (newline-separated specs).
// Checks that parsing never crashes, that accepted scripts hold in-range values, and that find()
// on every parsed domain returns that domain's script. It may not touch sockets or files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "loadgen/sink_script.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> specs;
  std::size_t start = 0;
  while (start <= text.size() && specs.size() < 64) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    specs.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  auto parsed = ringmta::loadgen::SinkScript::parse(specs);
  if (!parsed) return 0;
  for (const auto& d : parsed->scripts()) {
    if (d.rcpt_4xx < 0 || d.rcpt_4xx + d.rcpt_5xx > 100 || d.data_4xx + d.data_5xx > 100) {
      std::abort();
    }
    const auto* found = parsed->find(d.domain);
    if (found == nullptr || (d.domain != "*" && found->domain != d.domain)) std::abort();
  }
  return 0;
}
