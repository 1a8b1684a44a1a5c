#pragma once
// One simulation run: a pure function of its plans (which hold the seed and
// knobs). Same plans, same bytes out.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors.hpp"
#include "bank/coverage.hpp"
#include "bank/log.hpp"
#include "model.hpp"
#include "plan.hpp"

namespace bank_sim {

struct RunOptions {
  bank::LogLevel log_level = bank::LogLevel::warn;
  bool keep_trace = false;       // Keep every trace line, to name the first difference between two runs.
  bool record_timeline = false;  // Record the run as Perfetto/Chrome trace JSON.
};

struct RunResult {
  Knobs knobs;
  std::optional<Failure> failure;
  std::uint64_t steps = 0;
  std::int64_t simulated_ms = 0;
  std::uint64_t events = 0;
  RunStats stats;
  std::uint64_t acknowledged_writes = 0;
  std::int64_t liveness_deadline_ms = 0;
  std::optional<std::int64_t> recovery_ms;  // From the heal to the last actor's first success.
  bool duration_reached = false;
  std::uint64_t trace_hash = 0;
  std::vector<std::string> trace_lines;
  std::string log;
  std::string timeline_json;
  bank::MarkCounts marks{};
  // When each entry of each plan began (world time; -1: never): per banker, and the fault plan's.
  std::vector<std::vector<std::int64_t>> banker_entry_started_ms;
  std::vector<std::int64_t>
      fault_entry_started_ms;  // How often the run passed each of the server's coverage marks.
  bool passed() const { return !failure.has_value(); }
};

RunResult run_simulation(const Plans& plans, const RunOptions& options);

}  // namespace bank_sim
