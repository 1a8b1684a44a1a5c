#include "sim/world.hpp"

#include <algorithm>

namespace sim {

World::World(std::uint64_t seed, std::int64_t start_ms, std::int64_t step_ms)
    : now_ms_(start_ms), start_ms_(start_ms), step_ms_(step_ms), seed_(seed), queue_(start_ms, step_ms) {
  BANK_ASSERT(step_ms > 0);
  BANK_ASSERT(start_ms >= 0);
}

std::uint64_t World::stream_seed(std::string_view name) const {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a of the name, mixed with the run's seed.
  for (const char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return mix64(seed_ ^ mix64(hash));
}

EventId World::schedule_after(std::int64_t delay_ms, const char* kind, EventCallback callback) {
  BANK_ASSERT(delay_ms >= 0);
  std::int64_t due_ms = now_ms_;
  if (delay_ms > 0) {
    // Round up to the next step boundary, at least one step ahead.
    const std::int64_t steps_ahead = (delay_ms + step_ms_ - 1) / step_ms_;
    BANK_ASSERT(steps_ahead <= (INT64_MAX - now_ms_) / step_ms_);
    due_ms = now_ms_ + steps_ahead * step_ms_;
  }
  std::uint32_t index = 0;
  if (free_slots_.empty()) {
    index = slot_count_++;
    if (index % slots_per_chunk == 0) slot_chunks_.push_back(std::make_unique<Slot[]>(slots_per_chunk));
  } else {
    index = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& slot = slot_at(index);
  BANK_ASSERT(!slot.live);
  slot.callback = std::move(callback);
  slot.kind = kind;
  slot.live = true;
  const EventId id = make_id(index, slot.generation);
  if (scheduling_at_ms_ != now_ms_) {
    scheduling_at_ms_ = now_ms_;
    scheduling_at_hash_ = mix64(static_cast<std::uint64_t>(now_ms_));
    scheduled_at_this_ms_ = 0;
  }
  const std::uint64_t order = mix64(seed_ ^ salt_ ^ mix64(scheduling_at_hash_ + scheduled_at_this_ms_++));
  queue_.push(Entry{due_ms, order, id});
  return id;
}

void World::EventHeap::push(const Entry& entry) {
  std::size_t at = entries_.size();
  entries_.push_back(entry);
  while (at > 0) {
    const std::size_t parent = (at - 1) / arity;
    if (!entry.before(entries_[parent])) break;
    entries_[at] = entries_[parent];
    at = parent;
  }
  entries_[at] = entry;
}

void World::EventHeap::pop() {
  const Entry last = entries_.back();
  entries_.pop_back();
  const std::size_t size = entries_.size();
  if (size == 0) return;
  std::size_t at = 0;
  for (;;) {
    const std::size_t first_child = at * arity + 1;
    if (first_child >= size) break;
    std::size_t best = first_child;
    const std::size_t end = std::min(first_child + arity, size);
    for (std::size_t child = first_child + 1; child < end; ++child) {
      if (entries_[child].before(entries_[best])) best = child;
    }
    if (!entries_[best].before(last)) break;
    entries_[at] = entries_[best];
    at = best;
  }
  entries_[at] = last;
}

std::size_t World::EventQueue::first_bucket() const {
  // Buckets from window_'s on, wrapping around: rotate the used bits so that
  // window_'s bucket comes first.
  const auto shift = static_cast<unsigned>(static_cast<std::uint64_t>(window_) % near_steps);
  const std::uint64_t rotated =
      shift == 0 ? near_used_ : (near_used_ >> shift) | (near_used_ << (64 - shift));
  return (shift + static_cast<unsigned>(__builtin_ctzll(rotated))) % near_steps;
}

World::EventQueue::Least World::EventQueue::least() const {
  if (least_valid_) return least_;
  least_valid_ = true;
  if (near_used_ == 0) return least_ = Least{false, 0};
  const std::size_t bucket = first_bucket();
  return least_ = Least{far_.empty() || near_[bucket].back().before(far_.top()), bucket};
}

const World::Entry& World::EventQueue::top() const {
  const Least at = least();
  return at.near ? near_[at.bucket].back() : far_.top();
}

void World::EventQueue::push(const Entry& entry) {
  least_valid_ = false;
  const std::int64_t step = step_of(entry.due_ms);
  BANK_ASSERT(step >= window_);
  if (step - window_ >= static_cast<std::int64_t>(near_steps)) {
    far_.push(entry);
    return;
  }
  const auto index = static_cast<std::size_t>(static_cast<std::uint64_t>(step) % near_steps);
  std::vector<Entry>& bucket = near_[index];
  // Sorted with the least last: walk in from the back past the lesser ones.
  auto at = bucket.end();
  while (at != bucket.begin() && (at - 1)->before(entry)) --at;
  bucket.insert(at, entry);
  near_used_ |= std::uint64_t{1} << index;
}

void World::EventQueue::pop() {
  std::int64_t step = 0;
  const Least at = least();
  least_valid_ = false;
  if (at.near) {
    const std::size_t index = at.bucket;
    std::vector<Entry>& bucket = near_[index];
    step = step_of(bucket.back().due_ms);
    bucket.pop_back();
    if (bucket.empty()) near_used_ &= ~(std::uint64_t{1} << index);
  } else {
    step = step_of(far_.top().due_ms);
    far_.pop();
  }
  // Nothing queued is due before what was just popped.
  if (step > window_) window_ = step;
}

World::Slot* World::find_live(EventId id) {
  const auto index = static_cast<std::uint32_t>(id & 0xffffffffu);
  if (index >= slot_count_) return nullptr;
  Slot& slot = slot_at(index);
  if (!slot.live || slot.generation != static_cast<std::uint32_t>(id >> 32)) return nullptr;
  return &slot;
}

void World::cancel(EventId id) {
  Slot* slot = find_live(id);
  if (slot == nullptr) return;
  // The slot is freed when its queue entry is popped, so it cannot be reused
  // while that entry is still queued.
  slot->callback = nullptr;
  slot->live = false;
}

std::int64_t World::next_event_ms() const {
  // Cancelled entries stay queued until popped; their due time is only a bound.
  return queue_.empty() ? INT64_MAX : queue_.top().due_ms;
}

bool World::run_next(std::int64_t until_ms) {
  while (!queue_.empty()) {
    const Entry entry = queue_.top();
    if (entry.due_ms > until_ms) return false;
    queue_.pop();
    const auto index = static_cast<std::uint32_t>(entry.id & 0xffffffffu);
    Slot& slot = slot_at(index);
    const bool live = slot.live;
    // No longer live (a cancel() from inside the callback finds nothing) and
    // not yet free (nothing scheduled meanwhile takes the slot): the callback
    // runs in place, then the slot is freed.
    slot.live = false;
    if (++slot.generation == 0) slot.generation = 1;
    struct Release {
      World& world;
      Slot& slot;
      std::uint32_t index;
      ~Release() {
        slot.callback = nullptr;
        world.free_slots_.push_back(index);
      }
    } release{*this, slot, index};
    if (!live) continue;  // Cancelled.
    BANK_ASSERT(entry.due_ms >= now_ms_);
    now_ms_ = entry.due_ms;
    ++events_run_;
    fold(static_cast<std::uint64_t>(now_ms_));
    fold(entry.order);
    fold(kind_hash(slot.kind));
    if (keep_trace_) {
      trace_lines_.push_back("event " + std::to_string(events_run_) + " " + std::to_string(now_ms_) + " " +
                             slot.kind);
    }
    slot.callback();
    return true;
  }
  return false;
}

void World::advance_to(std::int64_t ms) {
  BANK_ASSERT(ms >= now_ms_ && ms <= next_event_ms());
  now_ms_ = ms;
}

// One mixing step per value: O(1) per event.
void World::fold(std::uint64_t value) {
  trace_hash_ = mix64(trace_hash_ ^ value);
}

// FNV-1a of the kind's text (never its address, which differs between
// processes), remembered by address: kinds are string literals.
std::uint64_t World::kind_hash(const char* kind) {
  auto& slot = kind_hashes_[(reinterpret_cast<std::uintptr_t>(kind) >> 3) % kind_hashes_.size()];
  if (slot.first != kind) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char* c = kind; *c != '\0'; ++c)
      hash = (hash ^ static_cast<unsigned char>(*c)) * 0x100000001b3ULL;
    slot = {kind, hash};
  }
  return slot.second;
}

void World::trace(std::string_view line) {
  if (!keep_trace_) return;
  fold(static_cast<std::uint64_t>(now_ms_));
  for (char c : line) {
    trace_hash_ ^= static_cast<unsigned char>(c);
    trace_hash_ *= 0x100000001b3ULL;
  }
  fold(0);
  trace_lines_.push_back(std::to_string(now_ms_) + " " + std::string(line));
}

std::vector<std::pair<std::int64_t, const char*>> World::pending(std::size_t limit) const {
  auto queue = queue_;
  std::vector<std::pair<std::int64_t, const char*>> out;
  while (!queue.empty() && out.size() < limit) {
    const Entry entry = queue.top();
    queue.pop();
    const auto index = static_cast<std::uint32_t>(entry.id & 0xffffffffu);
    if (const Slot& slot = slot_at(index);
        slot.live && slot.generation == static_cast<std::uint32_t>(entry.id >> 32)) {
      out.emplace_back(entry.due_ms, slot.kind);
    }
  }
  return out;
}

}  // namespace sim
