#pragma once
// What one run of a sweep leaves behind, as data: the record a sweep writes
// with --report-json (one JSON object per line), a child process sends to its
// parent, and --merge reads back. The summary of a sweep is computed from
// these records alone, so a merge of shards prints what one process would.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bank/coverage.hpp"

namespace bank_sim::sweep {

struct RunRecord {
  std::uint64_t index = 0;  // The run's place in the sweep (run index+1 of the report).
  std::uint64_t seed = 0;
  std::string planted_bug;  // The build's planted bug; empty for the bank as it is.
  // Knobs.
  std::uint64_t duration_steps = 0;
  std::int64_t step_ms = 0;
  std::int64_t epoch_offset_ms = 0;
  std::uint32_t bankers = 0;
  std::uint32_t interactions_per_banker = 0;
  std::vector<std::string> fault_kinds;  // Empty: a calm run.
  // Verdict.
  bool passed = true;
  std::string invariant;  // The broken invariant, when the run failed.
  std::string evidence;
  std::int64_t failed_at_ms = 0;
  // What the run did.
  std::uint64_t steps = 0;
  std::int64_t simulated_ms = 0;
  double wall_s = 0;
  std::uint64_t interactions = 0;
  std::uint64_t faults = 0;
  std::optional<std::int64_t> recovery_ms;
  bank::MarkCounts marks{};
  // The determinism hash of the run: its events (time, order, kind) and, with
  // --hash-event-log, every line of its event log. Equal hashes of one seed
  // on two builds: the builds did the same thing.
  std::uint64_t trace_hash = 0;
  // A failure, shrunk: its shape (which kinds of steps the minimal story
  // holds, without values, so that seeds of one bug share it), its size, the
  // story and where its plan was saved. Empty when not shrunk.
  std::string shape;
  std::uint64_t shrunk_size = 0;
  std::string story;
  std::string minimal_plan;
  std::string replay;          // The command that replays the run.
  bool output_failed = false;  // A file asked for could not be written.
};

// One line of JSON, without its newline.
std::string to_json_line(const RunRecord& record);

// A run together with its report, as a child process hands it to the parent.
std::string to_child_message(const RunRecord& record, const std::string& report);
bool from_child_message(const std::string& message, RunRecord& record, std::string& report);

// A line of a --report-json file: a run, the summary (ignored by a merge:
// it is recomputed from the runs), or a line that is neither.
struct ParsedLine {
  enum class Kind { run, summary } kind = Kind::run;
  RunRecord run;
  double summary_wall_s = 0;
};
struct ParseError {
  std::string message;
};
// Returns the parsed line, or what is wrong with it.
std::optional<ParsedLine> parse_json_line(const std::string& line, ParseError& error);

}  // namespace bank_sim::sweep
