// Record and message encoding; see codec.h. Every read is bounds-checked against the input.
// It may not: trust a length or count from the input, throw, or change the v1 layout in place
// (a new layout gets a new version byte and v1 stays decodable).
#include "storage/codec.h"

#include <cstdint>
#include <limits>

namespace ringmta::storage::codec {
namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

void put_strings(std::string& out, std::span<const std::string> v) {
  put_varint(out, v.size());
  for (const auto& s : v) put_string(out, s);
}

// A cursor over untrusted bytes; the first failure sticks and names what was being read.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool varint(uint64_t& v, const char* what) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail(what, "truncated varint");
      const auto byte = static_cast<uint8_t>(in_[pos_++]);
      if (shift == 63 && byte > 1) return fail(what, "varint overflows 64 bits");
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return fail(what, "varint too long");
  }

  bool u32(uint32_t& v, const char* what) {
    uint64_t x = 0;
    if (!varint(x, what)) return false;
    if (x > std::numeric_limits<uint32_t>::max()) return fail(what, "value exceeds 32 bits");
    v = static_cast<uint32_t>(x);
    return true;
  }

  bool i64(int64_t& v, const char* what) {
    uint64_t x = 0;
    if (!varint(x, what)) return false;
    v = unzigzag(x);
    return true;
  }

  bool string(std::string& s, const char* what) {
    uint64_t len = 0;
    if (!varint(len, what)) return false;
    if (len > in_.size() - pos_) return fail(what, "length exceeds the remaining bytes");
    s.assign(in_.substr(pos_, static_cast<std::size_t>(len)));
    pos_ += static_cast<std::size_t>(len);
    return true;
  }

  bool strings(std::vector<std::string>& v, const char* what) {
    uint64_t n = 0;
    if (!varint(n, what)) return false;
    // Each string costs at least one byte, so a larger count is corrupt (and must not be reserved).
    if (n > in_.size() - pos_) return fail(what, "count exceeds the remaining bytes");
    v.clear();
    v.reserve(static_cast<std::size_t>(n));
    for (uint64_t i = 0; i < n; ++i) {
      v.emplace_back();
      if (!string(v.back(), what)) return false;
    }
    return true;
  }

  bool version(uint8_t expected, const char* what) {
    if (pos_ >= in_.size()) return fail(what, "empty value");
    const auto v = static_cast<uint8_t>(in_[pos_++]);
    if (v != expected) {
      return fail(what, ("unknown version " + std::to_string(v)).c_str());
    }
    return true;
  }

  bool at_end() const { return pos_ == in_.size(); }

  bool finish(const char* what) {
    if (pos_ != in_.size()) {
      return fail(what, (std::to_string(in_.size() - pos_) + " trailing bytes").c_str());
    }
    return true;
  }

  Error error(const char* kind) const {
    return make_error(std::string("corrupt ") + kind + ": " + error_);
  }

 private:
  bool fail(const char* what, const char* why) {
    if (error_.empty()) error_ = std::string(what) + ": " + why;
    return false;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

// The v1 recipient record, field by field (encode_record and encode_new_record).
void put_record(std::string& out, std::string_view address, MessageId message,
                std::span<const std::string> values, uint32_t attempts, UnixSeconds first_enqueued,
                std::string_view last_reply) {
  out.push_back(static_cast<char>(kRecordVersion));
  put_string(out, address);
  put_varint(out, message);
  put_strings(out, values);
  put_varint(out, attempts);
  put_varint(out, zigzag(first_enqueued));
  put_string(out, last_reply);
}

}  // namespace

std::string encode_record(const RecipientRecord& r) {
  std::string out;
  out.reserve(16 + r.address.size() + r.last_reply.size() + r.values.size() * 16);
  put_record(out, r.address, r.message, r.values, r.attempts, r.first_enqueued, r.last_reply);
  return out;
}

void encode_new_record(std::string& out, std::string_view address, MessageId message,
                       std::span<const std::string> values, UnixSeconds first_enqueued) {
  out.clear();
  put_record(out, address, message, values, /*attempts=*/0, first_enqueued, /*last_reply=*/{});
}

std::optional<MessageId> record_message(std::string_view bytes) {
  Reader in(bytes);
  std::string address;
  uint64_t message = 0;
  if (in.version(kRecordVersion, "version") && in.string(address, "address") &&
      in.varint(message, "message")) {
    return message;
  }
  return std::nullopt;
}

Result<RecipientRecord> decode_record(std::string_view bytes) {
  Reader in(bytes);
  RecipientRecord r;
  if (in.version(kRecordVersion, "version") && in.string(r.address, "address") &&
      in.varint(r.message, "message id") && in.strings(r.values, "merge values") &&
      in.u32(r.attempts, "attempts") && in.i64(r.first_enqueued, "first enqueued") &&
      in.string(r.last_reply, "last reply") && in.finish("record end")) {
    return r;
  }
  return in.error("recipient record");
}

std::string encode_message(const StoredMessage& m) {
  std::string out;
  out.reserve(16 + m.envelope_sender.size() + m.raw.size() + m.campaign.size());
  out.push_back(static_cast<char>(kMessageVersion));
  put_string(out, m.envelope_sender);
  put_string(out, m.raw);
  put_strings(out, m.fields);
  put_string(out, m.campaign);
  put_varint(out, zigzag(m.created));
  // Flags, only when set: messages written before they existed decode unchanged.
  const uint64_t flags = (m.is_dsn ? kMessageFlagDsn : 0) | (m.verp ? kMessageFlagVerp : 0) |
                         (m.list.any() ? kMessageFlagList : 0) |
                         (m.submitted ? kMessageFlagSubmitted : 0);
  if (flags != 0) put_varint(out, flags);
  if (m.list.any()) {
    put_string(out, m.list.unsubscribe_url);
    put_string(out, m.list.unsubscribe_mailto);
    put_string(out, m.list.list_id);
  }
  return out;
}

Result<StoredMessage> decode_message(std::string_view bytes) {
  Reader in(bytes);
  StoredMessage m;
  uint64_t flags = 0;
  bool has_flags = false;
  if (in.version(kMessageVersion, "version") && in.string(m.envelope_sender, "envelope sender") &&
      in.string(m.raw, "raw template") && in.strings(m.fields, "merge fields") &&
      in.string(m.campaign, "campaign") && in.i64(m.created, "created") &&
      ((has_flags = !in.at_end()) == false || in.varint(flags, "flags")) &&
      ((flags & kMessageFlagList) == 0 ||
       (in.string(m.list.unsubscribe_url, "unsubscribe URL") &&
        in.string(m.list.unsubscribe_mailto, "unsubscribe address") &&
        in.string(m.list.list_id, "List-Id"))) &&
      in.finish("message end")) {
    // Flags are written only when set, and only known ones.
    constexpr uint64_t kKnown =
        kMessageFlagDsn | kMessageFlagVerp | kMessageFlagList | kMessageFlagSubmitted;
    if ((has_flags && flags == 0) || (flags & ~kKnown) != 0) {
      return make_error("corrupt stored message: unknown flags " + std::to_string(flags));
    }
    m.is_dsn = (flags & kMessageFlagDsn) != 0;
    m.verp = (flags & kMessageFlagVerp) != 0;
    m.submitted = (flags & kMessageFlagSubmitted) != 0;
    return m;
  }
  return in.error("stored message");
}

std::string encode_suppression(const SuppressionEntry& e) {
  std::string out;
  out.push_back(static_cast<char>(kSuppressionVersion));
  put_string(out, e.category);
  put_string(out, e.reason);
  put_string(out, e.campaign);
  put_varint(out, zigzag(e.since));
  return out;
}

Result<SuppressionEntry> decode_suppression(std::string_view address, std::string_view bytes) {
  Reader in(bytes);
  SuppressionEntry e;
  e.address = address;
  if (in.version(kSuppressionVersion, "version") && in.string(e.category, "category") &&
      in.string(e.reason, "reason") && in.string(e.campaign, "campaign") &&
      in.i64(e.since, "since") && in.finish("entry end")) {
    return e;
  }
  return in.error("suppression entry");
}

std::string encode_failure(const FailureRecord& r) {
  std::string out;
  out.push_back(static_cast<char>(kFailureVersion));
  put_string(out, r.category);
  put_varint(out, r.hard ? 1 : 0);
  put_string(out, r.reply);
  put_varint(out, zigzag(r.time));
  return out;
}

Result<FailureRecord> decode_failure(std::string_view campaign, std::string_view recipient,
                                     std::string_view bytes) {
  Reader in(bytes);
  FailureRecord r;
  r.campaign = campaign;
  r.recipient = recipient;
  uint64_t hard = 0;
  if (in.version(kFailureVersion, "version") && in.string(r.category, "category") &&
      in.varint(hard, "hard") && in.string(r.reply, "reply") && in.i64(r.time, "time") &&
      in.finish("record end")) {
    if (hard > 1) return make_error("corrupt failure record: hard flag " + std::to_string(hard));
    r.hard = hard == 1;
    return r;
  }
  return in.error("failure record");
}

}  // namespace ringmta::storage::codec
