// Key layout helpers, partition_of() and QueueKey's 17-byte encoding; see keys.h.
// It may not: call RocksDB or change the byte layout (that would re-key every existing queue).
#include "storage/keys.h"

#include <limits>

#include "storage/queue.h"
#include "util/strings.h"

namespace ringmta::storage {

namespace keys {

void put_u32_be(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_u64_be(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t get_u32_be(std::string_view b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

uint64_t get_u64_be(std::string_view b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

std::string message_key(MessageId id) {
  std::string k;
  put_u64_be(k, id);
  return k;
}

std::string partition_start(unsigned partition) {
  return std::string(1, static_cast<char>(static_cast<uint8_t>(partition)));
}

std::string domain_start(uint8_t partition, uint32_t domain) {
  std::string k(1, static_cast<char>(partition));
  put_u32_be(k, domain);
  return k;
}

std::string domain_end(uint8_t partition, uint32_t domain) {
  if (domain == std::numeric_limits<uint32_t>::max()) return partition_start(partition + 1u);
  return domain_start(partition, domain + 1);
}

}  // namespace keys

uint8_t partition_of(std::string_view domain) {
  // FNV-1a 64 over the lower-cased bytes: stable across runs, builds and platforms.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : domain) {
    h ^= static_cast<uint8_t>(lower(c));
    h *= 0x100000001b3ULL;
  }
  return static_cast<uint8_t>(h % kPartitions);
}

void keys::put_queue_key(std::string& out, const QueueKey& key) {
  out.push_back(static_cast<char>(key.partition));
  put_u32_be(out, key.domain);
  put_u32_be(out, key.due);
  put_u64_be(out, key.seq);
}

std::string QueueKey::encode() const {
  std::string k;
  k.reserve(keys::kQueueKeySize);
  keys::put_queue_key(k, *this);
  return k;
}

std::optional<QueueKey> QueueKey::decode(std::string_view b) {
  if (b.size() != keys::kQueueKeySize) return std::nullopt;
  QueueKey k;
  k.partition = static_cast<uint8_t>(b[0]);
  k.domain = keys::get_u32_be(b.substr(1));
  k.due = keys::get_u32_be(b.substr(5));
  k.seq = keys::get_u64_be(b.substr(9));
  return k;
}

}  // namespace ringmta::storage
