#pragma once
// The sweep driver: runs a sweep's runs (each in a child process, several at
// once), prints their reports in run order, keeps the summary, writes the
// JSON records; and merges the records of several sweeps or shards.

#include <string>
#include <vector>

#include "settings.hpp"

namespace bank_sim::sweep {

// Runs the sweep; returns the process's exit status.
int run_sweep(const Settings& settings);

// Reads --report-json files (of shards, of several machines, of several
// nights), prints the summary of all their runs, and writes them as one
// file when `report_json` is set. Returns the process's exit status.
int merge_reports(const std::vector<std::string>& files, const std::string& report_json);

}  // namespace bank_sim::sweep
