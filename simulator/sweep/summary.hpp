#pragma once
// The summary of a sweep, accumulated from its run records one at a time (a
// campaign of a million runs keeps only counts and its failures), and
// printed the same way by a sweep and by a merge of shards.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "record.hpp"

namespace bank_sim::sweep {

// A 95% Wilson score interval for a rate of `hits` in `trials` (both bounds in [0, 1]).
std::pair<double, double> wilson95(std::uint64_t hits, std::uint64_t trials);

// Failing runs of one bug: the same broken invariant and the same shape of
// shrunk story.
struct FailureGroup {
  std::uint64_t count = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> first_runs;  // (index, seed) of the first few.
  std::uint64_t first_index = 0;
  std::string replay;  // The first run's.
  std::uint64_t shrunk_size = 0;
  std::string story;
  std::string minimal_plan;
};

// How many failing seeds a group lists by number.
inline constexpr std::size_t group_seeds_listed_max = 8;

struct Summary {
  std::uint64_t runs = 0;
  std::uint64_t failed = 0;
  std::uint64_t interactions = 0;
  std::uint64_t faults = 0;
  std::int64_t simulated_ms = 0;
  std::array<std::uint64_t, bank::mark_count> runs_reaching{};
  std::map<std::pair<std::string, std::string>, FailureGroup> groups;  // By (invariant, shape).
  std::string planted_bug;
  // Which features fail: for each of the swarm's switches and knob bands
  // (a fault kind on, a band of banker counts, of step lengths, of start
  // times), the runs that had it and how many of those failed.
  struct Tally {
    std::uint64_t runs = 0;
    std::uint64_t failed = 0;
  };
  std::map<std::string, Tally> features;

  void add(const RunRecord& record);
};

// The summary's text. `wall` names the wall time ("in 1.23 s wall"); the
// rest depends on the records alone.
std::string format_summary(const Summary& summary, const std::string& wall);

// One JSON line for the summary record of --report-json.
std::string summary_json_line(const Summary& summary, double wall_s, bool interrupted);

std::string format_duration_ms(std::int64_t ms);

}  // namespace bank_sim::sweep
