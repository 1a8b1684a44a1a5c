#pragma once
// Idempotency key -> transaction id, for the ledger: open addressing with
// linear probing over a flat array of {hash, id} slots. The keys themselves
// live in the transactions, so a lookup costs one cache miss for the slot and
// one for the transaction whose hash matches, and no key is stored twice.
// Looked up, inserted and erased by key, never iterated: no order leaks out.

#include <cstdint>
#include <string_view>
#include <vector>

namespace bank {

class KeyIndex {
 public:
  // The key of the transaction with this id (one the index holds): a
  // function and its context, made afresh by the owner at each call (so that
  // a moved owner never hands out a stale pointer).
  struct KeyOf {
    const void* context;
    std::string_view (*key)(const void* context, std::uint64_t id);
    std::string_view operator()(std::uint64_t id) const { return key(context, id); }
  };

  // Room for this many keys without growing.
  void reserve(std::size_t keys);
  // A hint: starts loading the slot where key would be, so that a find or
  // insert of it soon after does not wait for memory.
  void prefetch(std::string_view key) const;
  // The id recorded for key, or 0.
  std::uint64_t find(std::string_view key, const KeyOf& key_of) const;
  // Records key -> id (id > 0); false, and nothing changed, if key is there already.
  bool insert(std::string_view key, std::uint64_t id, const KeyOf& key_of);
  // Forgets key; false if it was not there.
  bool erase(std::string_view key, const KeyOf& key_of);
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t id = 0;  // 0: empty.
  };
  static std::uint64_t hash_of(std::string_view key);
  // The slot holding key, or the empty slot where it would go.
  std::size_t locate(std::string_view key, std::uint64_t hash, const KeyOf& key_of) const;
  void grow_to(std::size_t capacity);

  std::vector<Slot> slots_;  // A power of two in size; at most half full.
  std::size_t size_ = 0;
};

}  // namespace bank
