#pragma once
// The checker: a model of the bank held outside the server, fed by every
// actor's requests and replies. It checks each reply as it arrives and the
// whole ledger at the end, and records the first broken invariant with the
// actor, the simulated time and the evidence (expected vs seen).

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bank/money.hpp"
#include "sim/world.hpp"

namespace bank_sim {

struct Failure {
  std::string invariant;  // A short name: "durability", "exactly-once", "created_at", ...
  std::string actor;
  std::int64_t time_ms = 0;
  std::uint64_t step = 0;
  std::string evidence;
};

struct ParsedTransaction {
  std::uint64_t id = 0;
  std::uint64_t confirmed_at_generation = 0;  // Its index among confirmations, once confirmed.
  std::int64_t created_at_s = 0;
  bank::Money amount;
  std::uint64_t voids_id = 0;
  // The line as it was read: a view into the reply while it is checked, and
  // into the model's own copy once the transaction is confirmed.
  std::string_view line;
};

std::optional<ParsedTransaction> parse_transaction_line(std::string_view line);
// "2038-01-19T03:14:08Z" for any second in the year range the simulator uses.
std::string format_utc(std::int64_t unix_s);

// What the host's clock read around a request, for the created_at bounds.
struct ClockWindow {
  std::int64_t at_request_ms = 0;
  std::int64_t at_reply_ms = 0;
  bool stepped = false;  // The clock stepped between request and reply.
};

enum class WriteKind { create, void_ };

class Model {
 public:
  explicit Model(sim::World& world) : world_(world) {}
  // Its confirmed transactions' lines point into its own copies of them.
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  bool failed() const { return failure_.has_value(); }
  // What the model knows now, a line each (for the debugger).
  std::vector<std::string> describe() const;
  const std::optional<Failure>& failure() const { return failure_; }
  void fail(std::string invariant, std::string actor, std::string evidence);

  // The host's wall clock: its highest reading so far bounds created_at.
  void note_host_clock(std::int64_t realtime_ms);
  std::uint64_t clock_steps() const { return clock_steps_; }
  void note_clock_step() { ++clock_steps_; }
  // A server process answered a write with a disk error or "writes are
  // disabled" at at_ms: it refuses writes until it restarts.
  void note_writes_disabled(std::uint64_t host_start, std::int64_t at_ms) {
    if (writes_disabled_.first != host_start) writes_disabled_ = {host_start, at_ms};
  }
  std::optional<std::int64_t> writes_disabled_since(std::uint64_t host_start) const {
    if (writes_disabled_.first != host_start || host_start == 0) return std::nullopt;
    return writes_disabled_.second;
  }

  // Writes, by idempotency key. A key is pending from its first send until it
  // is acknowledged or definitely refused; a pending key may explain one
  // transaction that nobody has acknowledged yet.
  void write_started(const std::string& key, WriteKind kind, bank::Money amount, std::uint64_t target_id);
  // Returns the id of the transaction the reply shows (0 when it is no transaction line).
  std::uint64_t write_acked(const std::string& actor, const std::string& key, std::string_view reply,
                            const ClockWindow& clock);
  void write_refused(const std::string& key);
  // The same, when the server claimed the write was never applied (an ERROR
  // that says nothing was recorded, a stop that read it and closed without
  // answering): should it appear after all, the failure is `invariant`, and
  // its evidence quotes `claim`.
  void write_refused(const std::string& key, std::string_view invariant, std::string claim);
  // A void answered "already voided by X" or "is a reversal": checked against what is known.
  // durable_high: what the host had made durable when the reply arrived (a
  // refusal reveals the transactions it names, which must be durable by then).
  void void_rejected(const std::string& actor, const std::string& key, std::uint64_t target_id,
                     std::string_view reply, std::uint64_t durable_high);
  // A GET or VOID of id answered "Transaction not found".
  void check_not_found(const std::string& actor, std::uint64_t id, std::string_view request,
                       std::uint64_t generation);

  // Reads. A read's "generation" is confirmations_.size() when it was sent:
  // everything confirmed before then must be in its reply.
  std::uint64_t generation() const { return confirmations_.size(); }
  // durable_high: how many transactions the host held durable when the reply
  // arrived; a read shows none past it.
  void check_list(const std::string& actor, std::string_view reply, std::uint64_t generation,
                  std::uint64_t durable_high = UINT64_MAX);
  void check_get(const std::string& actor, std::uint64_t id, std::string_view reply, std::uint64_t generation,
                 std::uint64_t durable_high = UINT64_MAX);
  // durable_high: how many transactions the host held durable when the reply
  // arrived, the most the balance may include.
  // own_high_id: the highest id the reader's own connection had acknowledged
  // before this request took effect (pipelined behind it); the balance includes it.
  void check_balance(const std::string& actor, std::string_view reply, std::uint64_t generation,
                     std::uint64_t durable_high, std::uint64_t own_high_id = 0);
  // The final audit, once every request has resolved: the whole ledger.
  void audit(const std::string& actor, std::string_view list_reply, std::string_view balance_reply);

  // Ids a banker may pick as "known".
  const std::vector<std::uint64_t>& known_ids() const { return known_ids_; }
  std::uint64_t highest_known_id() const { return confirmed_.empty() ? 0 : confirmed_.rbegin()->first; }
  // A create refused as "would overflow the balance" must be able to: the
  // amounts of every write started so far must reach the limit with it.
  void overflow_refused(const std::string& actor, const std::string& key, bank::Money amount,
                        std::string_view reply);
  std::uint64_t acknowledged_writes() const { return acknowledged_writes_; }

 private:
  struct Write {
    WriteKind kind;
    bank::Money amount;
    std::uint64_t target_id;
  };
  struct BalanceRead {
    std::uint32_t reader;  // In readers_: a run makes tens of thousands of these.
    std::int64_t cents;
    std::uint64_t id_low;   // Every id up to this one was durable when it was sent.
    std::uint64_t id_high;  // No id past this one was durable when its reply arrived.
    std::int64_t time_ms;
  };

  // An acknowledged transaction's created_at: within the host's clock, and in
  // order with its confirmed neighbours; false after a failure.
  bool check_created_at(const std::string& actor, const ParsedTransaction& t, const ClockWindow& clock);
  // Adds or checks a transaction against what is known; false after a failure.
  bool confirm(const std::string& actor, const ParsedTransaction& transaction, const char* source);
  bool check_ledger_shape(const std::string& actor, const std::vector<ParsedTransaction>& list);
  // The whole check of a list; the parsed list when it passed. A list that
  // passed becomes the verified prefix later lists start from, unless nothing
  // will follow it (the audit).
  enum class Remember { as_prefix, nothing };
  std::optional<std::vector<ParsedTransaction>> check_list_whole(const std::string& actor,
                                                                 std::string_view reply,
                                                                 std::uint64_t generation, Remember remember);
  // A list that starts with the verified prefix: sent after it was last
  // extended, or before (then only a pass is settled; see the definition).
  enum class Sent { after_prefix, before_prefix };
  bool check_list_after_prefix(const std::string& actor, std::string_view reply, std::uint64_t generation,
                               Sent sent);
  // Whether a check fails the run with its own words, or leaves that to the whole check.
  enum class Wording { report, leave_to_whole_check };
  // A check's failure: fails the run with words() when `wording` says so; false either way.
  template <class Words>
  bool reject(Wording wording, const char* invariant, const std::string& actor, Words&& words);
  // Its parts: the lines after the prefix (`added`) keep the ledger's shape,
  // and hold everything confirmed before the request past the prefix.
  bool check_shape_after_prefix(const std::string& actor, const std::vector<ParsedTransaction>& added,
                                Wording wording);
  bool check_confirmed_after_prefix(const std::string& actor, const std::vector<ParsedTransaction>& added,
                                    std::uint64_t generation, Wording wording);
  // `extends`: the reply is known to start with the verified text (no need to compare it again).
  void extend_verified_prefix(std::string_view reply, const std::vector<ParsedTransaction>& list,
                              bool extends);
  // The verified transactions up to through_id that no write has acknowledged, by id.
  std::vector<ParsedTransaction> verified_unacknowledged(std::uint64_t through_id);
  bool explain_unconfirmed(const std::string& actor, const std::vector<ParsedTransaction>& list);
  // The first line nobody acknowledged that no write in flight explains, if any.
  const ParsedTransaction* first_unexplained(const std::vector<ParsedTransaction>& list) const;
  std::optional<std::vector<ParsedTransaction>> parse_list(const std::string& actor, std::string_view reply,
                                                           Wording wording);
  std::uint64_t highest_confirmed_id(std::uint64_t generation) const;
  // actor's index in readers_ (added on its first balance read).
  std::uint32_t reader_index(const std::string& actor);

  sim::World& world_;
  std::pair<std::uint64_t, std::int64_t> writes_disabled_{0, 0};  // The server process, and since when.
  std::optional<Failure> failure_;
  std::int64_t host_clock_high_ms_ = 0;
  std::uint64_t clock_steps_ = 0;

  std::map<std::uint64_t, ParsedTransaction> confirmed_;  // By id.
  std::deque<std::string> confirmed_lines_;               // What their lines point into (never moves).
  std::vector<std::uint64_t> confirmations_;              // Ids, in the order they were confirmed.
  std::vector<std::uint64_t>
      highest_id_by_generation_;  // [g] = the highest id among the first g confirmations.
  // The longest ledger prefix already checked as a whole (shape, durability,
  // explanation), as the exact text LIST_TRANSACTIONS returns for it, with the
  // state its shape check needs to go on from there. A later list must start
  // with this text; only what follows is parsed and checked again.
  std::string verified_text_;
  std::uint64_t verified_count_ = 0;
  std::uint64_t verified_generation_ = 0;  // Confirmations made when the prefix was last extended.
  std::int64_t verified_created_at_last_s_ = INT64_MIN;
  // What the shape check needs of each verified transaction, by id - 1 (the prefix's ids are 1..n).
  struct Verified {
    bool voided = false;                // Voided within the prefix.
    std::optional<bank::Money> amount;  // Unless it is a reversal.
  };
  std::vector<Verified> verified_;
  std::set<std::uint64_t> verified_unacked_;  // Verified ids not acknowledged when last looked at.
  std::vector<std::uint64_t> known_ids_;
  std::map<std::string, Write> pending_;
  // Writes the server claimed it never applied (see write_refused), in order.
  struct RefusalClaim {
    Write write;
    std::string invariant;
    std::string claim;
  };
  std::vector<RefusalClaim> refusal_claims_;
  // Looked up, never walked (so their order cannot show): hashed.
  std::unordered_map<std::string, std::uint64_t> acked_keys_;  // key -> id
  // id -> the key acknowledged with it (in acked_keys_); its keys are the ids acknowledged.
  std::unordered_map<std::uint64_t, const std::string*> acked_by_id_;
  struct VoidClaim {
    std::string actor;
    std::uint64_t target_id;
    std::uint64_t by_id;
    std::string reply;
  };
  std::vector<VoidClaim> void_claims_;  // "already voided by X" replies, checked at the audit.
  std::vector<BalanceRead> balance_reads_;
  std::vector<std::string> readers_;  // The actors of balance_reads_, each once.
  std::uint64_t acknowledged_writes_ = 0;
  std::uint64_t amounts_abs_sum_ = 0;  // Of every create started (saturating): no balance can exceed it.
};

}  // namespace bank_sim
