// DNS message parser implementation: bounded reads, backwards-only compression pointers, RFC 2308
// negative TTLs. It may not do I/O or trust a count or length field without checking it.
#include "dns/dns_message.h"

#include <algorithm>
#include <cstring>

namespace ringmta::dns {
namespace {

constexpr std::size_t kMaxMessage = 65535;
constexpr std::size_t kMaxName = 255;
constexpr int kMaxPointers = 64;
constexpr int kMaxCnameChain = 16;

class Reader {
 public:
  Reader(const uint8_t* data, std::size_t len) : data_(data), len_(len) {}

  bool u8(uint8_t& out) {
    if (pos_ + 1 > len_) return false;
    out = data_[pos_++];
    return true;
  }
  bool u16(uint16_t& out) {
    if (pos_ + 2 > len_) return false;
    out = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& out) {
    if (pos_ + 4 > len_) return false;
    out = static_cast<uint32_t>(data_[pos_]) << 24 | static_cast<uint32_t>(data_[pos_ + 1]) << 16 |
          static_cast<uint32_t>(data_[pos_ + 2]) << 8 | static_cast<uint32_t>(data_[pos_ + 3]);
    pos_ += 4;
    return true;
  }
  bool bytes(uint8_t* out, std::size_t n) {
    if (pos_ + n > len_) return false;
    std::memcpy(out, data_ + pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(std::size_t n) {
    if (pos_ + n > len_) return false;
    pos_ += n;
    return true;
  }

  // A possibly compressed name. Each pointer must point before the start of the run of labels
  // that contains it, so positions strictly decrease across jumps and reading always ends.
  bool name(std::string& out) {
    out.clear();
    std::size_t p = pos_;
    std::size_t run_start = pos_;
    bool jumped = false;
    int pointers = 0;
    std::size_t wire_len = 1;  // the terminating root label
    for (;;) {
      if (p >= len_) return false;
      uint8_t c = data_[p];
      if ((c & 0xC0) == 0xC0) {
        if (p + 1 >= len_) return false;
        std::size_t target = static_cast<std::size_t>(c & 0x3F) << 8 | data_[p + 1];
        if (target >= run_start || ++pointers > kMaxPointers) return false;
        if (!jumped) pos_ = p + 2;
        jumped = true;
        p = run_start = target;
        continue;
      }
      if ((c & 0xC0) != 0) return false;  // extended label types (RFC 6891 §5) are not used
      if (c == 0) {
        if (!jumped) pos_ = p + 1;
        return true;
      }
      if (p + 1 + c > len_) return false;
      wire_len += c + 1u;
      if (wire_len > kMaxName) return false;
      if (!out.empty()) out.push_back('.');
      for (std::size_t i = p + 1; i < p + 1 + c; ++i) {
        uint8_t b = data_[i];
        if (b >= 'A' && b <= 'Z') b = static_cast<uint8_t>(b - 'A' + 'a');
        bool plain = (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_';
        if (plain) {
          out.push_back(static_cast<char>(b));
        } else {  // \DDD keeps "a.b" as one label from matching two, and fails normalize_domain
          out.push_back('\\');
          out.push_back(static_cast<char>('0' + b / 100));
          out.push_back(static_cast<char>('0' + b / 10 % 10));
          out.push_back(static_cast<char>('0' + b % 10));
        }
      }
      p += 1 + c;
    }
  }

  std::size_t pos() const { return pos_; }
  void seek(std::size_t p) { pos_ = p; }

 private:
  const uint8_t* data_;
  std::size_t len_;
  std::size_t pos_ = 0;
};

bool kept_type(uint16_t type) {
  return type == kTypeA || type == kTypeAaaa || type == kTypeMx || type == kTypeCname ||
         type == kTypeSoa || type == kTypeTxt || type == kTypePtr;
}

// One resource record; `keep` says whether it is worth returning.
bool read_record(Reader& r, DnsRecord& rec, bool& keep) {
  uint16_t rdlength = 0;
  if (!r.name(rec.owner) || !r.u16(rec.type) || !r.u16(rec.klass) || !r.u32(rec.ttl) ||
      !r.u16(rdlength)) {
    return false;
  }
  if (rec.ttl & 0x80000000u) rec.ttl = 0;
  std::size_t start = r.pos();
  std::size_t end = start + rdlength;
  if (!r.skip(rdlength)) return false;
  keep = rec.klass == kClassIn && kept_type(rec.type);
  if (!keep) return true;
  r.seek(start);
  bool ok = true;
  switch (rec.type) {
    case kTypeA:
      ok = rdlength == 4 && r.bytes(rec.address.data(), 4);
      break;
    case kTypeAaaa:
      ok = rdlength == 16 && r.bytes(rec.address.data(), 16);
      break;
    case kTypeMx:
      ok = r.u16(rec.preference) && r.name(rec.target) && r.pos() <= end;
      break;
    case kTypeCname:
    case kTypePtr:
      ok = r.name(rec.target) && r.pos() <= end;
      break;
    case kTypeTxt:
      // <character-string>s (a length byte, then that many bytes) filling the RDATA exactly.
      while (ok && r.pos() < end) {
        uint8_t n = 0;
        ok = r.bytes(&n, 1) && r.pos() + n <= end;
        if (ok) {
          std::size_t at = rec.text.size();
          rec.text.resize(at + n);
          ok = r.bytes(reinterpret_cast<uint8_t*>(rec.text.data() + at), n);
        }
      }
      break;
    case kTypeSoa: {
      std::string rname;
      uint32_t serial, refresh, retry, expire;
      ok = r.name(rec.target) && r.name(rname) && r.u32(serial) && r.u32(refresh) && r.u32(retry) &&
           r.u32(expire) && r.u32(rec.soa_minimum) && r.pos() <= end;
      break;
    }
  }
  r.seek(end);
  return ok;
}

bool same_name(std::string_view a, std::string_view b) {
  return a == b;
}

}  // namespace

Result<DnsMessage> parse_dns_message(const uint8_t* data, std::size_t len) {
  if (len < 12) return make_error("DNS message shorter than its header");
  if (len > kMaxMessage) return make_error("DNS message longer than 65535 bytes");
  Reader r(data, len);
  DnsMessage m;
  uint16_t flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
  if (!r.u16(m.id) || !r.u16(flags) || !r.u16(qd) || !r.u16(an) || !r.u16(ns) || !r.u16(ar)) {
    return make_error("truncated DNS header");
  }
  m.response = (flags & 0x8000) != 0;
  m.truncated = (flags & 0x0200) != 0;
  m.rcode = static_cast<uint8_t>(flags & 0x000F);
  if (qd != 1) return make_error("DNS answer without exactly one question");
  uint16_t qclass = 0;
  if (!r.name(m.qname) || !r.u16(m.qtype) || !r.u16(qclass)) {
    return make_error("malformed DNS question");
  }
  // Each record takes at least 11 bytes, so the loops are bounded by the input length as well.
  for (int section = 0; section < 2; ++section) {
    uint16_t count = section == 0 ? an : ns;
    std::vector<DnsRecord>& out = section == 0 ? m.answers : m.authority;
    for (uint16_t i = 0; i < count; ++i) {
      DnsRecord rec;
      bool keep = false;
      if (!read_record(r, rec, keep)) {
        if (m.truncated) return m;  // a truncated answer may end mid-record
        return make_error(section == 0 ? "malformed DNS answer record"
                                       : "malformed DNS authority record");
      }
      if (keep) out.push_back(std::move(rec));
    }
  }
  (void)ar;  // the additional section is not trusted (RFC 5452 §6 style): never used
  return m;
}

Interpretation interpret_answer(const DnsMessage& message, std::string_view qname, uint16_t qtype) {
  Interpretation out;
  if (!message.response || message.qtype != qtype || !same_name(message.qname, qname)) {
    out.status = LookupStatus::kBadResponse;
    return out;
  }
  auto negative_ttl = [&]() -> std::optional<uint32_t> {
    for (const DnsRecord& rec : message.authority) {
      if (rec.type == kTypeSoa) return std::min(rec.ttl, rec.soa_minimum);
    }
    return std::nullopt;
  };
  switch (message.rcode) {
    case 0:
      break;
    case 3:
      out.status = LookupStatus::kNxDomain;
      out.ttl = negative_ttl();
      return out;
    case 5:
      out.status = LookupStatus::kRefused;
      return out;
    default:  // SERVFAIL, FORMERR, NOTIMP, ...: try again later
      out.status = LookupStatus::kServFail;
      return out;
  }
  std::vector<std::string_view> chain{qname};
  uint32_t ttl = UINT32_MAX;
  for (int i = 0; i < kMaxCnameChain; ++i) {
    auto cname =
        std::find_if(message.answers.begin(), message.answers.end(), [&](const DnsRecord& rec) {
          return rec.type == kTypeCname && same_name(rec.owner, chain.back());
        });
    if (cname == message.answers.end()) break;
    if (std::find(chain.begin(), chain.end(), cname->target) != chain.end()) break;  // a loop
    ttl = std::min(ttl, cname->ttl);
    chain.push_back(cname->target);
  }
  for (const DnsRecord& rec : message.answers) {
    if (rec.type != qtype) continue;
    if (std::find(chain.begin(), chain.end(), rec.owner) == chain.end()) continue;
    ttl = std::min(ttl, rec.ttl);
    out.records.push_back(rec);
  }
  if (out.records.empty()) {
    out.status = LookupStatus::kNoData;
    out.ttl = negative_ttl();
    return out;
  }
  out.status = LookupStatus::kOk;
  out.ttl = ttl;
  return out;
}

std::string reverse_name(const IpAddress& address) {
  std::string name;
  if (address.family == AF_INET) {
    for (int i = 3; i >= 0; --i)
      name += std::to_string(address.bytes[static_cast<std::size_t>(i)]) + ".";
    return name + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    const uint8_t b = address.bytes[static_cast<std::size_t>(i)];
    name.push_back(kHex[b & 15]);
    name.push_back('.');
    name.push_back(kHex[b >> 4]);
    name.push_back('.');
  }
  return name + "ip6.arpa";
}

TextOutcome text_outcome_from_answer(const uint8_t* data, std::size_t len, std::string_view qname,
                                     uint16_t qtype, uint32_t default_negative_ttl) {
  TextOutcome out;
  Result<DnsMessage> m = parse_dns_message(data, len);
  if (!m.ok()) {
    out.detail = m.error().message;
    return out;
  }
  Interpretation in = interpret_answer(*m, qname, qtype);
  out.status = in.status;
  out.ttl = in.ttl.value_or(in.status == LookupStatus::kOk ? 0 : default_negative_ttl);
  for (const DnsRecord& rec : in.records)
    out.texts.push_back(qtype == kTypeTxt ? rec.text : rec.target);
  return out;
}

MxOutcome mx_outcome_from_answer(const uint8_t* data, std::size_t len, std::string_view qname,
                                 uint32_t default_negative_ttl) {
  MxOutcome out;
  Result<DnsMessage> m = parse_dns_message(data, len);
  if (!m.ok()) {
    out.status = LookupStatus::kBadResponse;
    out.detail = m.error().message;
    return out;
  }
  Interpretation in = interpret_answer(*m, qname, kTypeMx);
  out.status = in.status;
  out.ttl = in.ttl.value_or(in.status == LookupStatus::kOk ? 0 : default_negative_ttl);
  for (const DnsRecord& rec : in.records) {
    out.records.push_back(MxRecord{rec.preference, rec.target, rec.ttl});
  }
  return out;
}

FamilyOutcome address_outcome_from_answer(const uint8_t* data, std::size_t len,
                                          std::string_view qname, uint16_t qtype,
                                          uint32_t default_negative_ttl) {
  FamilyOutcome out;
  Result<DnsMessage> m = parse_dns_message(data, len);
  if (!m.ok()) return out;
  Interpretation in = interpret_answer(*m, qname, qtype);
  out.status = in.status;
  out.ttl = in.ttl.value_or(in.status == LookupStatus::kOk ? 0 : default_negative_ttl);
  for (const DnsRecord& rec : in.records) {
    IpAddress a;
    a.family = qtype == kTypeA ? AF_INET : AF_INET6;
    std::memcpy(a.bytes.data(), rec.address.data(), qtype == kTypeA ? 4 : 16);
    out.records.push_back(AddressRecord{a, rec.ttl});
  }
  return out;
}

}  // namespace ringmta::dns
