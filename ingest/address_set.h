// AddressSet: a compact set of e-mail addresses kept as 64-bit hashes (8-16 bytes per address),
// for the ingest's duplicate check and its pre-check against the suppression list.
// Membership is by hash: two different addresses collide with odds of about n / 2^64, so a caller
// that must be exact confirms a hit elsewhere (the suppression check does; the duplicate check
// accepts the odds). It may not keep the addresses themselves, nor allocate per insert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringmta::ingest {

// The hash of an address's bytes as given.
uint64_t hash_address(std::string_view address);
// The hash of an address with ASCII letters lower-cased (the suppression list's key form), without
// building the lower-case copy.
uint64_t hash_address_folded(std::string_view address);

// Open addressing with linear probing, doubled at load 3/4: 10 M addresses take 16 M slots
// (128 MB), with a peak of 192 MB while growing from 8 M slots.
class AddressSet {
 public:
  // True if inserted, false if the hash was there already.
  bool insert(uint64_t hash);
  bool contains(uint64_t hash) const;
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  void grow();
  std::vector<uint64_t> slots_;  // 0 = empty (a hash of 0 is stored as 1)
  std::size_t size_ = 0;
};

}  // namespace ringmta::ingest
