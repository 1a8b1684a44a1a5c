#pragma once
// The bank's state machine: an append-only list of transactions with ids 1..n,
// a balance, which transactions were voided, and the idempotency keys seen.
//
// Writes are two-phase so that the server can answer only after the journal is
// durable. stage_*() validates against everything staged so far and appends the
// new transaction as *staged*; mark_durable() makes a prefix visible to readers;
// discard_staged() forgets everything not yet durable (after a disk failure).
// Readers (get, list, balance) only ever see durable transactions.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bank/key_index.hpp"
#include "bank/money.hpp"
#include "bank/result.hpp"

namespace bank {

inline constexpr std::size_t key_bytes_max = 64;

struct Transaction {
  std::uint64_t id = 0;
  std::int64_t created_at_s = 0;
  Money amount;
  std::uint64_t voids_id = 0;  // The transaction this one reverses; 0 when none.
  std::string key;             // The idempotency key it was created with; empty when none.

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// "id=7 created_at=1745529640 amount=$-12.50", plus " voids=3" for a reversal.
std::string format_transaction(const Transaction& transaction);
void append_transaction_line(std::string& out, const Transaction& transaction);

// A key is 1..key_bytes_max bytes of printable ASCII without spaces.
Status validate_key(std::string_view key);

struct StagedWrite {
  std::uint64_t id = 0;
  // True when the key was seen before: nothing new was staged, and id names the
  // transaction recorded the first time.
  bool replayed_by_key = false;
};

class Ledger {
 public:
  // Validates and stages a create. now_s is the server's wall clock.
  Result<StagedWrite> stage_create(Money amount, std::int64_t now_s, std::string_view key);
  // Validates and stages a void of target_id. An id that no reader can see yet
  // yields StagedWrite{.id = 0}, so the caller can answer "Transaction not
  // found" exactly like the original.
  Result<StagedWrite> stage_void(std::uint64_t target_id, std::int64_t now_s, std::string_view key);

  // Makes every staged transaction with id <= through_id durable and visible.
  void mark_durable(std::uint64_t through_id);
  // Forgets every staged, not yet durable transaction.
  void discard_staged();

  // Recovery: room for about this many transactions, so that rebuilding a
  // large ledger does not reallocate as it grows.
  void reserve(std::size_t transactions);
  // A hint for recovery: a transaction with this key comes soon.
  void prefetch_key(std::string_view key) const { keys_.prefetch(key); }
  // Recovery: applies a transaction read back from the journal as durable.
  // Fails, naming the rule, when the record cannot follow the ledger so far.
  Status replay(Transaction transaction);

  // Readers: durable state only.
  const Transaction* get(std::uint64_t id) const;
  std::span<const Transaction> list() const;
  // The LIST_TRANSACTIONS reply for the durable ledger: its lines joined by
  // '\n'. Kept up to date as transactions become durable, so a LIST costs a copy.
  const std::string& list_text() const { return list_text_; }
  Money balance() const { return balance_durable_; }

  // Staged or durable, for the write path.
  const Transaction* get_any(std::uint64_t id) const;
  std::uint64_t durable_count() const { return durable_count_; }
  std::uint64_t staged_last_id() const { return transactions_.size(); }
  bool is_durable(std::uint64_t id) const { return id <= durable_count_; }

  // Checks every invariant from scratch; aborts on a broken one. O(n): tests
  // and recovery call it, not the hot path.
  void check_invariants() const;

 private:
  std::int64_t next_created_at(std::int64_t now_s) const;
  Status validate_void(std::uint64_t target_id) const;
  // key_recorded: keys_ holds its key already.
  void append_staged(Transaction transaction, bool key_recorded = false);

  std::vector<Transaction> transactions_;  // transactions_[i].id == i + 1
  std::uint64_t durable_count_ = 0;
  Money balance_durable_;
  Money balance_staged_;  // Including staged transactions.
  // No floor before the first transaction: a clock before 1970 (or one the
  // epochalypse bug wrapped) shows as it is.
  std::int64_t created_at_last_s_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t created_at_last_durable_s_ = std::numeric_limits<std::int64_t>::min();
  // Reversal id per voided transaction id. std::map, not unordered: nothing
  // here may depend on hash iteration order.
  std::map<std::uint64_t, std::uint64_t> voided_by_;
  KeyIndex keys_;
  // The key of a transaction the index holds.
  KeyIndex::KeyOf key_of() const {
    return {this, [](const void* ledger, std::uint64_t id) -> std::string_view {
              return static_cast<const Ledger*>(ledger)->transactions_[id - 1].key;
            }};
  }
  std::string list_text_;
};

}  // namespace bank
