#include "debugger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>

#include "plan_file.hpp"
#include "sweep/run_one.hpp"

namespace bank_sim::debug {

namespace {

// Most lines one command prints of what the events it ran traced.
constexpr std::size_t lines_shown_max = 40;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// The first word of `text`, and the rest after it.
std::pair<std::string_view, std::string_view> split_word(std::string_view text) {
  text = trim(text);
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return {text, {}};
  return {text.substr(0, space), trim(text.substr(space + 1))};
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (text.empty() || r.ec != std::errc{} || r.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// "+4.12s", "+500ms", "+2m", "+1h" as milliseconds.
std::optional<std::int64_t> parse_offset_ms(std::string_view text) {
  if (text.empty() || text.front() != '+') return std::nullopt;
  text.remove_prefix(1);
  double value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc{} || r.ptr == text.data()) return std::nullopt;
  const std::string_view unit(r.ptr, static_cast<std::size_t>(text.data() + text.size() - r.ptr));
  double scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s" || unit.empty()) scale = 1e3;
  if (unit == "m") scale = 6e4;
  if (unit == "h") scale = 3.6e6;
  if (scale == 0 || value < 0) return std::nullopt;
  return static_cast<std::int64_t>(value * scale);
}

std::string format_offset(std::int64_t ms) {
  return fmt::format("+{}.{:03}s", ms / 1000, ms % 1000);
}

constexpr const char* help_text =
    "step [N]               run the next N events (default 1) and print what they did\n"
    "next ACTOR             run to the next event in which ACTOR (banker0, host, fault, heal) does "
    "something\n"
    "run-to STEP            run to simulated step STEP (the unit of the report's 'step N')\n"
    "run-to +DURATION       run to that long after the start (+4.12s, +500ms, +2m, +1h)\n"
    "run-to until PATTERN   run until a line matches PATTERN (a regular expression)\n"
    "continue               run until a breakpoint or the end\n"
    "back [N]               go back N events (default 1): the run replays from the start\n"
    "goto STEP | goto event N   go to simulated step STEP, or to just after event N\n"
    "break step N | break fault [KIND] | break crash | break request ACTOR | break invariant | break "
    "PATTERN\n"
    "breaks, delete N       list breakpoints; delete one\n"
    "show [ledger|journal|connections|bankers|model|events|clock|all]\n"
    "branch [SEED]          keep the past, draw the rest of the run from SEED (default: one drawn from now)\n"
    "save-plan FILE         write the plan (with its branches) to FILE; --replay runs it\n"
    "where                  the current position\n"
    "quit\n";

}  // namespace

Plans branched_plans(const Plans& plans, Run& run, std::uint64_t seed) {
  Plans out = plans;
  Knobs fresh_knobs = plans.knobs;
  fresh_knobs.seed = seed;
  const Plans fresh = generate_plans(fresh_knobs);
  // Keeps every entry begun by now (and a pipelined batch whole), and draws the rest anew.
  auto splice = [](auto& items, const auto& fresh_items, const std::vector<std::int64_t>& started) {
    std::size_t keep = 0;
    for (std::size_t i = 0; i < started.size() && i < items.size(); ++i) {
      if (started[i] >= 0) keep = i + 1;
    }
    if (keep >= items.size()) return;  // Everything began: nothing is left to draw.
    items.resize(keep);
    for (std::size_t i = keep; i < fresh_items.size(); ++i) items.push_back(fresh_items[i]);
  };
  for (std::size_t b = 0; b < out.bankers.size(); ++b) {
    auto& items = out.bankers[b].interactions;
    const auto& started = run.bankers()[b]->entry_started_ms();
    // A pipeline mark that began has gathered its batch: keep the batch whole.
    std::size_t last_started = 0;
    bool any = false;
    for (std::size_t i = 0; i < started.size() && i < items.size(); ++i) {
      if (started[i] >= 0) {
        last_started = i;
        any = true;
      }
    }
    std::vector<std::int64_t> kept = started;
    if (any && items[last_started].op == BankerOp::pipeline) {
      std::vector<std::size_t> members;
      const std::size_t end = pipeline_batch_end(items, last_started, members);
      for (std::size_t i = last_started; i < end && i < kept.size(); ++i)
        kept[i] = std::max<std::int64_t>(kept[i], 0);
    }
    static const std::vector<Interaction> none;
    splice(items, b < fresh.bankers.size() ? fresh.bankers[b].interactions : none, kept);
  }
  splice(out.faults.faults, fresh.faults.faults, run.faults().entry_started_ms());
  out.branches.push_back(Branch{run.world().events_run(), seed});
  return out;
}

Debugger::Debugger(Plans plans) : plans_(std::move(plans)) {
  restart();
}

Debugger::~Debugger() = default;

void Debugger::restart() {
  run_.reset();
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  options.trace_storage = true;
  run_ = std::make_unique<Run>(plans_, options);
  trace_seen_ = 0;
  result_.reset();
}

std::uint64_t Debugger::events() const {
  return run_->world().events_run();
}

bool Debugger::step_one(std::vector<std::string>& lines) {
  if (result_) return false;
  const bool more = run_->step();
  const auto& trace = run_->world().trace_lines();
  for (; trace_seen_ < trace.size(); ++trace_seen_) lines.push_back(trace[trace_seen_]);
  if (!more) result_ = run_->finish();
  return true;
}

std::string Debugger::format_line(const std::string& line) const {
  const std::int64_t start = run_->world().start_ms();
  if (line.starts_with("event ")) {
    // "event N <ms> <kind>"
    const auto [n, rest] = split_word(std::string_view(line).substr(6));
    const auto [ms, kind] = split_word(rest);
    std::int64_t at = 0;
    std::from_chars(ms.data(), ms.data() + ms.size(), at);
    return fmt::format("      [event {} {} {}]", n, format_offset(at - start), kind);
  }
  const auto space = line.find(' ');
  std::int64_t at = 0;
  std::from_chars(line.data(), line.data() + space, at);
  return fmt::format("  {}  {}", format_offset(at - start), line.substr(space + 1));
}

std::string Debugger::where() {
  sim::World& world = run_->world();
  std::string out = fmt::format("at event {}, step {} ({}, {} ms since the epoch), phase: {}", events(),
                                world.steps(), format_offset(world.now_ms() - world.start_ms()),
                                world.now_ms(), describe(result_ ? Run::Phase::over : run_->phase()));
  return out + "\n" + ended();
}

std::string Debugger::ended() const {
  if (!result_) return {};
  if (result_->passed()) return "the run is over: PASS\n";
  return fmt::format("the run is over: FAIL: invariant '{}' broken, seen by {}: {}\n",
                     result_->failure->invariant, result_->failure->actor, result_->failure->evidence);
}

// Runs events until `stop` says so (given the lines of the event just run) or
// the run ends; prints the last lines traced on the way.
std::string Debugger::run_while(const std::function<bool(const std::vector<std::string>&)>& stop,
                                std::size_t max_lines) {
  std::vector<std::string> shown;
  std::size_t hidden = 0;
  for (;;) {
    std::vector<std::string> lines;
    const std::uint64_t steps_before = run_->world().steps();
    if (!step_one(lines)) break;
    // The stop and the breakpoints read this event's lines before they join what is shown.
    const bool stopped = stop(lines);
    bool hit = false;
    for (std::size_t i = 0; i < breakpoints_.size() && !hit; ++i) {
      const Breakpoint& b = breakpoints_[i];
      if (b.step && steps_before < *b.step && run_->world().steps() >= *b.step) hit = true;
      if (b.pattern) {
        for (const auto& line : lines) {
          if (!line.starts_with("event ") && std::regex_search(line, *b.pattern)) hit = true;
        }
      }
      if (hit) lines.push_back(fmt::format("# breakpoint {}: {}", i + 1, b.text));
    }
    for (auto& line : lines) shown.push_back(std::move(line));
    if (shown.size() > max_lines) {
      hidden += shown.size() - max_lines;
      shown.erase(shown.begin(), shown.begin() + static_cast<std::ptrdiff_t>(shown.size() - max_lines));
    }
    if (stopped || hit || result_) break;
  }
  std::string out;
  if (hidden > 0) out += fmt::format("  ... ({} lines before these)\n", hidden);
  for (const auto& line : shown)
    out += line.starts_with("# ") ? line.substr(2) + "\n" : format_line(line) + "\n";
  return out + where();
}

void Debugger::goto_event(std::uint64_t event) {
  if (event < events()) restart();
  std::vector<std::string> lines;
  while (events() < event && step_one(lines)) lines.clear();
}

void Debugger::goto_step(std::uint64_t step) {
  sim::World& world = run_->world();
  const std::int64_t target_ms = world.start_ms() + static_cast<std::int64_t>(step) * world.step_ms();
  if (world.now_ms() > target_ms) restart();
  std::vector<std::string> lines;
  while (!result_ && run_->world().next_event_ms() <= target_ms && step_one(lines)) lines.clear();
  if (!result_ && run_->world().now_ms() < target_ms) run_->world().advance_to(target_ms);  // A quiet step.
}

std::string Debugger::command_step(std::string_view args) {
  std::uint64_t n = 1;
  if (!args.empty()) {
    const auto parsed = parse_u64(args);
    if (!parsed || *parsed == 0) return fmt::format("step: '{}' is not a count of events\n", args);
    n = *parsed;
  }
  const std::uint64_t target = events() + n;
  return run_while([&](const std::vector<std::string>&) { return events() >= target; }, lines_shown_max);
}

std::string Debugger::command_next(std::string_view args) {
  if (args.empty()) return "next: name an actor (banker0, host, fault, heal)\n";
  const std::string actor(args);
  return run_while(
      [&](const std::vector<std::string>& lines) {
        for (const auto& line : lines) {
          if (line.starts_with("event ")) continue;
          const auto text = std::string_view(line).substr(line.find(' ') + 1);
          if (text.starts_with(actor) &&
              (text.size() == actor.size() || text[actor.size()] == ' ' || text[actor.size()] == '(')) {
            return true;
          }
        }
        return false;
      },
      lines_shown_max);
}

std::string Debugger::command_run_to(std::string_view args) {
  auto [first, rest] = split_word(args);
  if (first == "until") {
    if (rest.empty()) return "run-to until: give a pattern (a regular expression)\n";
    std::regex pattern;
    try {
      pattern = std::regex(std::string(rest));
    } catch (const std::regex_error& e) {
      return fmt::format("run-to until: '{}' is not a regular expression ({})\n", rest, e.what());
    }
    return run_while(
        [&](const std::vector<std::string>& lines) {
          return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
            return !line.starts_with("event ") && std::regex_search(line, pattern);
          });
        },
        lines_shown_max);
  }
  std::int64_t target_ms = 0;
  if (const auto offset = parse_offset_ms(first)) {
    target_ms = run_->world().start_ms() + *offset;
  } else if (const auto step = parse_u64(first)) {
    target_ms = run_->world().start_ms() + static_cast<std::int64_t>(*step) * run_->world().step_ms();
  } else {
    return fmt::format("run-to: '{}' is not a step, +DURATION or 'until PATTERN'\n", args);
  }
  if (run_->world().now_ms() > target_ms)
    return "run-to: that moment is behind us; use goto or back\n" + where();
  if (run_->world().next_event_ms() > target_ms) {
    if (!result_) run_->world().advance_to(target_ms);  // Nothing happens before it.
    return where();
  }
  std::string out =
      run_while([&](const std::vector<std::string>&) { return run_->world().next_event_ms() > target_ms; },
                lines_shown_max);
  if (!result_ && run_->world().now_ms() < target_ms && run_->world().next_event_ms() > target_ms) {
    run_->world().advance_to(target_ms);
    out += where();
  }
  return out;
}

std::string Debugger::command_back(std::string_view args) {
  std::uint64_t n = 1;
  if (!args.empty()) {
    const auto parsed = parse_u64(args);
    if (!parsed) return fmt::format("back: '{}' is not a count of events\n", args);
    n = *parsed;
  }
  goto_event(events() > n ? events() - n : 0);
  return where();
}

std::string Debugger::command_goto(std::string_view args) {
  auto [first, rest] = split_word(args);
  if (first == "event") {
    const auto event = parse_u64(rest);
    if (!event) return fmt::format("goto event: '{}' is not an event number\n", rest);
    goto_event(*event);
    return where();
  }
  const auto step = parse_u64(first);
  if (!step) return fmt::format("goto: '{}' is not a step (or 'event N')\n", args);
  goto_step(*step);
  return where();
}

std::string Debugger::command_break(std::string_view args) {
  auto [kind, rest] = split_word(args);
  Breakpoint b;
  b.text = std::string(args);
  try {
    if (kind.empty()) return "break: what on? (help lists the kinds)\n";
    if (kind == "step") {
      const auto step = parse_u64(rest);
      if (!step) return fmt::format("break step: '{}' is not a step\n", rest);
      b.step = step;
    } else if (kind == "fault") {
      b.pattern = std::regex("^[0-9]+ fault " + std::string(rest));
    } else if (kind == "crash") {
      b.pattern = std::regex("^[0-9]+ host (crash|power loss)");
    } else if (kind == "request") {
      b.pattern = std::regex("^[0-9]+ " + std::string(rest.empty() ? "banker[0-9]+" : rest) + " send ");
    } else if (kind == "invariant") {
      return "break invariant: always on; a broken invariant ends the run, and the debugger stops there\n";
    } else {
      b.pattern = std::regex(std::string(args));
    }
  } catch (const std::regex_error& e) {
    return fmt::format("break: '{}' is not a regular expression ({})\n", args, e.what());
  }
  breakpoints_.push_back(std::move(b));
  return fmt::format("breakpoint {}: {}\n", breakpoints_.size(), args);
}

std::string Debugger::command_branch(std::string_view args) {
  std::uint64_t seed =
      sim::mix64(plans_.knobs.seed ^ sim::mix64(events() + 0x62ULL * (plans_.branches.size() + 1)));
  if (!args.empty()) {
    const auto parsed = parse_u64(args);
    if (!parsed) return fmt::format("branch: '{}' is not a seed\n", args);
    seed = *parsed;
  }
  if (result_) return "branch: the run is over; go back first\n";
  const std::uint64_t at = events();
  const std::uint64_t hash_here = run_->world().trace_hash();
  Plans branched = branched_plans(plans_, *run_, seed);
  run_.reset();  // It reads plans_.
  plans_ = std::move(branched);
  restart();
  goto_event(at);
  std::string out = fmt::format(
      "branched at event {} with seed {}: the past is kept, the plan entries not begun and every draw "
      "of the world from here on come from the new seed\n",
      at, seed);
  if (run_->world().trace_hash() != hash_here) {
    out += "warning: the past did not replay identically under the branched plan (a bug in branching)\n";
  }
  return out + where();
}

std::string Debugger::command_save_plan(std::string_view args) {
  if (args.empty()) return "save-plan: name a file\n";
  std::string error;
  if (!sweep::write_file(std::string(args), format_plan_file(plans_), error))
    return "save-plan: " + error + "\n";
  return fmt::format("plan saved: {} ({} branch{}); replay it with --replay {}\n", args,
                     plans_.branches.size(), plans_.branches.size() == 1 ? "" : "es", args);
}

std::string Debugger::show(std::string_view what) {
  std::string out;
  const auto add = [&out](const std::vector<std::string>& lines) {
    for (const auto& line : lines) out += "  " + line + "\n";
  };
  sim::World& world = run_->world();
  if (what == "clock" || what == "all") {
    out += "clock:\n";
    const std::int64_t host_ms = run_->host().clock().realtime_ms();
    add({fmt::format("simulated time {} ms since the epoch ({}), step {}, {} after the start", world.now_ms(),
                     format_utc(world.now_ms() / 1000), world.steps(),
                     format_offset(world.now_ms() - world.start_ms())),
         fmt::format("the host's clock reads {} ms ({}; {} s since the epoch, stepped by {} ms)", host_ms,
                     format_utc(host_ms / 1000), host_ms / 1000, run_->host().clock().offset_ms())});
  }
  if (what == "ledger" || what == "all") {
    out += "ledger (the server's memory):\n";
    add(run_->host().describe_ledger(10));
  }
  if (what == "journal" || what == "all") {
    out += "journal (the simulated disk):\n";
    add(run_->host().describe_journal(10));
  }
  if (what == "connections" || what == "all") {
    out += "connections:\n";
    const auto lines = run_->network().describe_connections();
    add(lines.empty() ? std::vector<std::string>{"none open"} : lines);
  }
  if (what == "bankers" || what == "all") {
    out += "bankers:\n";
    std::vector<std::string> lines;
    for (const auto& banker : run_->bankers()) lines.push_back(banker->describe_position());
    add(lines);
  }
  if (what == "model" || what == "all") {
    out += "model (what the checker knows):\n";
    add(run_->model().describe());
  }
  if (what == "events" || what == "all") {
    out += "events due next:\n";
    std::vector<std::string> lines;
    for (const auto& [due_ms, kind] : world.pending(12)) {
      lines.push_back(fmt::format("{} {}", format_offset(due_ms - world.start_ms()), kind));
    }
    add(lines.empty() ? std::vector<std::string>{"none"} : lines);
  }
  if (out.empty()) {
    return fmt::format(
        "show: '{}' is not one of ledger, journal, connections, bankers, model, events, clock, all\n", what);
  }
  return out;
}

std::string Debugger::show_all() {
  return where() + show("all");
}

std::string Debugger::execute(std::string_view line) {
  const auto [command, args] = split_word(line);
  if (command.empty() || command.starts_with("#")) return {};
  if (command == "help" || command == "?") return help_text;
  if (command == "step" || command == "s") return command_step(args);
  if (command == "next" || command == "n") return command_next(args);
  if (command == "run-to") return command_run_to(args);
  if (command == "continue" || command == "c") {
    return run_while([](const std::vector<std::string>&) { return false; }, lines_shown_max);
  }
  if (command == "back" || command == "b") return command_back(args);
  if (command == "goto") return command_goto(args);
  if (command == "break") return command_break(args);
  if (command == "breaks") {
    std::string out;
    for (std::size_t i = 0; i < breakpoints_.size(); ++i)
      out += fmt::format("{}: {}\n", i + 1, breakpoints_[i].text);
    return out.empty() ? "no breakpoints\n" : out;
  }
  if (command == "delete") {
    const auto n = parse_u64(args);
    if (!n || *n == 0 || *n > breakpoints_.size()) return fmt::format("delete: no breakpoint '{}'\n", args);
    breakpoints_.erase(breakpoints_.begin() + static_cast<std::ptrdiff_t>(*n - 1));
    return fmt::format("breakpoint {} deleted\n", *n);
  }
  if (command == "show") return show(args.empty() ? "all" : args);
  if (command == "branch") return command_branch(args);
  if (command == "save-plan") return command_save_plan(args);
  if (command == "where") return where();
  if (command == "quit" || command == "q" || command == "exit") {
    quit_ = true;
    return {};
  }
  return fmt::format("unknown command '{}'; 'help' lists them\n", command);
}

}  // namespace bank_sim::debug
