#include "summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace bank_sim::sweep {

std::pair<double, double> wilson95(std::uint64_t hits, std::uint64_t trials) {
  if (trials == 0) return {0.0, 1.0};
  constexpr double z = 1.959963984540054;  // The 97.5th percentile of the normal distribution.
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(hits) / n;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::string format_duration_ms(std::int64_t ms) {
  if (ms < 10'000) return fmt::format("{} ms", ms);
  if (ms < 7'200'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1e3);
  if (ms < 172'800'000) return fmt::format("{:.1f} h", static_cast<double>(ms) / 3.6e6);
  return fmt::format("{:.1f} days", static_cast<double>(ms) / 8.64e7);
}

namespace {

void add_to_group(FailureGroup& group, const RunRecord& record) {
  ++group.count;
  if (group.count == 1 || record.index < group.first_index) {
    group.first_index = record.index;
    group.replay = record.replay;
    group.shrunk_size = record.shrunk_size;
    group.story = record.story;
    group.minimal_plan = record.minimal_plan;
  }
  // The seeds of the lowest run indices, whatever order the records came in.
  group.first_runs.emplace_back(record.index, record.seed);
  std::sort(group.first_runs.begin(), group.first_runs.end());
  if (group.first_runs.size() > group_seeds_listed_max) group.first_runs.pop_back();
}

// Findability: how often one seed finds it, and how many seeds that takes.
std::string findability(std::uint64_t hits, std::uint64_t runs) {
  const auto [low, high] = wilson95(hits, runs);
  return fmt::format("one seed in {:.1f}; 95% interval {:.1f}%-{:.1f}%",
                     static_cast<double>(runs) / static_cast<double>(hits), 100 * low, 100 * high);
}

}  // namespace

void Summary::add(const RunRecord& record) {
  ++runs;
  interactions += record.interactions;
  faults += record.faults;
  simulated_ms += record.simulated_ms;
  planted_bug = record.planted_bug;
  for (std::size_t m = 0; m < bank::mark_count; ++m) runs_reaching[m] += record.marks[m] > 0 ? 1 : 0;
  if (record.passed) return;
  ++failed;
  auto& [count, first] = by_invariant[record.invariant];
  ++count;
  if (count == 1 || record.index < first.first_index) {
    first.first_index = record.index;
    first.replay = record.replay;
  }
  add_to_group(groups[{record.invariant, record.shape}], record);
}

std::string format_summary(const Summary& s, const std::string& wall) {
  const char* plural = s.runs == 1 ? "" : "s";
  std::string out =
      fmt::format("summary: {} run{}, {} passed, {} failed; {} interactions, {} faults, {} simulated {}\n",
                  s.runs, plural, s.runs - s.failed, s.failed, s.interactions, s.faults,
                  format_duration_ms(s.simulated_ms), wall);
  for (const auto& [invariant, tally] : s.by_invariant) {
    const auto& [count, first] = tally;
    out += fmt::format("  '{}' failed in {} of {} run{} ({}); replay the first: {}\n", invariant, count,
                       s.runs, plural, findability(count, s.runs), first.replay);
    for (const auto& [key, group] : s.groups) {
      if (key.first != invariant || key.second.empty()) continue;
      std::string seeds;
      for (const auto& [index, seed] : group.first_runs)
        seeds += fmt::format("{}{}", seeds.empty() ? "" : ", ", seed);
      out += fmt::format("    {} run{} shrink to {} (seed{} {}{}); the first's minimal plan: {}\n",
                         group.count, group.count == 1 ? "" : "s", key.second, group.count == 1 ? "" : "s",
                         seeds, group.count > group.first_runs.size() ? ", ..." : "", group.minimal_plan);
    }
  }
  std::string reached;
  std::string missed;
  std::size_t reached_count = 0;
  for (std::size_t m = 0; m < bank::mark_count; ++m) {
    const std::string_view name = bank::describe(static_cast<bank::Mark>(m));
    if (s.runs_reaching[m] == 0) {
      missed += fmt::format("{}{}", missed.empty() ? "" : ", ", name);
    } else {
      ++reached_count;
      reached += fmt::format("{}{} {}", reached.empty() ? "" : ", ", name, s.runs_reaching[m]);
    }
  }
  out += fmt::format("  coverage: {} of {} marks reached (runs reaching each: {})\n", reached_count,
                     bank::mark_count, reached.empty() ? "none" : reached);
  if (!missed.empty()) out += fmt::format("  never reached: {}\n", missed);
  if (s.failed == 0 && s.runs > 1) {
    const double n = static_cast<double>(s.runs);
    out += fmt::format(
        "  {} clean runs in a row: a bug that fails one run in N has about a {:.0f}% chance of hiding from a "
        "sweep this size when N = {}\n",
        s.runs, 100.0 * std::pow(1.0 - 1.0 / n, n), s.runs);
  }
  return out;
}

std::string summary_json_line(const Summary& s, double wall_s, bool interrupted) {
  using json = nlohmann::ordered_json;
  json coverage = json::object();
  for (std::size_t m = 0; m < bank::mark_count; ++m) {
    coverage[std::string(bank::describe(static_cast<bank::Mark>(m)))] = s.runs_reaching[m];
  }
  json failures = json::array();
  for (const auto& [key, group] : s.groups) {
    const auto [low, high] = wilson95(group.count, s.runs);
    json seeds = json::array();
    for (const auto& run : group.first_runs) seeds.push_back(run.second);
    failures.push_back({{"invariant", key.first},
                        {"shape", key.second},
                        {"runs", group.count},
                        {"first_run", group.first_index + 1},
                        {"first_seeds", seeds},
                        {"rate", static_cast<double>(group.count) / static_cast<double>(s.runs)},
                        {"wilson95", {low, high}},
                        {"replay", group.replay},
                        {"shrunk_size", group.shrunk_size},
                        {"minimal_plan", group.minimal_plan}});
  }
  const auto [low, high] = wilson95(s.failed, s.runs);
  const json out = {{"type", "summary"},
                    {"planted_bug", s.planted_bug},
                    {"runs", s.runs},
                    {"passed", s.runs - s.failed},
                    {"failed", s.failed},
                    {"failure_rate_wilson95", {low, high}},
                    {"interactions", s.interactions},
                    {"faults", s.faults},
                    {"simulated_ms", s.simulated_ms},
                    {"wall_s", wall_s},
                    {"interrupted", interrupted},
                    {"coverage", coverage},
                    {"failures", failures}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace bank_sim::sweep
