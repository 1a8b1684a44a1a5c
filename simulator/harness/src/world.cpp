#include "sim/world.hpp"

namespace sim {

World::World(std::uint64_t seed, std::int64_t start_ms, std::int64_t step_ms)
    : now_ms_(start_ms), start_ms_(start_ms), step_ms_(step_ms), rng_(seed) {
  BANK_ASSERT(step_ms > 0);
  BANK_ASSERT(start_ms >= 0);
}

EventId World::schedule_after(std::int64_t delay_ms, std::function<void()> callback) {
  BANK_ASSERT(delay_ms >= 0);
  std::int64_t due_ms = now_ms_;
  if (delay_ms > 0) {
    // Round up to the next step boundary, at least one step ahead.
    const std::int64_t steps_ahead = (delay_ms + step_ms_ - 1) / step_ms_;
    BANK_ASSERT(steps_ahead <= (INT64_MAX - now_ms_) / step_ms_);
    due_ms = now_ms_ + steps_ahead * step_ms_;
  }
  const EventId id = id_next_++;
  queue_.push(Entry{due_ms, rng_.next(), id});
  callbacks_.emplace(id, std::move(callback));
  return id;
}

void World::cancel(EventId id) { callbacks_.erase(id); }

std::int64_t World::next_event_ms() const {
  // Cancelled entries stay queued until popped; their due time is only a bound.
  return queue_.empty() ? INT64_MAX : queue_.top().due_ms;
}

bool World::run_next(std::int64_t until_ms) {
  while (!queue_.empty()) {
    const Entry entry = queue_.top();
    if (entry.due_ms > until_ms) return false;
    queue_.pop();
    auto it = callbacks_.find(entry.id);
    if (it == callbacks_.end()) continue;  // Cancelled.
    std::function<void()> callback = std::move(it->second);
    callbacks_.erase(it);
    BANK_ASSERT(entry.due_ms >= now_ms_);
    now_ms_ = entry.due_ms;
    ++events_run_;
    callback();
    return true;
  }
  return false;
}

void World::trace(std::string_view line) {
  // FNV-1a over the line and the time it happened at.
  auto fold = [this](unsigned char byte) {
    trace_hash_ ^= byte;
    trace_hash_ *= 0x100000001b3ULL;
  };
  for (int i = 0; i < 8; ++i) fold(static_cast<unsigned char>(static_cast<std::uint64_t>(now_ms_) >> (8 * i)));
  for (char c : line) fold(static_cast<unsigned char>(c));
  fold(0);
  if (keep_trace_) trace_lines_.push_back(std::to_string(now_ms_) + " " + std::string(line));
}

}  // namespace sim
