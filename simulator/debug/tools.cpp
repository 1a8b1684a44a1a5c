#include "tools.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bank/planted_bugs.hpp"
#include "debugger.hpp"
#include "dst_demo/prompt.hpp"
#include "plan_file.hpp"
#include "run.hpp"
#include "sweep/run_one.hpp"

namespace bank_sim::debug {

namespace {

std::string offset(std::int64_t ms) {
  return fmt::format("+{}.{:03}s", ms / 1000, ms % 1000);
}

// A small line chart of the fraction of futures that fail, against simulated time.
std::string likelihood_svg(const std::vector<std::pair<std::int64_t, double>>& points, std::int64_t end_ms,
                           const std::string& title) {
  constexpr int width = 640;
  constexpr int height = 260;
  constexpr int left = 60;
  constexpr int right = 20;
  constexpr int top = 40;
  constexpr int bottom = 40;
  const double span = static_cast<double>(std::max<std::int64_t>(end_ms, 1));
  const auto x = [&](std::int64_t ms) {
    return left + (width - left - right) * static_cast<double>(ms) / span;
  };
  const auto y = [&](double f) { return top + (height - top - bottom) * (1.0 - f); };
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"14\">{}</text>\n",
      width, height, left, title);
  for (const double f : {0.0, 0.5, 1.0}) {
    out += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.0f}%</text>\n",
        left, y(f), width - right, y(f), left - 6, y(f) + 4, 100 * f);
  }
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">simulated time from the start (to {})</text>\n",
      (left + width - right) / 2, height - 10, offset(end_ms));
  out += "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" points=\"";
  for (const auto& [ms, f] : points) out += fmt::format("{:.1f},{:.1f} ", x(ms), y(f));
  out += "\"/>\n";
  for (const auto& [ms, f] : points) {
    out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#c0392b\"/>\n", x(ms), y(f));
  }
  return out + "</svg>\n";
}

// Lines of a run to compare: an event log as written, or a plan run here.
bool lines_of(const std::string& path, std::vector<std::string>& lines, std::string& what,
              std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read '{}'", path);
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::string log;
  if (text.starts_with(event_log_header)) {
    log = text;
    what = fmt::format("{} (an event log: {})", path, text.substr(0, text.find('\n')));
  } else {
    auto plans = parse_plan_file(text, path);
    if (!plans) {
      error = plans.error().message;
      return false;
    }
    log = event_log(*plans);
    what = fmt::format("{} (a plan, run by this build)", path);
  }
  std::istringstream stream(log);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.starts_with("#")) lines.push_back(line);
  }
  return true;
}

}  // namespace

int run_prompt(const Plans& plans, const std::string& source) {
  const bool interactive = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
  Debugger debugger(plans);
  std::printf(
      "dst_demo_server_simulator debugger: %s%s; 'help' lists the commands\n%s", source.c_str(),
      std::string(bank::planted_bugs::names()).empty()
          ? ""
          : fmt::format(" (bank built with the PLANTED BUG '{}')", bank::planted_bugs::names()).c_str(),
      debugger.where().c_str());
  while (!debugger.quit()) {
    const auto line = dst_demo::read_prompt_line("(dst) ", interactive);
    if (!line) break;
    if (!interactive) std::printf("(dst) %s\n", line->c_str());  // A script's output shows what it ran.
    std::fputs(debugger.execute(*line).c_str(), stdout);
    std::fflush(stdout);
  }
  return 0;
}

int dump_at(const Plans& plans, std::uint64_t step) {
  Debugger debugger(plans);
  debugger.goto_step(step);
  std::fputs(debugger.show_all().c_str(), stdout);
  return 0;
}

int likelihood(const Plans& plans, std::uint32_t branches, const std::string& chart) {
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  const RunResult whole = run_simulation(plans, options);
  const std::uint64_t events_total = whole.events;
  std::printf("likelihood: %u futures from each point along the run of seed %llu (%llu events, %s)\n",
              branches, static_cast<unsigned long long>(plans.knobs.seed),
              static_cast<unsigned long long>(events_total),
              whole.passed() ? "it passes" : fmt::format("it fails '{}'", whole.failure->invariant).c_str());
  const std::uint64_t points =
      std::min<std::uint64_t>(likelihood_points_max, std::max<std::uint64_t>(events_total, 1));
  Run run(plans, options);
  std::vector<std::pair<std::int64_t, double>> curve;
  std::optional<std::string> certain_from;
  for (std::uint64_t k = 0; k < points; ++k) {
    // Points spread over the events, the last one just before the end.
    const std::uint64_t at = points == 1 ? 0 : k * (events_total - 1) / (points - 1);
    while (run.world().events_run() < at && run.step()) {
    }
    if (run.phase() == Run::Phase::over) break;
    std::uint32_t failed = 0;
    for (std::uint32_t j = 0; j < branches; ++j) {
      const std::uint64_t seed = sim::mix64(plans.knobs.seed ^ sim::mix64(at * 1'000'003ULL + j + 1));
      failed += run_simulation(branched_plans(plans, run, seed), options).passed() ? 0 : 1;
    }
    const std::int64_t ms = run.world().now_ms() - run.world().start_ms();
    curve.emplace_back(ms, static_cast<double>(failed) / branches);
    std::printf("event %llu step %llu %s  %u/%u fail\n", static_cast<unsigned long long>(at),
                static_cast<unsigned long long>(run.world().steps()), offset(ms).c_str(), failed, branches);
    if (failed < branches) {
      certain_from.reset();
    } else if (!certain_from) {
      certain_from = fmt::format("event {} ({})", at, offset(ms));
    }
  }
  if (certain_from) {
    std::printf("the failure is certain from %s on: every future from there fails\n", certain_from->c_str());
  } else {
    std::printf("no point was certain to fail: the failure needs luck to the end\n");
  }
  std::string error;
  const std::string title =
      fmt::format("futures that fail ({} from each point), seed {}", branches, plans.knobs.seed);
  if (!sweep::write_file(chart, likelihood_svg(curve, whole.simulated_ms, title), error)) {
    std::fprintf(stderr, "dst_demo_server_simulator: --likelihood: %s\n", error.c_str());
    return sweep::output_error_exit;
  }
  std::printf("chart: %s\n", chart.c_str());
  return 0;
}

std::string event_log(const Plans& plans) {
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  const RunResult result = run_simulation(plans, options);
  const std::string planted = bank::planted_bugs::names();
  std::string out = fmt::format("{} seed={} build={}\n", event_log_header, plans.knobs.seed,
                                planted.empty() ? "normal" : "planted bug " + planted);
  for (const std::string& line : result.trace_lines) out += line + "\n";
  out +=
      fmt::format("# verdict {} hash {:016x}\n",
                  result.passed() ? "PASS" : "FAIL '" + result.failure->invariant + "'", result.trace_hash);
  return out;
}

int diff(const std::string& a, const std::string& b) {
  std::vector<std::string> left;
  std::vector<std::string> right;
  std::string left_what;
  std::string right_what;
  std::string error;
  if (!lines_of(a, left, left_what, error) || !lines_of(b, right, right_what, error)) {
    std::fprintf(stderr, "dst_demo_server_simulator: --diff: %s\n", error.c_str());
    return 2;
  }
  std::size_t i = 0;
  while (i < left.size() && i < right.size() && left[i] == right[i]) ++i;
  std::printf("A: %s\nB: %s\n", left_what.c_str(), right_what.c_str());
  if (i == left.size() && i == right.size()) {
    std::printf("the two runs are the same, line by line (%zu events and actor lines)\n", left.size());
    return 0;
  }
  // The event the difference is in: the last "event" line before it.
  std::string in_event = "before the first event";
  for (std::size_t j = i; j-- > 0;) {
    if (left[j].starts_with("event ")) {
      // "event N MS KIND"
      std::istringstream words(left[j]);
      std::string word;
      std::string number;
      std::string ms;
      words >> word >> number >> ms;
      std::string kind;
      std::getline(words, kind);
      in_event = fmt::format("in event {} at {} ms ({})", number, ms, kind.empty() ? "?" : kind.substr(1));
      break;
    }
  }
  std::printf("first difference at line %zu, %s; what led up to it:\n", i + 1, in_event.c_str());
  for (std::size_t j = i > 8 ? i - 8 : 0; j < i; ++j) std::printf("    %s\n", left[j].c_str());
  std::printf("  A: %s\n  B: %s\n", i < left.size() ? left[i].c_str() : "<the run ended here>",
              i < right.size() ? right[i].c_str() : "<the run ended here>");
  return 1;
}

}  // namespace bank_sim::debug
