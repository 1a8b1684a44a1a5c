#pragma once
// Log lines of one run carry the simulated time, the step and the actor's
// name, and go to the run's own buffer: parallel runs never interleave.

#include <string>

#include "bank/log.hpp"
#include "sim/world.hpp"

namespace bank_sim {

// One line of a run's log: the simulated time, the step, the level and the actor.
inline void append_log_line(std::string& out, const sim::World& world, bank::LogLevel level,
                            std::string_view actor, std::string_view message) {
  const std::int64_t elapsed_ms = world.now_ms() - world.start_ms();
  fmt::format_to(std::back_inserter(out), "  [+{}.{:03}s step {}] {:<5} {:<9} {}\n", elapsed_ms / 1000,
                 elapsed_ms % 1000, world.steps(), bank::describe(level), actor, message);
}

class SimLogger final : public bank::Logger {
 public:
  SimLogger(sim::World& world, std::string actor, bank::LogLevel level, std::string& out)
      : Logger(level), world_(world), actor_(std::move(actor)), out_(out) {}

 protected:
  void write(bank::LogLevel level, std::string_view message) override {
    append_log_line(out_, world_, level, actor_, message);
  }

 private:
  sim::World& world_;
  std::string actor_;
  std::string& out_;
};

}  // namespace bank_sim
