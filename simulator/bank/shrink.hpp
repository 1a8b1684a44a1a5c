#pragma once
// Shrinking: from a failing run's plans, search for smaller plans that fail
// with the same invariant. Drops bankers, then interactions and faults in
// chunks and one by one (delta debugging), then shortens sleeps and fault
// durations and simplifies amounts and ids; repeats to a fixed point or until
// the budget of runs is spent.

#include <cstddef>
#include <string>

#include "plan.hpp"
#include "run.hpp"

namespace bank_sim {

struct ShrinkResult {
  Plans minimal;
  RunResult result;  // The minimal plans' failing run.
  std::size_t runs = 0;
  bool budget_spent = false;
};

ShrinkResult shrink(const Plans& failing, const std::string& invariant, std::size_t runs_max);

// Numbered story of a run: who did what at which simulated time, and what the
// checker saw. From a run made with keep_trace.
std::string tell_story(const RunResult& result);

std::size_t plan_size(const Plans& plans);  // Interactions and faults, sleeps excluded.

}  // namespace bank_sim
