// VERP encoding and decoding (see verp.h).
#include "message/verp.h"

#include <charconv>

namespace ringmta::message {

bool verp_capable(std::string_view sender) {
  const std::size_t at = sender.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  const std::string_view local = sender.substr(0, at);
  return local.find('+') == std::string_view::npos && local.find('"') == std::string_view::npos;
}

std::optional<std::string> verp_encode(std::string_view sender, uint64_t message_id,
                                       std::string_view recipient) {
  const std::size_t rat = recipient.rfind('@');
  if (!verp_capable(sender) || rat == std::string_view::npos) return std::nullopt;
  const std::size_t at = sender.rfind('@');
  std::string out(sender.substr(0, at));
  out += "+m";
  out += std::to_string(message_id);
  out += '-';
  out += recipient.substr(0, rat);
  out += '=';
  out += recipient.substr(rat + 1);
  out += sender.substr(at);
  return out;
}

std::optional<VerpTag> verp_decode(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view local = address.substr(0, at);
  const std::size_t plus = local.find('+');
  if (plus == std::string_view::npos || plus == 0) return std::nullopt;
  std::string_view tag = local.substr(plus + 1);
  if (tag.size() < 2 || (tag[0] != 'm' && tag[0] != 'M')) return std::nullopt;
  tag.remove_prefix(1);
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(tag.data(), tag.data() + tag.size(), id);
  if (ec != std::errc() || end == tag.data() || end == tag.data() + tag.size() || *end != '-') {
    return std::nullopt;
  }
  tag.remove_prefix(static_cast<std::size_t>(end - tag.data()) + 1);
  const std::size_t eq = tag.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == tag.size()) return std::nullopt;
  VerpTag out;
  out.sender = std::string(local.substr(0, plus)) + std::string(address.substr(at));
  out.message_id = id;
  out.recipient = std::string(tag.substr(0, eq)) + "@" + std::string(tag.substr(eq + 1));
  return out;
}

}  // namespace ringmta::message
