#pragma once
// What a run does, as data: the knobs drawn for it and every actor's plan.
// Plans are generated from the run's seed, printed in the run's report, and
// (with plan_file.hpp) saved and replayed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bank/money.hpp"
#include "sim/rng.hpp"

namespace bank_sim {

// Which fault kinds a run has, and how often (swarm testing): drawn per run,
// so some runs are calm and some are storms.
struct Swarm {
  bool crashes = false;       // Process crashes: the page cache survives.
  bool power_losses = false;  // Power losses: what was not synced is lost or torn.
  bool partitions = false;
  bool clogs = false;
  bool disk_errors = false;
  bool slow_disk = false;
  bool clock_steps = false;
  bool corruption = false;            // Bit flips in synced bytes, misdirected writes.
  bool network_corners = false;       // One-way partitions, vanished clients (half-open), failed accepts.
  std::int64_t fault_gap_ms_max = 0;  // Mean gap between faults is about half of this.
  bool calm() const {
    return !crashes && !power_losses && !partitions && !clogs && !disk_errors && !slow_disk && !clock_steps &&
           !corruption && !network_corners;
  }
};

// The world's and the server's parameters, drawn per run (swarm testing over
// parameters, not only over fault kinds): a run with a tiny send queue lives in
// backpressure, one with a short idle timeout sees idle closes, one with slow
// syncs sees large group commits.
struct Parameters {
  std::int64_t latency_ms_min = 1;
  std::int64_t latency_ms_max = 10;
  std::int64_t pieces_per_send_max = 4;
  std::int64_t window_bytes = 64 * 1024;  // What the network holds before a sender's queue counts.
  std::int64_t append_latency_ms_max = 2;
  std::int64_t sync_latency_ms_min = 1;
  std::int64_t sync_latency_ms_max = 8;
  std::int64_t idle_timeout_ms = 300'000;
  std::int64_t send_queue_bytes_max = 1024 * 1024;
  std::int64_t connections_max = 1024;
  std::int64_t group_commit_hold_ms = 1;      // The server's; 0: a batch does not wait for answered clients.
  std::int64_t requests_in_flight_max = 256;  // The server's: replies one connection may have pending.
};

struct Knobs {
  std::uint64_t seed = 0;
  std::uint64_t duration_steps = 0;  // 0: unbounded.
  std::int64_t step_ms = 1;
  std::int64_t epoch_offset_ms = 0;
  std::uint32_t banker_count = 0;
  std::uint32_t interactions_per_banker = 0;
  Swarm swarm;
  Parameters parameters;
  std::string epoch_offset_reason;  // Why this start time: "near 2^31 s", "wide range", ...
};

// Values a user set; every other knob is drawn from the seed.
struct KnobOverrides {
  std::optional<std::uint64_t> duration_steps;
  std::optional<std::int64_t> step_ms;
  std::optional<std::int64_t> epoch_offset_ms;
  std::optional<std::uint32_t> banker_count;
};

inline constexpr std::uint32_t banker_count_max = 1000;
inline constexpr std::uint64_t duration_steps_default = 200'000;
// Most steps a run may be set to: the end time (start + steps * step) then
// fits in 64 bits whatever the step and start.
inline constexpr std::uint64_t duration_steps_max = 1'000'000'000;
inline constexpr std::int64_t step_ms_max = 86'400'000;  // One day per step.
// How many steps a crash or power loss waits for its worst moment at most.
inline constexpr std::int64_t worst_moment_wait_steps_max = 2'000;
inline constexpr std::int64_t epoch_offset_ms_max = 100'000'000'000'000;  // Year 5138, the original's range.
inline constexpr std::int64_t epoch_offset_ms_limit = 10 * epoch_offset_ms_max;  // The most a user may set.
static_assert(epoch_offset_ms_limit + static_cast<std::int64_t>(duration_steps_max) * step_ms_max <
                  INT64_MAX / 4,
              "a run's end time must fit in 64 bits with room for the drain after it");

// Draws every knob from the seed, always in the same order, then applies the
// overrides: overriding one knob replays everything else.
Knobs draw_knobs(std::uint64_t seed, const KnobOverrides& overrides);

// How an id is chosen when the interaction runs: mostly one the banker has
// seen (pick modulo how many it knows), sometimes one that may not exist.
struct IdPick {
  bool known = true;
  bool next = false;  // Just past the highest id known: a write may be in flight there.
  std::uint64_t pick =
      0;  // known: an index modulo the ids known; next: how far past (mod 3); else the id itself.
};

enum class BankerOp { sleep, list, get, create, void_, balance, pipeline, garbage };

// How a create writes its amount: all valid, most not canonical. Part of the
// plan (not of the request's position), so that shrinking keeps it.
enum class AmountText : std::uint8_t {
  canonical,  // 5.00
  plus,       // +5.00
  zeros,      // 0005.00
  shortest,   // 5 for 5.00, 5.5 for 5.50
  spaces,     // " \t5.00\r\n"
};
std::string describe(AmountText text);
std::optional<AmountText> amount_text_named(std::string_view name);

// Malformed input a banker mixes into its traffic; each must get one ERROR.
// exit: EXIT, which a server without remote exit enabled must refuse;
// bad_key: an amount followed by something other than key=...; long_key: a
// key one byte longer than allowed; zero_id: VOID of id 0 (ids are positive);
// huge_id: GET of 2^63, one past the largest id (2^63 - 1); unterminated: an
// oversized frame whose NUL never comes (the server must not wait for it).
enum class Garbage {
  unknown_action,
  bad_amount,
  bad_id,
  oversized,
  exit,
  bad_key,
  long_key,
  zero_id,
  huge_id,
  unterminated
};

struct Interaction {
  BankerOp op = BankerOp::sleep;
  std::int64_t sleep_ms = 0;
  bank::Money amount;
  IdPick id;
  bool keyless = false;  // create, void: no idempotency key, so never retried.
  bool hang_up = false;  // create, void: leave right after sending, while the write syncs...
  bool polite = false;   // ...with a CLOSE rather than by dropping the connection...
  bool shut = false;     // ...or, polite, by shutting its sending side (a half-close) rather than a CLOSE.
  bool after_close =
      false;  // ...and, with a CLOSE, a create right behind it that must be neither answered nor applied.
  bool echo = false;  // keyed create: the same request at once on a second connection; keyed void: a rival's.
  std::int64_t slow_read_ms = 0;  // list, balance, get: stop reading replies for this long after sending.
  bool wait = false;        // create, get, void, alone: send the argument only once the prompt has come.
  std::uint32_t count = 0;  // pipeline: how many of the following requests go out together.
  Garbage garbage = Garbage::unknown_action;
  AmountText text = AmountText::canonical;  // create: how the amount is written.
};

inline constexpr std::uint32_t pipeline_requests_max = 8;

struct BankerPlan {
  std::vector<Interaction> interactions;
};

enum class FaultOp {
  sleep,
  crash,
  power_loss,
  partition,
  clog,
  disk_errors,
  slow_disk,
  clock_step,
  corrupt,
  one_way,          // A one-way partition: bytes toward the host (or toward the clients) stall.
  vanish,           // Clients vanish: the host keeps half-open connections.
  accept_failures,  // The host's accepts fail (out of descriptors) for a while.
  stop,             // A graceful stop (an operator's SIGTERM), then a restart.
};

// Which disk operations a disk_errors fault fails. reads: an unreadable
// sector, so that opening the journal at a restart fails.
enum class DiskOps { appends, syncs, both, reads };

// What a corrupt fault does to the journal's bytes. aimed: one bit of the
// fields recovery decides on (a record's header or trailer: magic, length,
// checksums), which a flip anywhere reaches one time in three.
enum class CorruptKind { bit_flip, misdirected, aimed };

struct Fault {
  FaultOp op = FaultOp::sleep;
  std::int64_t duration_ms =
      0;  // sleep, partition, clog, disk window, slow window; crash, power_loss, stop: restart delay.
  std::int64_t delta_ms = 0;         // clock_step: how far the host's clock jumps (negative: back).
  int error_code = 0;                // disk_errors: EIO or ENOSPC.
  DiskOps disk_ops = DiskOps::both;  // disk_errors: which operations fail.
  // crash, power_loss, stop: wait (a bounded while) for the worst moment, when
  // the host's disk holds bytes that were never synced.
  bool when_unsynced = false;
  CorruptKind corrupt_kind = CorruptKind::bit_flip;  // corrupt: what.
  // corrupt: bit_flip, the offset from the end; misdirected, where the write
  // lands; aimed, which record, counted from the last.
  std::uint64_t pick = 0;
  unsigned bit = 0;          // corrupt bit_flip, aimed: which bit of the byte.
  unsigned byte = 0;         // corrupt aimed: which byte of the record's header (0..15) or trailer (16..31).
  std::int64_t target = -1;  // partition, clog, one_way, vanish: a banker's index, or -1 for every client.
  bool toward_host = true;   // one_way: which direction stalls.
};

struct FaultPlan {
  std::vector<Fault> faults;
};

// A run that branched into a new universe (the debugger's `branch`): after
// `at_event` events, every random draw of the world mixes in `seed` (the plan
// entries not begun by then were drawn anew from it when the branch was made).
struct Branch {
  std::uint64_t at_event = 0;
  std::uint64_t seed = 0;
};

struct Plans {
  Knobs knobs;
  std::vector<BankerPlan> bankers;
  FaultPlan faults;
  std::int64_t health_interval_ms = 1'000;
  std::vector<Branch> branches;  // In the order of their events.
  // The build a plan file says it came from ("normal", "bug_epochalypse");
  // empty for a generated plan or a file that does not say.
  std::string build;
};

Plans generate_plans(const Knobs& knobs);

std::string describe(BankerOp op);
std::string describe(FaultOp op);
std::string describe(DiskOps ops);
std::string describe(Garbage garbage);
std::string describe_interaction(const Interaction& interaction);
std::string describe_fault(const Fault& fault);
std::string describe_swarm(const Swarm& swarm);
std::vector<std::string> swarm_kinds(const Swarm& swarm);  // The fault kinds a run has on, in a fixed order.
std::string describe_parameters(const Parameters& parameters);
std::size_t count_interactions(const Plans& plans);  // Banker interactions other than sleeps.
// The knob a plan's bankers match: the most entries other than sleeps in one
// banker's plan (what draw_knobs drew for a generated plan).
std::uint32_t interactions_per_banker_of(const Plans& plans);
// The batch of the pipeline mark at items[mark], as a banker gathers it: the
// next `count` requests, skipping the sleeps and marks between them. Returns
// where the batch ends; the requests' indices go to members.
std::size_t pipeline_batch_end(const std::vector<Interaction>& items, std::size_t mark,
                               std::vector<std::size_t>& members);
std::size_t count_faults(const Plans& plans);  // Faults other than sleeps.

}  // namespace bank_sim
