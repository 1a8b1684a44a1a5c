#pragma once
// One run of a sweep: draw (or read) its plans, run them, and write its
// report: the seed and knobs first, the verdict last; a failure adds the log
// lines that led up to it, the shrunk story and the commands that replay it.

#include <cstdint>
#include <optional>
#include <string>

#include "record.hpp"
#include "settings.hpp"

namespace bank_sim::sweep {

struct Outcome {
  RunRecord record;
  std::string report;
};

// Run 0 replays the seed given; later runs derive from it and their index alone.
std::uint64_t run_seed(std::uint64_t initial_seed, std::uint64_t index);

// The plans run `index` runs.
Plans plans_of_run(const Settings& settings, std::uint64_t index);

std::string replay_command(const Settings& settings, std::uint64_t seed);

Outcome run_one(const Settings& settings, std::uint64_t index);

// The outcome of a run whose child process died (`how`: "killed by signal 11
// (Segmentation fault)"): what is known, and how to replay it.
Outcome died_outcome(const Settings& settings, std::uint64_t index, const std::string& how);
// A run whose process was killed after Settings::run_timeout_s of wall time.
Outcome hung_outcome(const Settings& settings, std::uint64_t index, double seconds);

// Sets the SIGABRT handler that prints the replay command of the run in
// progress when the bank aborts on a broken assertion.
void report_aborts();

bool write_file(const std::string& path, const std::string& text, std::string& error);
// Why `path` cannot take a file the simulator will write, if it cannot: its
// directory must exist (nothing is created silently) and it must not be one.
std::optional<std::string> output_path_problem(const std::string& path);

}  // namespace bank_sim::sweep
