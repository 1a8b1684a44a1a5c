#pragma once
// What one simulated node sees of time: its own wall clock (the world's time
// plus an offset that can step either way, as NTP does to real servers), a
// monotonic clock, and timers that all die with the node.

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "bank/io.hpp"
#include "sim/world.hpp"

namespace sim {

class SimClock final : public bank::Clock {
 public:
  explicit SimClock(World& world) : world_(world) {}
  std::int64_t realtime_ms() const override { return world_.now_ms() + offset_ms_; }
  std::int64_t monotonic_ms() const override { return world_.now_ms() - world_.start_ms(); }
  // A clock step: positive jumps ahead, negative goes back.
  void step(std::int64_t delta_ms) { offset_ms_ += delta_ms; }
  std::int64_t offset_ms() const { return offset_ms_; }

 private:
  World& world_;
  std::int64_t offset_ms_ = 0;
};

class SimTimers final : public bank::Timers {
 public:
  explicit SimTimers(World& world) : world_(world) {}
  ~SimTimers() override { cancel_all(); }
  bank::TimerId start_timer(std::int64_t delay_ms, std::function<void()> callback) override {
    const bank::TimerId id = next_id_++;
    const EventId event = world_.schedule_after(std::max<std::int64_t>(0, delay_ms), "server timer",
                                                [this, id, callback = std::move(callback)] {
                                                  forget(id);
                                                  callback();
                                                });
    live_.emplace_back(id, event);
    return id;
  }
  void cancel_timer(bank::TimerId id) override {
    if (const EventId event = forget(id); event != 0) world_.cancel(event);
  }
  // The node crashed: no timer of it may fire.
  void cancel_all() {
    for (auto& [id, event] : live_) world_.cancel(event);
    live_.clear();
  }

 private:
  // Takes a live timer off the list: its event, or 0 if it is not live.
  EventId forget(bank::TimerId id) {
    // A server has a timer or two per connection; the newest are looked for most.
    for (auto it = live_.rbegin(); it != live_.rend(); ++it) {
      if (it->first != id) continue;
      const EventId event = it->second;
      *it = live_.back();
      live_.pop_back();
      return event;
    }
    return 0;
  }

  World& world_;
  std::vector<std::pair<bank::TimerId, EventId>> live_;  // Unordered; no allocation per timer.
  bank::TimerId next_id_ = 1;
};

}  // namespace sim
