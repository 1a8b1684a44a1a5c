#pragma once
// Shrinking: from a failing run's plans, search for smaller plans that fail
// with the same invariant. Shrinks the world's queues, cuts every plan's tail,
// drops bankers, then removes interactions (a pipelined batch as one) and
// faults in chunks, coarse to fine (delta debugging), each removed chunk
// replaced by a sleep as long as it took so that what follows keeps its
// timing; thins pipelined batches; shortens sleeps and fault durations and
// simplifies amounts and ids; at a fixed point tries each candidate in more
// universes; repeats until nothing more goes or the budget of runs is spent.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plan.hpp"
#include "run.hpp"

namespace bank_sim {

struct ShrinkResult {
  Plans minimal;
  RunResult result;  // The minimal plans' failing run.
  std::size_t runs = 0;
  bool budget_spent = false;
};

// Most runs one shrink spends by default. Runs of a shrunk plan take well
// under a millisecond; a timing-bound failure (a power loss at the worst
// moment, a calm stretch for liveness) may need a few thousand.
inline constexpr std::size_t shrink_budget_default = 4000;

ShrinkResult shrink(const Plans& failing, const std::string& invariant, std::size_t runs_max);

// Numbered story of a run: who did what at which simulated time, and what the
// checker saw. From a run made with keep_trace.
std::string tell_story(const RunResult& result);

std::size_t plan_size(const Plans& plans);  // Interactions and faults, sleeps excluded.

// A list of a plan without entries [begin, end) and the sleeps right after
// them, which give way to one sleep (merged into a sleep before them) as long
// as all of that took in a run where entry i began at started[i] (-1: never;
// that run failed at failed_at_ms): what follows begins when it did. Without
// the timing of that list, the entries just go.
std::vector<Interaction> replaced_by_sleep(const std::vector<Interaction>& items, std::size_t begin,
                                           std::size_t end, const std::vector<std::int64_t>& started,
                                           std::int64_t failed_at_ms);
std::vector<Fault> replaced_by_sleep(const std::vector<Fault>& faults, std::size_t begin, std::size_t end,
                                     const std::vector<std::int64_t>& started, std::int64_t failed_at_ms);

}  // namespace bank_sim
