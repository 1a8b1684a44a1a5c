#pragma once
// The world of one simulation run: simulated time, the event queue, the run's
// PRNG and the trace. Single-threaded; owns nothing global.
//
// Time is milliseconds since the Unix epoch. It advances in steps of step_ms:
// every event is due on a step boundary, and idle stretches are skipped by
// jumping to the next due event, so a long sleep costs nothing. Events due at
// the same step run in an order drawn from the seed, so races between actors
// are explored rather than hidden by a fixed order.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/event_callback.hpp"
#include "sim/rng.hpp"

namespace sim {

using EventId = std::uint64_t;

class World {
 public:
  World(std::uint64_t seed, std::int64_t start_ms, std::int64_t step_ms);
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  std::int64_t now_ms() const { return now_ms_; }
  std::int64_t start_ms() const { return start_ms_; }
  std::int64_t step_ms() const { return step_ms_; }
  std::uint64_t steps() const { return static_cast<std::uint64_t>((now_ms_ - start_ms_) / step_ms_); }
  // The seed of an independent stream of randomness named `name` (a disk, a
  // link, a connection, an actor). Each source of randomness draws from its
  // own stream, so that what one actor does (or, when a plan is shrunk, no
  // longer does) does not reshuffle what every other one draws.
  std::uint64_t stream_seed(std::string_view name) const;

  // Runs callback at the first step boundary at or after now + delay_ms; a
  // delay of 0 runs it later in the current step, never inline. `kind` (a
  // string literal: "net deliver", "disk sync", ...) names the event in the
  // determinism hash and the event log.
  EventId schedule_after(std::int64_t delay_ms, const char* kind, EventCallback callback);
  void cancel(EventId id);

  // Runs the next event if it is due at or before until_ms. Returns false when
  // no such event remains (time then stays where it is).
  bool run_next(std::int64_t until_ms);
  std::int64_t next_event_ms() const;
  std::uint64_t events_run() const { return events_run_; }

  // The determinism hash: every event run (its time, its tie-break order
  // and its kind) is folded in, always, at O(1) per event; so is every line
  // an actor traces while tracing is on. When keep_trace is on, the events
  // and lines are kept too (one text line each, events as "event N +T ms
  // KIND"), to name the first difference between two runs.
  // Tracing is off unless kept: callers test tracing() before formatting a line.
  bool tracing() const { return keep_trace_; }
  // Storage lines too (syncs, failed disk operations, what a crash leaves):
  // for a failure's story and the debugger, where durability must be readable.
  bool tracing_storage() const { return keep_trace_ && trace_storage_; }
  void trace_storage(bool on) { trace_storage_ = on; }
  void trace(std::string_view line);
  std::uint64_t trace_hash() const { return trace_hash_; }
  void keep_trace(bool on) { keep_trace_ = on; }
  const std::vector<std::string>& trace_lines() const { return trace_lines_; }

  // Moves time forward to `ms` with no event run (a debugger stopping at a
  // quiet step): no event may be due before it. Invisible to the run: the
  // next event sets the time to its own due time, as it would have.
  void advance_to(std::int64_t ms);

  // A new universe from here on: every draw after this moment (event order,
  // and every MomentRng made with salt_source()) mixes in `salt`.
  void branch(std::uint64_t salt) { salt_ = mix64(salt ^ 0x6272616e6368ULL); }
  const std::uint64_t* salt_source() const { return &salt_; }

  // The events due, in the order they will run: (due time, kind), at most `limit`.
  std::vector<std::pair<std::int64_t, const char*>> pending(std::size_t limit) const;

 private:
  struct Entry {
    std::int64_t due_ms;
    std::uint64_t order;  // Drawn from the seed: shuffles events due at one step (see schedule_after).
    EventId id;
    // Whether this entry runs before `other`: by due time, then drawn order,
    // then id (never reached in practice; keeps the order total).
    bool before(const Entry& other) const {
      if (due_ms != other.due_ms) return due_ms < other.due_ms;
      if (order != other.order) return order < other.order;
      return id < other.id;
    }
  };
  // A four-ary min-heap of entries: half the levels of a binary heap, and a
  // node's children share a cache line or two. The order is total, so it pops
  // exactly what any other heap would.
  class EventHeap {
   public:
    bool empty() const { return entries_.empty(); }
    const Entry& top() const { return entries_.front(); }
    void push(const Entry& entry);
    void pop();

   private:
    static constexpr std::size_t arity = 4;
    std::vector<Entry> entries_;
  };
  // The event queue: most events are due within a few steps (deliveries,
  // disk operations), so those due within near_steps steps of the earliest
  // wait in a bucket per step, each kept sorted (a handful of entries), and
  // only later ones (sleeps, timeouts) in the heap. Pops the least entry of
  // the two by the same total order: the very sequence one heap would give.
  class EventQueue {
   public:
    EventQueue(std::int64_t start_ms, std::int64_t step_ms) : start_ms_(start_ms), step_ms_(step_ms) {}
    bool empty() const { return near_used_ == 0 && far_.empty(); }
    const Entry& top() const;
    void push(const Entry& entry);
    void pop();

   private:
    static constexpr std::uint64_t near_steps = 64;  // One bit each in near_used_.
    std::int64_t step_of(std::int64_t due_ms) const { return (due_ms - start_ms_) / step_ms_; }
    // The index of the bucket holding the least near entry (near_used_ != 0).
    std::size_t first_bucket() const;
    // Where the least entry is: a near bucket's last, or the heap's top.
    // Kept until the next push or pop (the run asks for it two or three times an event).
    struct Least {
      bool near;
      std::size_t bucket;
    };
    Least least() const;
    mutable Least least_{false, 0};
    mutable bool least_valid_ = false;

    std::int64_t start_ms_;
    std::int64_t step_ms_;
    // Steps [window_, window_ + near_steps) are near; bucket step % near_steps
    // holds the entries of that step, the least last. window_ only moves
    // forward, to the step of an entry popped, so no two steps share a bucket.
    std::int64_t window_ = 0;
    std::array<std::vector<Entry>, near_steps> near_;
    std::uint64_t near_used_ = 0;  // Bit b: bucket b is not empty.
    EventHeap far_;
  };

  std::int64_t now_ms_;
  std::int64_t start_ms_;
  std::int64_t step_ms_;
  std::uint64_t seed_;
  std::uint64_t salt_ = 0;  // Set by branch().
  // Events scheduled so far at the current time: with the time, names an
  // event's order draw, so that what is scheduled at one moment does not
  // shift the draws of every later moment.
  std::int64_t scheduling_at_ms_ = -1;
  std::uint64_t scheduling_at_hash_ = 0;  // mix64 of scheduling_at_ms_.
  std::uint64_t scheduled_at_this_ms_ = 0;
  // Callbacks live in slots reused through a free list; an EventId is the
  // slot's index plus its generation, so a stale id never cancels a newer event.
  // Generations start at 1: no event has id 0, which callers use for "none".
  struct Slot {
    EventCallback callback;
    const char* kind = nullptr;
    std::uint32_t generation = 1;
    bool live = false;
  };
  static EventId make_id(std::uint32_t index, std::uint32_t generation) {
    return (static_cast<EventId>(generation) << 32) | index;
  }
  Slot* find_live(EventId id);

  EventQueue queue_;
  // In chunks that never move: a slot stays where it is while its callback
  // runs in place and schedules more events.
  static constexpr std::uint32_t slots_per_chunk = 256;
  std::vector<std::unique_ptr<Slot[]>> slot_chunks_;
  std::uint32_t slot_count_ = 0;
  Slot& slot_at(std::uint32_t index) {
    return slot_chunks_[index / slots_per_chunk][index % slots_per_chunk];
  }
  const Slot& slot_at(std::uint32_t index) const {
    return slot_chunks_[index / slots_per_chunk][index % slots_per_chunk];
  }
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t events_run_ = 0;
  std::uint64_t trace_hash_ = 0xcbf29ce484222325ULL;
  bool keep_trace_ = false;
  bool trace_storage_ = false;
  std::vector<std::string> trace_lines_;
  void fold(std::uint64_t value);
  std::uint64_t kind_hash(const char* kind);
  std::array<std::pair<const char*, std::uint64_t>, 64> kind_hashes_{};
};

}  // namespace sim
