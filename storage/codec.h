// Binary encoding of the stored values: RecipientRecord (queue CF), StoredMessage (messages CF),
// SuppressionEntry and FailureRecord (records, storage/records.h).
// Compact: a leading version byte, then varint integers and varint-length-prefixed strings.
// Decoding treats its input as untrusted: corrupt, truncated or trailing bytes give an Error,
// never a crash or an over-allocation.
//
// It may not: know key layouts (keys.h) or touch RocksDB.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "storage/queue.h"
#include "storage/records.h"
#include "util/result.h"

namespace ringmta::storage::codec {

constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kMessageVersion = 1;
constexpr uint64_t kMessageFlagDsn = 1;        // StoredMessage::is_dsn
constexpr uint64_t kMessageFlagVerp = 2;       // StoredMessage::verp
constexpr uint64_t kMessageFlagList = 4;       // StoredMessage::list follows the flags
constexpr uint64_t kMessageFlagSubmitted = 8;  // StoredMessage::submitted
constexpr uint8_t kSuppressionVersion = 1;
constexpr uint8_t kFailureVersion = 1;

std::string encode_record(const RecipientRecord& record);
// The record of a recipient just queued (no attempts, no last reply) written into out (cleared
// first): the same bytes as encode_record, without building a RecipientRecord.
void encode_new_record(std::string& out, std::string_view address, MessageId message,
                       std::span<const std::string> values, UnixSeconds first_enqueued);
Result<RecipientRecord> decode_record(std::string_view bytes);
// Only the message id of a record (the housekeeping scan): nullopt if the bytes are no record.
std::optional<MessageId> record_message(std::string_view bytes);

std::string encode_message(const StoredMessage& message);
Result<StoredMessage> decode_message(std::string_view bytes);

// The key holds the address (and campaign): the decoders are given them back.
std::string encode_suppression(const SuppressionEntry& entry);
Result<SuppressionEntry> decode_suppression(std::string_view address, std::string_view bytes);
std::string encode_failure(const FailureRecord& record);
Result<FailureRecord> decode_failure(std::string_view campaign, std::string_view recipient,
                                     std::string_view bytes);

}  // namespace ringmta::storage::codec
