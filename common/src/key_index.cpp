#include "bank/key_index.hpp"

#include <bit>

#include "bank/assert.hpp"

namespace bank {

namespace {
constexpr std::size_t capacity_least = 16;
}  // namespace

std::uint64_t KeyIndex::hash_of(std::string_view key) {
  // FNV-1a, then a finalizer: the same on every platform and in every run.
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : key) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  return hash;
}

void KeyIndex::reserve(std::size_t keys) {
  const std::size_t wanted = std::bit_ceil(std::max(capacity_least, 2 * keys));
  if (wanted > slots_.size()) grow_to(wanted);
}

void KeyIndex::prefetch(std::string_view key) const {
  if (slots_.empty()) return;
  __builtin_prefetch(&slots_[hash_of(key) & (slots_.size() - 1)]);
}

std::size_t KeyIndex::locate(std::string_view key, std::uint64_t hash, const KeyOf& key_of) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t at = hash & mask;; at = (at + 1) & mask) {
    const Slot& slot = slots_[at];
    if (slot.id == 0 || (slot.hash == hash && key_of(slot.id) == key)) return at;
  }
}

std::uint64_t KeyIndex::find(std::string_view key, const KeyOf& key_of) const {
  if (size_ == 0) return 0;
  return slots_[locate(key, hash_of(key), key_of)].id;
}

bool KeyIndex::insert(std::string_view key, std::uint64_t id, const KeyOf& key_of) {
  BANK_ASSERT(id != 0);
  if (2 * (size_ + 1) > slots_.size()) grow_to(std::max(capacity_least, 2 * slots_.size()));
  const std::uint64_t hash = hash_of(key);
  Slot& slot = slots_[locate(key, hash, key_of)];
  if (slot.id != 0) return false;
  slot = Slot{hash, id};
  ++size_;
  return true;
}

bool KeyIndex::erase(std::string_view key, const KeyOf& key_of) {
  if (size_ == 0) return false;
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = locate(key, hash_of(key), key_of);
  if (slots_[hole].id == 0) return false;
  // Backward-shift deletion: pull later entries of the run into the hole
  // when their home is not between the hole and where they sit.
  for (std::size_t at = (hole + 1) & mask; slots_[at].id != 0; at = (at + 1) & mask) {
    const std::size_t home = slots_[at].hash & mask;
    const bool stays = hole <= at ? (hole < home && home <= at) : (hole < home || home <= at);
    if (stays) continue;
    slots_[hole] = slots_[at];
    hole = at;
  }
  slots_[hole] = Slot{};
  --size_;
  return true;
}

void KeyIndex::grow_to(std::size_t capacity) {
  BANK_ASSERT(std::has_single_bit(capacity));
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  const std::size_t mask = capacity - 1;
  for (const Slot& slot : old) {
    if (slot.id == 0) continue;
    std::size_t at = slot.hash & mask;
    while (slots_[at].id != 0) at = (at + 1) & mask;  // Every key is distinct: no compare needed.
    slots_[at] = slot;
  }
}

}  // namespace bank
