#pragma once
// The debugger's entry points: the interactive prompt (--debug), a dump of
// the state at one step (--dump-at), the bug-likelihood curve (--likelihood)
// and the first difference between two runs (--diff, --events).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan.hpp"

namespace bank_sim::debug {

// The prompt: commands from standard input (line editing and history on a
// terminal, plain lines from a pipe), until quit or the input ends.
int run_prompt(const Plans& plans, const std::string& source);

// The state at simulated step `step`, printed without a prompt.
int dump_at(const Plans& plans, std::uint64_t step);

inline constexpr std::uint32_t likelihood_branches_default = 32;
inline constexpr std::uint32_t likelihood_points_max = 24;

// For points along the run of `plans`, `branches` futures from each: the
// fraction that fail, a line per point and an SVG chart written to `chart`.
int likelihood(const Plans& plans, std::uint32_t branches, const std::string& chart);

// The event log of a run (every event, every actor's line), as --events writes it.
std::string event_log(const Plans& plans);
inline constexpr const char* event_log_header = "# dst_demo_server_simulator events v1";

// Compares two runs, each a plan file (run here) or an event log (from
// --events, possibly of another build): names the first difference.
int diff(const std::string& a, const std::string& b);

}  // namespace bank_sim::debug
