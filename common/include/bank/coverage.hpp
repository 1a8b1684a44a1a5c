#pragma once
// Coverage marks: the server's rare paths, named, so that a simulator can count
// which of them a sweep reached (as FoundationDB's code probes do) and say
// which it never did. A mark costs one increment of a per-thread counter; a
// simulator takes (and so resets) the counts around each run, so runs share
// nothing through them.

#include <array>
#include <cstdint>
#include <string_view>

namespace bank {

enum class Mark : std::uint8_t {
  torn_tail_cut,                    // Recovery cut an append a crash left unfinished.
  damaged_journal_refused,          // Recovery refused a record that was whole but damaged.
  damage_before_valid_record,       // ... and a valid record followed the damage.
  writeback_out_of_order,           // Recovery found a lost sector with bytes written later after it.
  torn_trailer_kept,                // Recovery kept a record whose trailer's end a power loss took.
  group_commit_shared,              // One sync answered more than one write.
  group_commit_held,                // A batch waited for the clients the last sync answered.
  group_commit_hold_expired,        // ...and they were not all back within the hold.
  key_replayed_while_syncing,       // A keyed retry arrived while its first attempt was syncing.
  reply_to_gone_client,             // A write became durable after its client had gone.
  reading_paused_for_backpressure,  // A connection's unsent replies passed the limit.
  idle_check_deferred,    // The idle timer found a silent connection busy (a write syncing, or paused).
  idle_close,             // A silent connection was told so and closed.
  disk_failure,           // An append or sync failed: writes stop until a restart.
  failed_write_cut_back,  // The journal was cut back to its last successful sync.
  write_refused_writes_disabled,     // A write came while writes were disabled.
  refusal_waits_for_sync,            // A refusal waited for the writes it rests on to be durable.
  write_refused_by_rules,            // A write was refused: already voided, a reversal, an overflow.
  frame_too_large,                   // A frame passed the size limit: the connection was closed.
  connection_refused_at_limit,       // A connection past the limit was told so and closed.
  write_pipelined,                   // A write was staged behind its connection's own write still syncing.
  request_waits_for_own_write,       // A read or void waited for its connection's earlier writes.
  prompt_held_for_answer,            // An amount prompt waited to leave with its answer's reply.
  input_ended_closes_after_replies,  // A client shut its sending side: answered, then closed.
  count_,
};

inline constexpr std::size_t mark_count = static_cast<std::size_t>(Mark::count_);
using MarkCounts = std::array<std::uint64_t, mark_count>;

std::string_view describe(Mark mark);

// Counts one pass through a marked path on this thread.
void mark(Mark mark);
// Returns this thread's counts since the last call, and starts again from zero.
MarkCounts take_marks_for_this_thread();

}  // namespace bank
