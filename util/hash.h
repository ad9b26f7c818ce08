// Stable 64-bit hashing of bytes: FNV-1a, then SplitMix64's finaliser (FNV-1a's low bits are
// weak; tables index by them, and rendezvous hashing compares whole values). The same on every
// build and machine, unlike std::hash: what is hashed on one node may be compared on another.
// Not for anything an attacker must not steer (no key).
#pragma once

#include <cstdint>
#include <string_view>

namespace ringmta {

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

// FNV-1a over `bytes`, continuing from `h` (kFnvOffset to start); `fold` maps each byte first.
template <class Fold>
constexpr uint64_t fnv1a(std::string_view bytes, uint64_t h, Fold fold) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(fold(c));
    h *= 1099511628211ULL;
  }
  return h;
}
constexpr uint64_t fnv1a(std::string_view bytes, uint64_t h = kFnvOffset) {
  return fnv1a(bytes, h, [](char c) { return c; });
}

// SplitMix64's finaliser: every input bit reaches every output bit.
constexpr uint64_t avalanche(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace ringmta
