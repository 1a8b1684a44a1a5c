#pragma once
// The time-travel debugger: a run that can be stepped, rewound, inspected and
// branched. Runs are deterministic and fast, so rewinding is replaying: going
// back to event N runs the plan again from the start to event N (a
// 200,000-step run replays in milliseconds). Branching keeps everything up to
// now and draws the rest of the run from a new seed: a new universe from the
// same past.
//
// Commands (one a line; `help` lists them): step, next, run-to, continue,
// back, goto, break, delete, show, branch, save-plan, where, quit.

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "plan.hpp"
#include "run.hpp"

namespace bank_sim::debug {

// Plans that replay `run`'s past (every plan entry begun by now) and draw the
// entries not begun yet from `seed`; the world's draws after this event mix in
// `seed` too. `run` must be the run of `plans`, stepped to where the branch is.
Plans branched_plans(const Plans& plans, Run& run, std::uint64_t seed);

class Debugger {
 public:
  explicit Debugger(Plans plans);
  ~Debugger();

  // Runs one command line and returns what it prints.
  std::string execute(std::string_view line);
  bool quit() const { return quit_; }

  // Everything `show` can show, at the current position.
  std::string show_all();
  // Moves to the last event at or before world step `step` (replaying from the start).
  void goto_step(std::uint64_t step);
  std::string where();

 private:
  struct Breakpoint {
    std::string text;  // As the user typed it.
    std::optional<std::uint64_t> step;
    std::optional<std::regex> pattern;  // Over the lines an event prints.
  };

  void restart();
  // Runs one event; returns its lines (events, actor lines), or false at the end.
  bool step_one(std::vector<std::string>& lines);
  std::string run_while(const std::function<bool(const std::vector<std::string>&)>& stop,
                        std::size_t max_lines);
  void goto_event(std::uint64_t event);
  std::uint64_t events() const;
  std::string show(std::string_view what);
  std::string format_line(const std::string& trace_line) const;
  std::string command_step(std::string_view args);
  std::string command_next(std::string_view args);
  std::string command_run_to(std::string_view args);
  std::string command_back(std::string_view args);
  std::string command_goto(std::string_view args);
  std::string command_break(std::string_view args);
  std::string command_branch(std::string_view args);
  std::string command_save_plan(std::string_view args);
  std::string ended() const;

  Plans plans_;
  std::unique_ptr<Run> run_;
  std::size_t trace_seen_ = 0;  // Trace lines of the run already handed out.
  std::vector<Breakpoint> breakpoints_;
  std::optional<RunResult> result_;  // Once the run is over.
  bool quit_ = false;
};

}  // namespace bank_sim::debug
