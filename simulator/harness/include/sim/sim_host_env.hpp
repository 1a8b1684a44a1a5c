#pragma once
// What one simulated node sees of time: its own wall clock (the world's time
// plus an offset that can step either way, as NTP does to real servers), a
// monotonic clock, and timers that all die with the node.

#include <cstdint>
#include <functional>
#include <map>

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
                                                  live_.erase(id);
                                                  callback();
                                                });
    live_.emplace(id, event);
    return id;
  }
  void cancel_timer(bank::TimerId id) override {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    world_.cancel(it->second);
    live_.erase(it);
  }
  // The node crashed: no timer of it may fire.
  void cancel_all() {
    for (auto& [id, event] : live_) world_.cancel(event);
    live_.clear();
  }

 private:
  World& world_;
  std::map<bank::TimerId, EventId> live_;
  bank::TimerId next_id_ = 1;
};

}  // namespace sim
