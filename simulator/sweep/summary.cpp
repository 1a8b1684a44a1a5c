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

// The features of a run the table counts (true: the run has it), each named
// so that names sort into groups. Every fault kind is listed, on or off.
std::vector<std::pair<std::string, bool>> features_of(const RunRecord& r) {
  std::vector<std::pair<std::string, bool>> out;
  for (const char* kind : {"crashes", "power_losses", "partitions", "clogs", "disk_errors", "slow_disk",
                           "clock_steps", "corruption", "network_corners"}) {
    const bool on = std::find(r.fault_kinds.begin(), r.fault_kinds.end(), kind) != r.fault_kinds.end();
    out.emplace_back(fmt::format("faults: {}", kind), on);
  }
  out.emplace_back(r.bankers <= 1    ? "knobs: 1 banker"
                   : r.bankers <= 5  ? "knobs: 2-5 bankers"
                   : r.bankers <= 15 ? "knobs: 6-15 bankers"
                                     : "knobs: over 15 bankers",
                   true);
  out.emplace_back(r.step_ms <= 1      ? "knobs: steps of 1 ms"
                   : r.step_ms < 1'000 ? "knobs: steps of 2-999 ms"
                                       : "knobs: steps of 1 s or more",
                   true);
  // A start within a day before a boundary that a run may cross.
  constexpr std::int64_t day_ms = 86'400'000;
  const std::int64_t start = r.epoch_offset_ms;
  const auto near = [&](std::int64_t boundary_ms) {
    return start <= boundary_ms && boundary_ms - start <= day_ms;
  };
  out.emplace_back(near(2'147'483'648'000LL)   ? "knobs: start just before 2^31 s (2038)"
                   : near(4'294'967'296'000LL) ? "knobs: start just before 2^32 s (2106)"
                   : near(9'223'372'036'854LL) ? "knobs: start just before 2^63 ns (2262)"
                                               : "knobs: start elsewhere",
                   true);
  return out;
}

std::string rate(std::uint64_t failed, std::uint64_t runs) {
  if (runs == 0) return fmt::format("{:>15}", "no runs");
  return fmt::format("{:>6}/{:<6} {:5.1f}%", failed, runs,
                     100.0 * static_cast<double>(failed) / static_cast<double>(runs));
}

}  // namespace

void Summary::add(const RunRecord& record) {
  ++runs;
  interactions += record.interactions;
  faults += record.faults;
  simulated_ms += record.simulated_ms;
  planted_bug = record.planted_bug;
  for (const auto& [feature, has] : features_of(record)) {
    Tally& tally = features[feature];
    tally.runs += has ? 1 : 0;
    tally.failed += has && !record.passed ? 1 : 0;
  }
  for (std::size_t m = 0; m < bank::mark_count; ++m) runs_reaching[m] += record.marks[m] > 0 ? 1 : 0;
  if (record.passed) return;
  ++failed;
  add_to_group(groups[{record.invariant, record.shape}], record);
}

std::string format_summary(const Summary& s, const std::string& wall) {
  const char* plural = s.runs == 1 ? "" : "s";
  std::string out =
      fmt::format("summary: {} run{}, {} passed, {} failed; {} interactions, {} faults, {} simulated {}\n",
                  s.runs, plural, s.runs - s.failed, s.failed, s.interactions, s.faults,
                  format_duration_ms(s.simulated_ms), wall);
  // Groups are ordered by invariant: each invariant's line, then its groups.
  for (auto it = s.groups.begin(); it != s.groups.end();) {
    const std::string& invariant = it->first.first;
    auto end = it;
    std::uint64_t count = 0;
    const FailureGroup* first = &it->second;
    for (; end != s.groups.end() && end->first.first == invariant; ++end) {
      count += end->second.count;
      if (end->second.first_index < first->first_index) first = &end->second;
    }
    out += fmt::format("  '{}' failed in {} of {} run{} ({}); replay the first: {}\n", invariant, count,
                       s.runs, plural, findability(count, s.runs), first->replay);
    for (; it != end; ++it) {
      const auto& [key, group] = *it;
      if (key.second.empty()) continue;
      std::string seeds;
      for (const auto& [index, seed] : group.first_runs)
        seeds += fmt::format("{}{}", seeds.empty() ? "" : ", ", seed);
      out += fmt::format("    {} run{} shrink to {} (seed{} {}{}); the first's minimal plan: {}\n",
                         group.count, group.count == 1 ? "" : "s", key.second, group.count == 1 ? "" : "s",
                         seeds, group.count > group.first_runs.size() ? ", ..." : "", group.minimal_plan);
    }
  }
  if (s.failed > 0) {
    out += fmt::format("  which features fail: failed/runs with it, and without it\n");
    for (const auto& [feature, tally] : s.features) {
      out += fmt::format("    {:44} with {}   without {}\n", feature, rate(tally.failed, tally.runs),
                         rate(s.failed - tally.failed, s.runs - tally.runs));
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
    // The largest failure rate that still leaves 5% odds of this many clean runs in a row.
    const double rate = 1.0 - std::pow(0.05, 1.0 / static_cast<double>(s.runs));
    out += fmt::format(
        "  {} clean runs in a row: with 95% confidence, no bug these runs can find fails more than 1 run in "
        "{:.0f} (a rarer one needs a longer sweep)\n",
        s.runs, std::floor(1.0 / rate));
  }
  return out;
}

std::string summary_json_line(const Summary& s, double wall_s, bool interrupted) {
  using json = nlohmann::ordered_json;
  json coverage = json::object();
  for (std::size_t m = 0; m < bank::mark_count; ++m) {
    coverage[std::string(bank::describe(static_cast<bank::Mark>(m)))] = s.runs_reaching[m];
  }
  json features = json::object();
  for (const auto& [feature, tally] : s.features)
    features[feature] = {{"runs", tally.runs}, {"failed", tally.failed}};
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
                    {"features", features},
                    {"failures", failures}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace bank_sim::sweep
