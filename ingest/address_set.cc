// AddressSet and the address hashes (see address_set.h).
#include "ingest/address_set.h"

#include "util/hash.h"
#include "util/strings.h"

namespace ringmta::ingest {
namespace {

uint64_t stored_form(uint64_t hash) {
  return hash == 0 ? 1 : hash;
}

}  // namespace

uint64_t hash_address(std::string_view address) {
  return avalanche(fnv1a(address));
}

uint64_t hash_address_folded(std::string_view address) {
  return avalanche(fnv1a(address, kFnvOffset, [](char c) { return lower(c); }));
}

bool AddressSet::insert(uint64_t hash) {
  hash = stored_form(hash);
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(hash) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return false;
    if (slots_[i] == 0) {
      slots_[i] = hash;
      ++size_;
      return true;
    }
  }
}

bool AddressSet::contains(uint64_t hash) const {
  if (slots_.empty()) return false;
  hash = stored_form(hash);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(hash) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return true;
    if (slots_[i] == 0) return false;
  }
}

void AddressSet::grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
  const std::size_t mask = slots_.size() - 1;
  for (uint64_t h : old) {
    if (h == 0) continue;
    std::size_t i = static_cast<std::size_t>(h) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = h;
  }
}

}  // namespace ringmta::ingest
