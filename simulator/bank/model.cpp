#include "model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "bank/errors.hpp"

namespace bank_sim {

namespace {

constexpr std::int64_t int32_limit_s = 2'147'483'648LL;

// Prefixes are a few bytes: compared in place, not through a call to memcmp.
bool take(std::string_view& text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (text[i] != prefix[i]) return false;
  }
  text.remove_prefix(prefix.size());
  return true;
}

template <class Int>
bool take_int(std::string_view& text, Int& value) {
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc{} || result.ptr == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(result.ptr - text.data()));
  return true;
}

// Canonical numbers only, as the model's own rule (it must not share the
// server's code, or a bug there would look canonical here): digits with no
// leading zero (but "0"), no plus sign, a minus only before a non-zero value.
bool take_canonical_digits(std::string_view& text, std::uint64_t& value) {
  std::size_t length = 0;
  value = 0;
  while (length < text.size() && text[length] >= '0' && text[length] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[length] - '0');
    if (__builtin_mul_overflow(value, 10U, &value) || __builtin_add_overflow(value, digit, &value))
      return false;
    ++length;
  }
  if (length == 0 || (length > 1 && text[0] == '0')) return false;
  text.remove_prefix(length);
  return true;
}

bool take_canonical_id(std::string_view& text, std::uint64_t& value) {
  return take_canonical_digits(text, value) && value > 0;
}

bool take_canonical_seconds(std::string_view& text, std::int64_t& value) {
  const bool negative = take(text, "-");
  std::uint64_t magnitude = 0;
  if (!take_canonical_digits(text, magnitude)) return false;
  if (negative ? (magnitude == 0 || magnitude > static_cast<std::uint64_t>(INT64_MAX) + 1)
               : magnitude > static_cast<std::uint64_t>(INT64_MAX)) {
    return false;
  }
  value = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  return true;
}

// "$-12.50" with any int64 number of cents (a balance may exceed one amount's
// range): exactly two decimals, no leading zeros, no plus sign, no "$-0.00".
std::optional<std::int64_t> parse_dollars(std::string_view text) {
  if (!take(text, "$")) return std::nullopt;
  const bool negative = take(text, "-");
  std::uint64_t units = 0;
  if (!take_canonical_digits(text, units) || !take(text, ".") || text.size() != 2) return std::nullopt;
  if (text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9') return std::nullopt;
  const std::uint64_t fraction =
      static_cast<std::uint64_t>(text[0] - '0') * 10 + static_cast<std::uint64_t>(text[1] - '0');
  if (units > (static_cast<std::uint64_t>(INT64_MAX) - fraction) / 100) return std::nullopt;
  const auto total = static_cast<std::int64_t>(units * 100 + fraction);
  if (negative && total == 0) return std::nullopt;
  return negative ? -total : total;
}

// Whether text's first lines are exactly lines (a whole number of lines of a LIST reply).
bool starts_with_lines(std::string_view text, std::string_view lines) {
  return text.starts_with(lines) && (text.size() == lines.size() || text[lines.size()] == '\n');
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Why a created_at earlier than the clock read at the request is wrong, and,
// past 2^31 s, what a 32-bit created_at would have done.
std::string earlier_than_clock_evidence(const ParsedTransaction& t, std::int64_t low_s,
                                        const ClockWindow& clock) {
  const std::int64_t seen_s = t.created_at_s;
  std::string evidence = fmt::format(
      "`{}` has created_at={} ({}), but the host's clock read {} ({}) when the request was sent: {} s "
      "earlier than anything the clock said",
      t.line, seen_s, format_utc(seen_s), low_s, format_utc(low_s), low_s - seen_s);
  if (low_s >= int32_limit_s && seen_s < int32_limit_s) {
    // Name what a 32-bit created_at does past 2^31 s: wrap, or stick.
    const std::int64_t reply_s = floor_div(clock.at_reply_ms, 1000);
    bool truncated = false;
    for (std::int64_t s = low_s; s <= reply_s && !truncated; ++s) {
      truncated =
          seen_s == static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(s)));
    }
    evidence +=
        fmt::format(". The clock has passed 2^31 s = {}, and a signed 32-bit integer holds no later second: ",
                    format_utc(int32_limit_s));
    if (truncated) {
      evidence += fmt::format("{} is exactly the clock's reading truncated to 32 bits, so created_at wrapped",
                              seen_s);
    } else if (seen_s == int32_limit_s - 1) {
      evidence += fmt::format("created_at is stuck at {} = {}, the last second 32 bits can hold", seen_s,
                              format_utc(seen_s));
    } else {
      evidence += "a created_at kept in 32 bits wraps or sticks there";
    }
    evidence += ". This is the epochalypse (the year-2038 problem)";
  }
  return evidence;
}

}  // namespace

std::optional<ParsedTransaction> parse_transaction_line(std::string_view line) {
  ParsedTransaction t;
  t.line = line;
  std::string_view text = line;
  if (!take(text, "id=") || !take_canonical_id(text, t.id)) return std::nullopt;
  if (!take(text, " created_at=") || !take_canonical_seconds(text, t.created_at_s)) return std::nullopt;
  if (!take(text, " amount=")) return std::nullopt;
  const auto space = text.find(' ');
  const auto cents = parse_dollars(text.substr(0, space));
  if (!cents) return std::nullopt;
  t.amount = bank::Money{*cents};
  text = space == std::string_view::npos ? std::string_view{} : text.substr(space);
  if (!text.empty()) {
    if (!take(text, " voids=") || !take_canonical_id(text, t.voids_id) || !text.empty()) return std::nullopt;
  }
  return t;
}

std::string format_utc(std::int64_t unix_s) {
  // Days to civil date (proleptic Gregorian), integer only.
  const std::int64_t days = floor_div(unix_s, 86'400);
  const std::int64_t second_of_day = unix_s - days * 86'400;
  const std::int64_t z = days + 719'468;
  const std::int64_t era = floor_div(z, 146'097);
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", year, month, day, second_of_day / 3600,
                     second_of_day / 60 % 60, second_of_day % 60);
}

std::vector<std::string> Model::describe() const {
  std::vector<std::string> out;
  out.push_back(
      fmt::format("{} transactions confirmed (seen durable in a reply), {} writes acknowledged, {} writes "
                  "in flight (answer unknown), {} balance reads to check at the audit",
                  confirmed_.size(), acknowledged_writes_, pending_.size(), balance_reads_.size()));
  out.push_back(fmt::format("the host's clock read at most {} ms; {} clock steps so far", host_clock_high_ms_,
                            clock_steps_));
  for (const auto& [key, write] : pending_) {
    out.push_back(fmt::format("in flight: {} {} {}", key, write.kind == WriteKind::create ? "create" : "void",
                              write.kind == WriteKind::create ? bank::format_money(write.amount)
                                                              : std::to_string(write.target_id)));
  }
  std::size_t shown = 0;
  for (auto it = confirmed_.rbegin(); it != confirmed_.rend() && shown < 10; ++it, ++shown) {
    out.push_back(fmt::format("confirmed: id={} created_at={} amount=${}{}", it->second.id,
                              it->second.created_at_s, bank::format_money(it->second.amount),
                              it->second.voids_id != 0 ? fmt::format(" voids={}", it->second.voids_id) : ""));
  }
  if (failure_)
    out.push_back(
        fmt::format("FAILED: '{}' seen by {}: {}", failure_->invariant, failure_->actor, failure_->evidence));
  return out;
}

void Model::fail(std::string invariant, std::string actor, std::string evidence) {
  if (failure_) return;  // The first failure is the story; the rest are echoes.
  failure_ =
      Failure{std::move(invariant), std::move(actor), world_.now_ms(), world_.steps(), std::move(evidence)};
}

template <class Words>
bool Model::reject(Wording wording, const char* invariant, const std::string& actor, Words&& words) {
  if (wording == Wording::report) fail(invariant, actor, words());
  return false;
}

void Model::note_host_clock(std::int64_t realtime_ms) {
  host_clock_high_ms_ = std::max(host_clock_high_ms_, realtime_ms);
}

void Model::write_started(const std::string& key, WriteKind kind, bank::Money amount,
                          std::uint64_t target_id) {
  if (acked_keys_.contains(key)) return;  // A retry of a write already acknowledged.
  if (!pending_.contains(key) && kind == WriteKind::create) {
    const std::uint64_t magnitude = amount.cents < 0 ? 0 - static_cast<std::uint64_t>(amount.cents)
                                                     : static_cast<std::uint64_t>(amount.cents);
    if (__builtin_add_overflow(amounts_abs_sum_, magnitude, &amounts_abs_sum_)) amounts_abs_sum_ = UINT64_MAX;
  }
  pending_.emplace(key, Write{kind, amount, target_id});
}

void Model::write_refused(const std::string& key) {
  pending_.erase(key);
}

void Model::write_refused(const std::string& key, std::string_view invariant, std::string claim) {
  if (auto it = pending_.find(key); it != pending_.end())
    refusal_claims_.push_back(RefusalClaim{it->second, std::string(invariant), std::move(claim)});
  pending_.erase(key);
}

void Model::overflow_refused(const std::string& actor, const std::string& key, bank::Money amount,
                             std::string_view reply) {
  // Every balance is a sum of created amounts and their negations.
  const std::uint64_t magnitude = amount.cents < 0 ? 0 - static_cast<std::uint64_t>(amount.cents)
                                                   : static_cast<std::uint64_t>(amount.cents);
  std::uint64_t reach = 0;
  if (!__builtin_add_overflow(amounts_abs_sum_, magnitude, &reach) &&
      reach <= static_cast<std::uint64_t>(INT64_MAX)) {
    fail("every error is justified", actor,
         fmt::format(
             "CREATE {} was refused as `{}`, but every amount created in this run adds up to less than the "
             "balance's limit",
             bank::format_money(amount), reply));
    return;
  }
  pending_.erase(key);
}

bool Model::confirm(const std::string& actor, const ParsedTransaction& t, const char* source) {
  auto it = confirmed_.find(t.id);
  if (it != confirmed_.end()) {
    if (it->second.line != t.line) {
      fail("durability", actor,
           fmt::format("transaction {} was `{}` and {} now shows `{}`", t.id, it->second.line, source,
                       t.line));
      return false;
    }
    return true;
  }
  auto [inserted, _] = confirmed_.emplace(t.id, t);
  // Its own copy of the line: the reply it came in goes away.
  inserted->second.line = confirmed_lines_.emplace_back(t.line);
  inserted->second.confirmed_at_generation = confirmations_.size();
  confirmations_.push_back(t.id);
  highest_id_by_generation_.push_back(
      std::max(t.id, highest_id_by_generation_.empty() ? 0 : highest_id_by_generation_.back()));
  known_ids_.push_back(t.id);
  return true;
}

bool Model::check_created_at(const std::string& actor, const ParsedTransaction& t, const ClockWindow& clock) {
  // created_at comes from the host's clock at some point between request and reply.
  const std::int64_t seen_s = t.created_at_s;
  const std::int64_t high_s = floor_div(std::max(host_clock_high_ms_, clock.at_reply_ms), 1000);
  if (!clock.stepped) {
    const std::int64_t low_s = floor_div(std::min(clock.at_request_ms, clock.at_reply_ms), 1000);
    if (seen_s < low_s) {
      fail("created_at within the host's clock", actor, earlier_than_clock_evidence(t, low_s, clock));
      return false;
    }
  }
  if (seen_s > high_s) {
    fail("created_at within the host's clock", actor,
         fmt::format("`{}` has created_at={} ({}), later than the host's clock has ever read ({} = {})",
                     t.line, seen_s, format_utc(seen_s), high_s, format_utc(high_s)));
    return false;
  }
  // created_at never decreases from one transaction to the next.
  if (auto before = confirmed_.find(t.id - 1);
      before != confirmed_.end() && before->second.created_at_s > seen_s) {
    fail("created_at never decreases", actor,
         fmt::format("`{}` follows `{}` but has an earlier created_at", t.line, before->second.line));
    return false;
  }
  if (auto after = confirmed_.find(t.id + 1);
      after != confirmed_.end() && after->second.created_at_s < seen_s) {
    fail("created_at never decreases", actor,
         fmt::format("`{}` precedes `{}` but has a later created_at", t.line, after->second.line));
    return false;
  }
  return true;
}

std::uint64_t Model::write_acked(const std::string& actor, const std::string& key, std::string_view reply,
                                 const ClockWindow& clock) {
  const auto parsed = parse_transaction_line(reply);
  if (!parsed) {
    fail("reply format", actor, fmt::format("expected a transaction line for key {}, got `{}`", key, reply));
    return 0;
  }
  const ParsedTransaction& t = *parsed;
  const std::uint64_t id = t.id;
  if (auto acked = acked_keys_.find(key); acked != acked_keys_.end()) {
    const ParsedTransaction& first = confirmed_.at(acked->second);
    if (first.line != t.line) {
      fail("exactly-once", actor,
           fmt::format("a retry with key {} returned `{}`, but the first acknowledgement was `{}`: the write "
                       "was applied twice",
                       key, t.line, first.line));
    }
    return id;
  }
  auto pending = pending_.find(key);
  if (pending == pending_.end()) {
    fail("reply matches request", actor,
         fmt::format("`{}` acknowledged key {}, which has no write in flight (it was refused or never sent)",
                     t.line, key));
    return id;
  }
  const Write write = pending->second;
  if (write.kind == WriteKind::create) {
    if (t.amount != write.amount || t.voids_id != 0) {
      fail("reply matches request", actor,
           fmt::format("CREATE {} key={} was answered `{}`", bank::format_money(write.amount), key, t.line));
      return id;
    }
  } else {
    if (t.voids_id != write.target_id) {
      fail("reply matches request", actor,
           fmt::format("VOID {} key={} was answered `{}`", write.target_id, key, t.line));
      return id;
    }
    if (auto target = confirmed_.find(write.target_id); target != confirmed_.end()) {
      if (bank::checked_negate(target->second.amount) != t.amount) {
        fail("a reversal negates its original", actor,
             fmt::format("`{}` voids `{}` but does not negate its amount", t.line, target->second.line));
        return id;
      }
    }
  }
  if (auto known = confirmed_.find(t.id); known != confirmed_.end() && known->second.line != t.line) {
    fail("durability", actor,
         fmt::format("key {} was acknowledged as `{}`, but transaction {} was already confirmed as `{}`: an "
                     "acknowledged transaction was lost and its id reused",
                     key, t.line, t.id, known->second.line));
    return id;
  }
  if (!check_created_at(actor, t, clock)) return id;
  if (auto other = acked_by_id_.find(t.id); other != acked_by_id_.end()) {
    fail("exactly-once", actor,
         fmt::format(
             "key {} was acknowledged as `{}`, but key {} was acknowledged with the same transaction: one "
             "transaction answered two different writes",
             key, t.line, *other->second));
    return id;
  }
  if (!confirm(actor, t, "an acknowledgement")) return id;
  const auto acked = acked_keys_.emplace(key, id).first;
  acked_by_id_.emplace(id, &acked->first);  // A node's key stays where it is.
  pending_.erase(pending);
  ++acknowledged_writes_;
  return id;
}

void Model::void_rejected(const std::string& actor, const std::string& key, std::uint64_t target_id,
                          std::string_view reply, std::uint64_t durable_high) {
  pending_.erase(key);
  // A refusal reveals the transaction it names: named before it was durable,
  // a crash could still take it back, and the client would have been told of
  // something that never was.
  const auto named_before_durable = [&](std::uint64_t named) {
    if (named <= durable_high) return false;
    fail("reads show only durable writes", actor,
         fmt::format("VOID {} was refused as `{}` while the host had only {} transactions durable", target_id,
                     reply, durable_high));
    return true;
  };
  const auto refusal = bank::parse_void_refusal(reply);
  if (!refusal || refusal->target_id != target_id) {
    fail("reply format", actor, fmt::format("VOID {} got an unexpected refusal `{}`", target_id, reply));
    return;
  }
  if (refusal->kind == bank::ErrorKind::already_voided) {
    const std::uint64_t by = refusal->other_id;
    if (named_before_durable(by)) return;
    if (auto it = confirmed_.find(by); it != confirmed_.end() && it->second.voids_id != target_id) {
      fail("a transaction is voided at most once", actor,
           fmt::format("VOID {} was refused as `{}`, but transaction {} is `{}`", target_id, reply, by,
                       it->second.line));
    }
    // The reversal named must exist once everything has resolved: checked at the audit.
    void_claims_.push_back(VoidClaim{actor, target_id, by, std::string(reply)});
    return;
  }
  // A reversal of refusal->other_id.
  if (named_before_durable(target_id)) return;
  if (auto it = confirmed_.find(target_id); it != confirmed_.end() && it->second.voids_id == 0) {
    fail("void rules", actor,
         fmt::format("VOID {} was refused as `{}`, but it is `{}`, not a reversal", target_id, reply,
                     it->second.line));
  }
}

void Model::check_not_found(const std::string& actor, std::uint64_t id, std::string_view request,
                            std::uint64_t generation) {
  // Durable ids form a prefix 1..n: once any id >= this one was confirmed,
  // this one existed too.
  if (const std::uint64_t highest = highest_confirmed_id(generation); highest >= id) {
    fail("durability", actor,
         fmt::format(
             "{} {} answered `Transaction not found`, but transaction {} was confirmed before the request "
             "was sent",
             request, id, highest));
  }
}

std::optional<std::vector<ParsedTransaction>> Model::parse_list(const std::string& actor,
                                                                std::string_view reply, Wording wording) {
  std::vector<ParsedTransaction> list;
  list.reserve(reply.size() / 40 + 1);  // A line is 45 to 70 bytes.
  if (reply.ends_with('\n')) {
    // An empty last line: '\n' only joins lines.
    reject(wording, "reply format", actor,
           [&] { return fmt::format("LIST_TRANSACTIONS ended with a newline: `{}`", reply.substr(0, 200)); });
    return std::nullopt;
  }
  while (!reply.empty()) {
    const auto newline = reply.find('\n');
    const std::string_view line = reply.substr(0, newline);
    auto parsed = parse_transaction_line(line);
    if (!parsed) {
      reject(wording, "reply format", actor,
             [&] { return fmt::format("LIST_TRANSACTIONS returned an unreadable line `{}`", line); });
      return std::nullopt;
    }
    list.push_back(std::move(*parsed));
    reply = newline == std::string_view::npos ? std::string_view{} : reply.substr(newline + 1);
  }
  return list;
}

bool Model::check_ledger_shape(const std::string& actor, const std::vector<ParsedTransaction>& list) {
  std::map<std::uint64_t, std::uint64_t> voided_by;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const ParsedTransaction& t = list[i];
    if (t.id != i + 1) {
      fail("ids are 1..n with no gaps", actor,
           fmt::format("LIST_TRANSACTIONS line {} is `{}`; expected id={}", i + 1, t.line, i + 1));
      return false;
    }
    if (i > 0 && list[i - 1].created_at_s > t.created_at_s) {
      fail("created_at never decreases", actor,
           fmt::format("`{}` follows `{}` but has an earlier created_at", t.line, list[i - 1].line));
      return false;
    }
    if (t.voids_id == 0) continue;
    if (t.voids_id >= t.id) {
      fail("void rules", actor, fmt::format("`{}` voids a transaction that does not precede it", t.line));
      return false;
    }
    const ParsedTransaction& original = list[t.voids_id - 1];
    if (original.voids_id != 0) {
      fail("void rules", actor, fmt::format("`{}` voids a reversal, `{}`", t.line, original.line));
      return false;
    }
    if (bank::checked_negate(original.amount) != t.amount) {
      fail("a reversal negates its original", actor,
           fmt::format("`{}` voids `{}` but does not negate its amount", t.line, original.line));
      return false;
    }
    if (auto [it, inserted] = voided_by.emplace(t.voids_id, t.id); !inserted) {
      fail("a transaction is voided at most once", actor,
           fmt::format("transaction {} is voided twice: by `{}` and by `{}`", t.voids_id,
                       list[it->second - 1].line, t.line));
      return false;
    }
  }
  return true;
}

const ParsedTransaction* Model::first_unexplained(const std::vector<ParsedTransaction>& list) const {
  std::set<std::string> used;
  for (const ParsedTransaction& t : list) {
    if (acked_by_id_.contains(t.id)) continue;
    const WriteKind kind = t.voids_id != 0 ? WriteKind::void_ : WriteKind::create;
    bool explained = false;
    for (const auto& [key, write] : pending_) {
      if (used.contains(key) || write.kind != kind) continue;
      if (kind == WriteKind::create ? write.amount == t.amount : write.target_id == t.voids_id) {
        used.insert(key);
        explained = true;
        break;
      }
    }
    if (!explained) return &t;
  }
  return nullptr;
}

bool Model::explain_unconfirmed(const std::string& actor, const std::vector<ParsedTransaction>& list) {
  const ParsedTransaction* unexplained = first_unexplained(list);
  if (unexplained == nullptr) return true;
  // A write the server said it never applied explains the line, and breaks that claim.
  const WriteKind kind = unexplained->voids_id != 0 ? WriteKind::void_ : WriteKind::create;
  for (const RefusalClaim& refusal : refusal_claims_) {
    const Write& write = refusal.write;
    if (write.kind == kind && (kind == WriteKind::create ? write.amount == unexplained->amount
                                                         : write.target_id == unexplained->voids_id)) {
      fail(refusal.invariant, actor,
           fmt::format("`{}` is in the ledger, but {}", unexplained->line, refusal.claim));
      return false;
    }
  }
  fail("exactly-once", actor,
       fmt::format(
           "`{}` matches no acknowledged write and no write still in flight: a write was applied twice "
           "(a retried key applied again) or invented",
           unexplained->line));
  return false;
}

std::uint32_t Model::reader_index(const std::string& actor) {
  // A handful of actors read balances: a look along the list finds one.
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    if (readers_[i] == actor) return static_cast<std::uint32_t>(i);
  }
  readers_.push_back(actor);
  return static_cast<std::uint32_t>(readers_.size() - 1);
}

std::uint64_t Model::highest_confirmed_id(std::uint64_t generation) const {
  return generation == 0 ? 0 : highest_id_by_generation_[generation - 1];
}

void Model::check_list(const std::string& actor, std::string_view reply, std::uint64_t generation,
                       std::uint64_t durable_high) {
  // The protocol joins the lines with '\n' and ends the reply after the last
  // one: a newline before or after them is no line (and would hide the last
  // line from the count below).
  if (reply.starts_with('\n') || reply.ends_with('\n')) {
    fail("reply format", actor,
         fmt::format("LIST_TRANSACTIONS {} with a newline, but '\\n' only joins lines: `{}`",
                     reply.starts_with('\n') ? "began" : "ended", reply.substr(0, 200)));
    return;
  }
  // Ids are 1..n, so the last line's id says how many there are (a list
  // whose ids are wrong fails the whole check below); no need to count lines.
  std::uint64_t lines = 0;
  if (!reply.empty()) {
    const auto last = reply.rfind('\n');
    std::string_view line = last == std::string_view::npos ? reply : reply.substr(last + 1);
    if (!take(line, "id=") || !take_int(line, lines)) lines = 0;
  }
  if (lines > durable_high) {
    fail("reads show only durable writes", actor,
         fmt::format("LIST_TRANSACTIONS showed {} transactions while the host had only {} durable", lines,
                     durable_high));
    return;
  }
  // A list sent after the verified prefix was last extended must start with
  // it; then only the rest needs parsing. Anything else gets the whole check,
  // which also words the failure when there is one.
  if (verified_count_ > 0 && generation >= verified_generation_ && starts_with_lines(reply, verified_text_)) {
    check_list_after_prefix(actor, reply, generation, Sent::after_prefix);
    return;
  }
  // A list that is itself a prefix of the verified one (most often, one sent
  // before the prefix was last extended): its every line was checked with the
  // prefix (shape, confirmations), so what is left is that nothing confirmed
  // before it was sent is missing, and that its lines nobody has acknowledged
  // are still explained by writes in flight, as the whole check would ask. The
  // whole check words a missing one.
  if ((reply.empty() || starts_with_lines(verified_text_, reply)) &&
      highest_confirmed_id(generation) <= lines) {
    explain_unconfirmed(actor, verified_unacknowledged(lines));
    return;
  }
  // A list sent before the prefix was last extended that starts with it and
  // goes on: its prefix needs no check again (see check_list_after_prefix).
  // Only a list that passes is settled there; the whole check words a failure.
  // (After a failure, every list goes the whole way, as it always did.)
  if (!failure_ && verified_count_ > 0 && starts_with_lines(reply, verified_text_) &&
      check_list_after_prefix(actor, reply, generation, Sent::before_prefix)) {
    return;
  }
  check_list_whole(actor, reply, generation, Remember::as_prefix);
}

std::optional<std::vector<ParsedTransaction>> Model::check_list_whole(const std::string& actor,
                                                                      std::string_view reply,
                                                                      std::uint64_t generation,
                                                                      Remember remember) {
  auto list = parse_list(actor, reply, Wording::report);
  if (!list || !check_ledger_shape(actor, *list)) return std::nullopt;
  for (std::uint64_t i = 0; i < generation; ++i) {
    const ParsedTransaction& expected = confirmed_.at(confirmations_[i]);
    if (expected.id > list->size()) {
      fail("durability", actor,
           fmt::format(
               "`{}` was confirmed before LIST_TRANSACTIONS was sent, but the list has only {} transactions",
               expected.line, list->size()));
      return std::nullopt;
    }
    if ((*list)[expected.id - 1].line != expected.line) {
      fail("durability", actor,
           fmt::format("transaction {} was confirmed as `{}` and LIST_TRANSACTIONS now shows `{}`",
                       expected.id, expected.line, (*list)[expected.id - 1].line));
      return std::nullopt;
    }
  }
  if (!explain_unconfirmed(actor, *list)) return std::nullopt;
  for (const ParsedTransaction& t : *list) {
    if (!confirm(actor, t, "LIST_TRANSACTIONS")) return std::nullopt;
  }
  if (remember == Remember::as_prefix && list->size() > verified_count_)
    extend_verified_prefix(reply, *list, false);
  return list;
}

bool Model::check_list_after_prefix(const std::string& actor, std::string_view reply,
                                    std::uint64_t generation, Sent sent) {
  // A list sent before the prefix was last extended is checked as the whole
  // check would, to the same verdict: its prefix is the text already checked,
  // with every line in it confirmed, so only the prefix's lines that nobody
  // has acknowledged are looked at again (explained by writes in flight).
  // That check only says whether the list passes, and changes nothing unless
  // it does; the whole check words a failure.
  const Wording wording = sent == Sent::after_prefix ? Wording::report : Wording::leave_to_whole_check;
  const std::string_view rest =
      reply.size() == verified_text_.size() ? std::string_view{} : reply.substr(verified_text_.size() + 1);
  auto added = parse_list(actor, rest, wording);
  if (!added || !check_shape_after_prefix(actor, *added, wording) ||
      !check_confirmed_after_prefix(actor, *added, generation, wording)) {
    return false;
  }
  if (sent == Sent::after_prefix) {
    // New transactions must each be explained; the prefix's are explained
    // again at the audit, once every write has resolved.
    if (!explain_unconfirmed(actor, *added)) return false;
  } else {
    std::vector<ParsedTransaction> unacknowledged = verified_unacknowledged(verified_count_);
    unacknowledged.insert(unacknowledged.end(), added->begin(), added->end());
    if (first_unexplained(unacknowledged) != nullptr) return false;
    // Nothing is confirmed before every confirmation is known to pass.
    for (const ParsedTransaction& t : *added) {
      if (auto known = confirmed_.find(t.id); known != confirmed_.end() && known->second.line != t.line)
        return false;
    }
  }
  for (const ParsedTransaction& t : *added) {
    if (!confirm(actor, t, "LIST_TRANSACTIONS")) return false;
  }
  if (!added->empty()) extend_verified_prefix(reply, *added, true);
  return true;
}

bool Model::check_shape_after_prefix(const std::string& actor, const std::vector<ParsedTransaction>& added,
                                     Wording wording) {
  // The shape check, going on from the verified prefix.
  std::int64_t created_at_last_s = verified_created_at_last_s_;
  std::set<std::uint64_t> voided;
  for (std::size_t i = 0; i < added.size(); ++i) {
    const ParsedTransaction& t = added[i];
    const std::uint64_t expected_id = verified_count_ + i + 1;
    if (t.id != expected_id) {
      return reject(wording, "ids are 1..n with no gaps", actor, [&] {
        return fmt::format("LIST_TRANSACTIONS line {} is `{}`; expected id={}", expected_id, t.line,
                           expected_id);
      });
    }
    if (t.created_at_s < created_at_last_s) {
      return reject(wording, "created_at never decreases", actor, [&] {
        return fmt::format("`{}` has a created_at earlier than the transaction before it ({})", t.line,
                           created_at_last_s);
      });
    }
    created_at_last_s = t.created_at_s;
    if (t.voids_id == 0) continue;
    std::optional<bank::Money> original;
    if (t.voids_id >= t.id) {
      return reject(wording, "void rules", actor,
                    [&] { return fmt::format("`{}` voids a transaction that does not precede it", t.line); });
    }
    if (t.voids_id <= verified_count_) {
      if (t.voids_id <= verified_.size()) original = verified_[t.voids_id - 1].amount;
    } else if (const ParsedTransaction& o = added[t.voids_id - verified_count_ - 1]; o.voids_id == 0) {
      original = o.amount;
    }
    if (!original) {
      return reject(wording, "void rules", actor, [&] {
        return fmt::format("`{}` voids transaction {}, which is a reversal", t.line, t.voids_id);
      });
    }
    if (bank::checked_negate(*original) != t.amount) {
      return reject(wording, "a reversal negates its original", actor, [&] {
        return fmt::format("`{}` voids transaction {} but does not negate its amount", t.line, t.voids_id);
      });
    }
    if ((t.voids_id <= verified_.size() && verified_[t.voids_id - 1].voided) ||
        !voided.insert(t.voids_id).second) {
      return reject(wording, "a transaction is voided at most once", actor, [&] {
        return fmt::format("transaction {} is voided twice; the second time by `{}`", t.voids_id, t.line);
      });
    }
  }
  return true;
}

bool Model::check_confirmed_after_prefix(const std::string& actor,
                                         const std::vector<ParsedTransaction>& added,
                                         std::uint64_t generation, Wording wording) {
  // Everything confirmed before the request beyond the prefix must be there.
  const std::uint64_t count = verified_count_ + added.size();
  for (auto it = confirmed_.upper_bound(verified_count_); it != confirmed_.end(); ++it) {
    const ParsedTransaction& expected = it->second;
    if (expected.confirmed_at_generation >= generation) continue;
    if (expected.id > count) {
      return reject(wording, "durability", actor, [&] {
        return fmt::format(
            "`{}` was confirmed before LIST_TRANSACTIONS was sent, but the list has only {} "
            "transactions",
            expected.line, count);
      });
    }
    if (added[expected.id - verified_count_ - 1].line != expected.line) {
      return reject(wording, "durability", actor, [&] {
        return fmt::format("transaction {} was confirmed as `{}` and LIST_TRANSACTIONS now shows `{}`",
                           expected.id, expected.line, added[expected.id - verified_count_ - 1].line);
      });
    }
  }
  return true;
}

std::vector<ParsedTransaction> Model::verified_unacknowledged(std::uint64_t through_id) {
  std::vector<ParsedTransaction> found;
  for (auto it = verified_unacked_.begin(); it != verified_unacked_.end() && *it <= through_id;) {
    if (acked_by_id_.contains(*it)) {
      it = verified_unacked_.erase(it);
      continue;
    }
    found.push_back(confirmed_.at(*it));
    ++it;
  }
  return found;
}

void Model::extend_verified_prefix(std::string_view reply, const std::vector<ParsedTransaction>& list,
                                   bool extends) {
  // list holds the transactions after the old prefix, or the whole ledger.
  const bool whole = !list.empty() && list.front().id == 1;
  if (whole) {
    verified_.clear();
    verified_unacked_.clear();
  }
  // Ids ascend, and come after every id already kept: each goes in at the end.
  for (const ParsedTransaction& t : list) {
    if (!acked_by_id_.contains(t.id)) verified_unacked_.emplace_hint(verified_unacked_.end(), t.id);
    if (verified_.size() < t.id) verified_.resize(t.id);
    if (t.voids_id != 0) {
      verified_[t.voids_id - 1].voided = true;  // It precedes t (the shape check saw to it).
    } else {
      verified_[t.id - 1].amount = t.amount;
    }
  }
  if (extends || reply.starts_with(verified_text_)) {
    verified_text_.append(reply.substr(verified_text_.size()));  // Most often: the old prefix and more.
  } else {
    verified_text_ = std::string(reply);
  }
  verified_count_ = list.empty() ? verified_count_ : list.back().id;
  verified_created_at_last_s_ = list.empty() ? verified_created_at_last_s_ : list.back().created_at_s;
  verified_generation_ = confirmations_.size();
}

void Model::check_get(const std::string& actor, std::uint64_t id, std::string_view reply,
                      std::uint64_t generation, std::uint64_t durable_high) {
  if (reply != "Transaction not found" && id > durable_high) {
    fail("reads show only durable writes", actor,
         fmt::format("GET_TRANSACTION {} answered `{}` while the host had only {} durable transactions", id,
                     reply, durable_high));
    return;
  }
  if (reply == "Transaction not found") {
    check_not_found(actor, id, "GET_TRANSACTION", generation);
    return;
  }
  const auto parsed = parse_transaction_line(reply);
  if (!parsed || parsed->id != id) {
    fail("reply matches request", actor, fmt::format("GET_TRANSACTION {} was answered `{}`", id, reply));
    return;
  }
  confirm(actor, *parsed, "GET_TRANSACTION");
}

void Model::check_balance(const std::string& actor, std::string_view reply, std::uint64_t generation,
                          std::uint64_t durable_high, std::uint64_t own_high_id) {
  const auto cents = parse_dollars(reply);
  if (!cents) {
    fail("reply format", actor, fmt::format("GET_BALANCE was answered `{}`", reply));
    return;
  }
  const std::uint64_t id_low = std::max(highest_confirmed_id(generation), own_high_id);
  if (durable_high < id_low) {
    fail("durability", actor,
         fmt::format(
             "GET_BALANCE answered `{}` while the host had only {} durable transactions, but transaction {} "
             "was confirmed before it was sent",
             reply, durable_high, id_low));
    return;
  }
  balance_reads_.push_back(BalanceRead{reader_index(actor), *cents, id_low, durable_high, world_.now_ms()});
}

void Model::audit(const std::string& actor, std::string_view list_reply, std::string_view balance_reply) {
  // The run's last check: nothing will start from the list after it.
  const auto list = check_list_whole(actor, list_reply, generation(), Remember::nothing);
  if (!list) return;
  std::int64_t sum = 0;
  std::vector<std::int64_t> prefix = {0};
  prefix.reserve(list->size() + 1);
  for (const auto& t : *list) {
    sum += t.amount.cents;
    prefix.push_back(sum);
  }
  const auto balance = parse_dollars(balance_reply);
  if (!balance || *balance != sum) {
    fail("balance equals the sum of the list", actor,
         fmt::format("GET_BALANCE answered `{}` but the {} transactions listed sum to ${}", balance_reply,
                     list->size(), bank::format_money(bank::Money{sum})));
    return;
  }
  for (const VoidClaim& claim : void_claims_) {
    if (claim.by_id > list->size() || (*list)[claim.by_id - 1].voids_id != claim.target_id) {
      fail("a transaction is voided at most once", claim.actor,
           fmt::format("VOID {} was refused as `{}`, but the final ledger has {}", claim.target_id,
                       claim.reply,
                       claim.by_id > list->size() ? fmt::format("only {} transactions", list->size())
                                                  : fmt::format("`{}`", (*list)[claim.by_id - 1].line)));
      return;
    }
  }
  for (const BalanceRead& read : balance_reads_) {
    bool matched = false;
    // Between what was confirmed when it was sent and what was durable when its reply arrived.
    const std::uint64_t id_high = std::min<std::uint64_t>(read.id_high, prefix.size() - 1);
    for (std::uint64_t n = read.id_low; n <= id_high && !matched; ++n) matched = prefix[n] == read.cents;
    if (!matched) {
      fail("a balance equals the sum of the ledger at some point between its request and its reply",
           readers_[read.reader],
           fmt::format(
               "GET_BALANCE at t={} ms answered ${}, but no ledger of {} to {} transactions (confirmed when "
               "it was sent; durable when it was answered) sums to that (with {} transactions the sum was "
               "${})",
               read.time_ms, bank::format_money(bank::Money{read.cents}), read.id_low, read.id_high,
               read.id_low,
               bank::format_money(bank::Money{read.id_low < prefix.size() ? prefix[read.id_low] : 0})));
      return;
    }
  }
}

}  // namespace bank_sim
