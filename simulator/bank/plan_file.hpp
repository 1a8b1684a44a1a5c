#pragma once
// Plans as files: a readable, versioned text form of a run's knobs and every
// actor's plan. Saved with --save-plan, run with --replay; the shrinker saves
// the minimal failing plan the same way.

#include <string>
#include <string_view>

#include "bank/result.hpp"
#include "plan.hpp"

namespace bank_sim {

inline constexpr int plan_file_version =
    2;  // 2: crash and power_loss for bounce; disk_errors name their ops.

// This program's build: "normal", or "bug_NAME" for a zoo build (the suffix
// of its binary's name). Plan files and failure files carry it.
std::string build_name();

// Written with this program's build_name() as the build it came from.
std::string format_plan_file(const Plans& plans);
// source names the file in errors: "FILE:LINE: expected ..., got '...'".
bank::Result<Plans> parse_plan_file(std::string_view text, std::string_view source);

}  // namespace bank_sim
