// Byte layout of the storage keys: big-endian integers, QueueKey bounds, message ids, partitions.
// Big-endian so that RocksDB's bytewise order equals numeric order.
//
// It may not: touch RocksDB, allocate ids, or know about record contents (see codec.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/queue.h"

namespace ringmta::storage::keys {

constexpr std::size_t kQueueKeySize = 17;

void put_u32_be(std::string& out, uint32_t v);
void put_u64_be(std::string& out, uint64_t v);
uint32_t get_u32_be(std::string_view bytes);  // bytes.size() >= 4
uint64_t get_u64_be(std::string_view bytes);  // bytes.size() >= 8

// Appends the 17 bytes of key (QueueKey::encode without a new string).
void put_queue_key(std::string& out, const QueueKey& key);

// messages CF key: the id as 8 bytes big-endian.
std::string message_key(MessageId id);
// The smallest key of a partition (1 byte); the exclusive upper bound is partition_start(p + 1).
std::string partition_start(unsigned partition);
// The smallest key of (partition, domain) (5 bytes).
std::string domain_start(uint8_t partition, uint32_t domain);
// The exclusive upper bound of (partition, domain)'s keys: the next domain's start, or for the
// last domain id the next partition's.
std::string domain_end(uint8_t partition, uint32_t domain);

}  // namespace ringmta::storage::keys
