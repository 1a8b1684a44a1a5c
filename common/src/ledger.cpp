#include "bank/ledger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "bank/errors.hpp"

namespace bank {

namespace {
template <class Int>
void append_int(std::string& out, Int value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}
}  // namespace

void append_transaction_line(std::string& out, const Transaction& transaction) {
  // Hand-rolled, not fmt: a LIST reply and a recovery print one per transaction.
  out += "id=";
  append_int(out, transaction.id);
  out += " created_at=";
  append_int(out, transaction.created_at_s);
  out += " amount=$";
  append_money(out, transaction.amount);
  if (transaction.voids_id != 0) {
    out += " voids=";
    append_int(out, transaction.voids_id);
  }
}

std::string format_transaction(const Transaction& transaction) {
  std::string out;
  out.reserve(64);  // Most lines fit: one allocation, not two as the line grows.
  append_transaction_line(out, transaction);
  return out;
}

Status validate_key(std::string_view key) {
  if (key.empty()) return Error{"idempotency key is empty; write key=<text>"};
  if (key.size() > key_bytes_max) {
    return Error{
        fmt::format("idempotency key is longer than {} bytes: {}", key_bytes_max, quote_for_error(key))};
  }
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return Error{"idempotency key must be printable ASCII without spaces: " + quote_for_error(key)};
    }
  }
  return ok_status();
}

std::int64_t Ledger::next_created_at(std::int64_t now_s) const {
  // Wall clocks step backwards (NTP); created_at must not.
  return std::max(now_s, created_at_last_s_);
}

void Ledger::append_staged(Transaction transaction, bool key_recorded) {
  BANK_ASSERT(transaction.id == transactions_.size() + 1);
  BANK_ASSERT(transaction.created_at_s >= created_at_last_s_);
  const auto balance = checked_add(balance_staged_, transaction.amount);
  BANK_ASSERT(balance.has_value());
  balance_staged_ = *balance;
  created_at_last_s_ = transaction.created_at_s;
  if (transaction.voids_id != 0) {
    const bool inserted = voided_by_.emplace(transaction.voids_id, transaction.id).second;
    BANK_ASSERT(inserted);
  }
  if (!transaction.key.empty() && !key_recorded) {
    const bool inserted = keys_.insert(transaction.key, transaction.id, key_of());
    BANK_ASSERT(inserted);
  }
  transactions_.push_back(std::move(transaction));
}

Result<StagedWrite> Ledger::stage_create(Money amount, std::int64_t now_s, std::string_view key) {
  BANK_ASSERT(amount.cents >= -amount_cents_max && amount.cents <= amount_cents_max);
  if (!key.empty()) {
    if (const std::uint64_t id = keys_.find(key, key_of()); id != 0) return StagedWrite{id, true};
  }
  if (!checked_add(balance_staged_, amount)) {
    return Error{error_text::create_overflow(format_money(amount))};
  }
  Transaction transaction;
  transaction.id = transactions_.size() + 1;
  transaction.created_at_s = next_created_at(now_s);
  transaction.amount = amount;
  transaction.key = std::string(key);
  append_staged(std::move(transaction));
  return StagedWrite{transactions_.size(), false};
}

Status Ledger::validate_void(std::uint64_t target_id) const {
  const Transaction* target = get_any(target_id);
  BANK_ASSERT(target != nullptr);
  if (target->voids_id != 0) {
    return Error{error_text::reversal(target_id, target->voids_id)};
  }
  if (auto it = voided_by_.find(target_id); it != voided_by_.end()) {
    return Error{error_text::already_voided(target_id, it->second)};
  }
  return ok_status();
}

Result<StagedWrite> Ledger::stage_void(std::uint64_t target_id, std::int64_t now_s, std::string_view key) {
  if (!key.empty()) {
    if (const std::uint64_t id = keys_.find(key, key_of()); id != 0) return StagedWrite{id, true};
  }
  // A void may target a staged transaction only once it is durable: until then
  // the caller could not have learned its id from us.
  if (get(target_id) == nullptr) return StagedWrite{0, false};
  if (auto status = validate_void(target_id); !status) return status.error();
  const Transaction& target = transactions_[target_id - 1];
  const auto reversed = checked_negate(target.amount);
  BANK_ASSERT(reversed.has_value());  // |amount| <= amount_cents_max.
  if (!checked_add(balance_staged_, *reversed)) {
    return Error{error_text::void_overflow(target_id)};
  }
  Transaction transaction;
  transaction.id = transactions_.size() + 1;
  transaction.created_at_s = next_created_at(now_s);
  transaction.amount = *reversed;
  transaction.voids_id = target_id;
  transaction.key = std::string(key);
  append_staged(std::move(transaction));
  return StagedWrite{transactions_.size(), false};
}

void Ledger::mark_durable(std::uint64_t through_id) {
  BANK_ASSERT(through_id >= durable_count_);
  BANK_ASSERT(through_id <= transactions_.size());
  for (std::uint64_t id = durable_count_ + 1; id <= through_id; ++id) {
    const Transaction& transaction = transactions_[id - 1];
    const auto balance = checked_add(balance_durable_, transaction.amount);
    BANK_ASSERT(balance.has_value());
    balance_durable_ = *balance;
    created_at_last_durable_s_ = transaction.created_at_s;
    if (!list_text_.empty()) list_text_.push_back('\n');
    append_transaction_line(list_text_, transaction);
  }
  durable_count_ = through_id;
}

void Ledger::discard_staged() {
  while (transactions_.size() > durable_count_) {
    const Transaction& transaction = transactions_.back();
    if (transaction.voids_id != 0) voided_by_.erase(transaction.voids_id);
    if (!transaction.key.empty()) keys_.erase(transaction.key, key_of());
    transactions_.pop_back();
  }
  balance_staged_ = balance_durable_;
  created_at_last_s_ = created_at_last_durable_s_;
}

void Ledger::reserve(std::size_t transactions) {
  transactions_.reserve(transactions);
  list_text_.reserve(transactions * 48);  // A line is about 40 to 60 bytes.
  keys_.reserve(transactions / 2);        // Grows if more carry a key.
}

Status Ledger::replay(Transaction transaction) {
  BANK_ASSERT(durable_count_ == transactions_.size());
  if (transaction.id != transactions_.size() + 1) {
    return Error{
        fmt::format("transaction id {} where {} was expected", transaction.id, transactions_.size() + 1)};
  }
  if (transaction.created_at_s < created_at_last_s_) {
    return Error{fmt::format("transaction {} has created_at {} before the previous {}", transaction.id,
                             transaction.created_at_s, created_at_last_s_)};
  }
  if (transaction.amount.cents < -amount_cents_max || transaction.amount.cents > amount_cents_max) {
    return Error{fmt::format("transaction {} has an amount out of range", transaction.id)};
  }
  if (!transaction.key.empty()) {
    if (auto status = validate_key(transaction.key); !status) return status.error();
  }
  if (transaction.voids_id != 0) {
    if (transaction.voids_id >= transaction.id) {
      return Error{
          fmt::format("transaction {} voids a later transaction {}", transaction.id, transaction.voids_id)};
    }
    if (auto status = validate_void(transaction.voids_id); !status) return status.error();
    if (transaction.amount != checked_negate(transactions_[transaction.voids_id - 1].amount)) {
      return Error{fmt::format("transaction {} does not negate the transaction {} it voids", transaction.id,
                               transaction.voids_id)};
    }
  }
  if (!checked_add(balance_staged_, transaction.amount)) {
    return Error{fmt::format("transaction {} overflows the balance", transaction.id)};
  }
  // Last check, and the key recorded by it: one lookup, not two.
  if (!transaction.key.empty() && !keys_.insert(transaction.key, transaction.id, key_of())) {
    return Error{fmt::format("transaction {} repeats an idempotency key", transaction.id)};
  }
  append_staged(std::move(transaction), /*key_recorded=*/true);
  mark_durable(transactions_.size());
  return ok_status();
}

const Transaction* Ledger::get(std::uint64_t id) const {
  if (id == 0 || id > durable_count_) return nullptr;
  return &transactions_[id - 1];
}

const Transaction* Ledger::get_any(std::uint64_t id) const {
  if (id == 0 || id > transactions_.size()) return nullptr;
  return &transactions_[id - 1];
}

std::span<const Transaction> Ledger::list() const {
  return std::span<const Transaction>(transactions_.data(), durable_count_);
}

void Ledger::check_invariants() const {
  BANK_ASSERT(durable_count_ <= transactions_.size());
  Money sum;
  Money sum_durable;
  std::int64_t created_at_previous_s = std::numeric_limits<std::int64_t>::min();
  std::size_t reversals = 0;
  std::size_t keyed = 0;
  for (std::size_t i = 0; i < transactions_.size(); ++i) {
    const Transaction& transaction = transactions_[i];
    BANK_ASSERT(transaction.id == i + 1);
    BANK_ASSERT(transaction.created_at_s >= created_at_previous_s);
    created_at_previous_s = transaction.created_at_s;
    sum = *checked_add(sum, transaction.amount);
    if (i < durable_count_) sum_durable = *checked_add(sum_durable, transaction.amount);
    if (transaction.voids_id != 0) {
      ++reversals;
      BANK_ASSERT(transaction.voids_id < transaction.id);
      const Transaction& original = transactions_[transaction.voids_id - 1];
      BANK_ASSERT(original.voids_id == 0);
      BANK_ASSERT(checked_negate(original.amount) == transaction.amount);
      auto it = voided_by_.find(transaction.voids_id);
      BANK_ASSERT(it != voided_by_.end());
      BANK_ASSERT(it->second == transaction.id);
    }
    if (!transaction.key.empty()) {
      ++keyed;
      BANK_ASSERT(keys_.find(transaction.key, key_of()) == transaction.id);
    }
  }
  BANK_ASSERT(reversals == voided_by_.size());
  BANK_ASSERT(keyed == keys_.size());
  BANK_ASSERT(sum == balance_staged_);
  BANK_ASSERT(sum_durable == balance_durable_);
}

}  // namespace bank
