// TtlCache: the resolver's per-shard answer cache — entries expire at an absolute time on the
// caller's clock, and the size is bounded (expired entries are swept first, then the oldest-
// inserted are dropped). Also the TTL rules (clamps, negative caching, brief failure caching).
//
// Single-threaded and clock-free (the caller passes now), so it is unit-tested with plain values.
// It may not do I/O or know about c-ares.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include "dns/mx_policy.h"
#include "util/time.h"

namespace ringmta::dns {

struct CacheTtls {
  uint32_t min_ttl = 60;                // positive answers are kept at least this long (s)
  uint32_t max_ttl = 86400;             // and at most this long
  uint32_t default_negative_ttl = 300;  // NXDOMAIN/NODATA without a SOA
  uint32_t max_negative_ttl = 3600;     // NXDOMAIN/NODATA cap (RFC 2308 suggests 1-3 hours)
  uint32_t failure_ttl = 30;            // SERVFAIL, timeout, ...: 0 disables failure caching
};

// How long (seconds) to keep an outcome with this status and DNS TTL; 0 = do not cache.
inline uint32_t cache_seconds(LookupStatus status, uint32_t ttl, const CacheTtls& t) {
  switch (status) {
    case LookupStatus::kOk:
      return std::clamp(ttl, t.min_ttl, std::max(t.min_ttl, t.max_ttl));
    case LookupStatus::kNoData:
    case LookupStatus::kNxDomain:
      return std::clamp(ttl, std::min(t.min_ttl, t.max_negative_ttl), t.max_negative_ttl);
    case LookupStatus::kInvalidName:
    case LookupStatus::kCancelled:
      return 0;
    default:
      return t.failure_ttl;
  }
}

template <class V>
class TtlCache {
 public:
  explicit TtlCache(std::size_t max_entries)
      : max_entries_(std::max<std::size_t>(1, max_entries)) {}

  // The live value for key, or nullptr (an expired entry is removed).
  const V* find(const std::string& key, Millis now) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (it->second.expires <= now) {
      map_.erase(it);
      return nullptr;
    }
    return &it->second.value;
  }

  void insert(const std::string& key, V value, uint32_t seconds, Millis now) {
    if (seconds == 0) return;
    if (map_.size() >= max_entries_ && map_.find(key) == map_.end()) make_room(now);
    Millis expires = now + static_cast<Millis>(seconds) * 1000;
    auto [it, inserted] = map_.insert_or_assign(key, Entry{std::move(value), expires});
    if (inserted) order_.push_back(key);
    if (order_.size() > 2 * max_entries_ + 16) rebuild_order();
  }

  std::size_t size() const { return map_.size(); }

 private:
  struct Entry {
    V value;
    Millis expires;
  };

  void make_room(Millis now) {
    // Sweep expired entries; if that frees less than a tenth, drop the oldest-inserted.
    std::erase_if(map_, [&](const auto& kv) { return kv.second.expires <= now; });
    std::size_t target = max_entries_ - max_entries_ / 10 - 1;
    while (map_.size() > target && !order_.empty()) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }

  // order_ may name keys already expired or re-inserted; rebuilding it keeps it bounded (the
  // insertion order is lost, which only makes eviction less fair).
  void rebuild_order() {
    order_.clear();
    for (const auto& kv : map_) order_.push_back(kv.first);
  }

  std::size_t max_entries_;
  std::unordered_map<std::string, Entry> map_;
  std::deque<std::string> order_;  // insertion order, for eviction
};

}  // namespace ringmta::dns
