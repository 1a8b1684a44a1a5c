// Sweeps beyond one process: shards (by flag and by a job array's variables),
// JSON records and their merge, campaigns bounded by time or failures, and a
// clean end on Ctrl-C. The sharded sweep runs through GNU parallel as a user
// would run it, and must equal the same sweep in one process, run by run.

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/process.hpp"

namespace {

using test_support::Ran;
using test_support::read_file;
using test_support::run_shell;

const std::string simulator = DST_DEMO_SIMULATOR_PATH;
const std::string void_twice =
    std::string(DST_DEMO_SIMULATOR_DIR) + "/dst_demo_server_simulator_bug_void_twice";
const std::string source_dir = DST_DEMO_SOURCE_DIR;

// Records with their wall times blanked: the one field two machines may not agree on.
std::string without_wall_times(const std::string& records) {
  static const std::regex wall(R"("wall_s":[-+0-9.eE]+)");
  return std::regex_replace(records, wall, "\"wall_s\":W");
}

// The summary's lines (from "summary:" to its last indented line), wall time blanked.
std::string summary_of(const std::string& out) {
  std::istringstream in(out);
  std::string line;
  std::string kept;
  bool inside = false;
  static const std::regex wall(R"( in [0-9.]+ s wall.*$)");
  while (std::getline(in, line)) {
    if (line.rfind("summary: ", 0) == 0) inside = true;
    // The summary's lines are indented; what follows (a merge's stories, a
    // progress line on stderr from a slow sweep) is not part of it.
    if (inside && line.rfind("summary: ", 0) != 0 && line.rfind("  ", 0) != 0) break;
    if (inside) kept += std::regex_replace(line, wall, "") + "\n";
  }
  return kept;
}

std::size_t count_lines(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("campaign: a sweep as 4 GNU parallel shards plus a merge equals the sweep in one process") {
  const std::string dir = test_support::make_temp_dir();
  // A zoo build, so that failures, their shrunk stories and grouping are compared too.
  const Ran sharded =
      run_shell(source_dir + "/deploy/parallel/sweep.sh --seed 42 --runs 120 --shards 4 --out " + dir +
                "/par --simulator " + void_twice);
  INFO(sharded.out);
  REQUIRE(sharded.exit_code == 1);  // The merge's status: runs failed.
  CHECK_THAT(sharded.out, Catch::Contains("merged 4 files: 120 runs"));
  const Ran single =
      run_shell("cd " + dir + " && " + void_twice + " --seed 42 --runs 120 --quiet --report-json " + dir +
                "/single.jsonl --failures-dir " + dir + "/par/simulator_failures");
  REQUIRE(single.exit_code == 1);
  const std::string merged_records = read_file(dir + "/par/merged.jsonl");
  const std::string single_records = read_file(dir + "/single.jsonl");
  CHECK(count_lines(single_records, "{\"type\":\"run\"") == 120);
  CHECK(without_wall_times(merged_records) == without_wall_times(single_records));
  const std::string summary = summary_of(single.out);
  CHECK_THAT(summary, Catch::Contains("'a transaction is voided at most once' failed in"));
  CHECK_THAT(summary, Catch::Contains("shrink to [create, void; faults: none]"));
  CHECK_THAT(summary, Catch::Contains("which features fail: failed/runs with it, and without it"));
  CHECK(summary_of(sharded.out) == summary);
  // Each shard ran its own part: a quarter of the runs, none twice.
  for (int i = 0; i < 4; ++i) {
    const std::string records = read_file(dir + "/par/shard-" + std::to_string(i) + ".jsonl");
    CHECK(count_lines(records, "{\"type\":\"run\"") == 30);
  }
}

TEST_CASE("campaign: a merge counts a run found twice once, and refuses a broken record naming its line") {
  const std::string dir = test_support::make_temp_dir();
  REQUIRE(run_shell(simulator + " --seed 9 --runs 6 --quiet --report-json " + dir + "/a.jsonl").exit_code ==
          0);
  const Ran twice = run_shell(simulator + " --merge " + dir + "/a.jsonl " + dir + "/a.jsonl");
  CHECK(twice.exit_code == 0);
  CHECK_THAT(twice.out, Catch::Contains("merged 2 files: 6 runs (6 found twice, counted once)"));
  CHECK_THAT(twice.out, Catch::Contains("summary: 6 runs, 6 passed, 0 failed"));
  {
    std::ofstream broken(dir + "/broken.jsonl");
    broken << read_file(dir + "/a.jsonl") << "{\"type\":\"run\",\"seed\":1}\n";
  }
  const Ran bad = run_shell(simulator + " --merge " + dir + "/broken.jsonl");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.out, Catch::Contains(dir + "/broken.jsonl:8: a field is missing"));
  const Ran missing = run_shell(simulator + " --merge " + dir + "/none.jsonl");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.out, Catch::Contains("cannot read '" + dir + "/none.jsonl'"));
  // Runs of a zoo build and of the bank as it is do not mix.
  REQUIRE(run_shell(void_twice + " --seed 9 --runs 2 --no-shrink --quiet --report-json " + dir + "/z.jsonl")
              .exit_code == 1);
  const Ran mixed = run_shell(simulator + " --merge " + dir + "/a.jsonl " + dir + "/z.jsonl");
  CHECK(mixed.exit_code == 2);
  CHECK_THAT(mixed.out, Catch::Contains("planted bug 'void_twice'"));
}

TEST_CASE("campaign: a job array's index variables pick the shard, and a shard needs a seed") {
  const Ran slurm = run_shell("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4 " +
                              simulator + " --seed 5 --runs 8 --quiet");
  CHECK(slurm.exit_code == 0);
  CHECK_THAT(slurm.out, Catch::Contains("shard=2/4 (from SLURM_ARRAY_TASK_ID)"));
  CHECK_THAT(slurm.out, Catch::Contains("summary: 2 runs"));
  const Ran kubernetes =
      run_shell("JOB_COMPLETION_INDEX=0 SIMULATOR_SHARD_COUNT=3 " + simulator + " --seed 5 --runs 8 --quiet");
  CHECK(kubernetes.exit_code == 0);
  CHECK_THAT(kubernetes.out, Catch::Contains("shard=0/3 (from JOB_COMPLETION_INDEX)"));
  CHECK_THAT(kubernetes.out, Catch::Contains("summary: 3 runs"));
  const Ran unseeded = run_shell(simulator + " --shard 1/2 --runs 4");
  CHECK(unseeded.exit_code == 2);
  CHECK_THAT(unseeded.out, Catch::Contains("needs a seed"));
  for (const std::string bad : {"4/4", "1", "a/2", "1/0", "-1/3"}) {
    const Ran r = run_shell(simulator + " --seed 1 --shard " + bad);
    INFO(bad << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("--shard: '" + bad + "' is not a shard"));
  }
  const Ran garbled = run_shell("SLURM_ARRAY_TASK_ID=x SLURM_ARRAY_TASK_COUNT=4 " + simulator + " --seed 1");
  CHECK(garbled.exit_code == 2);
  CHECK_THAT(garbled.out,
             Catch::Contains("SLURM_ARRAY_TASK_ID=x with SLURM_ARRAY_TASK_COUNT=4 is not a shard"));
}

TEST_CASE("campaign: runs until a number of failures, or until a time budget is spent") {
  const Ran failures =
      run_shell(void_twice + " --seed 3 --until-failures 2 --no-shrink --quiet --max-parallel 1");
  CHECK(failures.exit_code == 1);
  CHECK_THAT(failures.out, Catch::Contains("runs=unbounded"));
  // (regex_search, not a whole-output match: std::regex recurses once per character.)
  CHECK(std::regex_search(failures.out, std::regex(R"(summary: \d+ runs?, \d+ passed, 2 failed)")));
  const Ran timed = run_shell(simulator + " --seed 3 --time-budget 1s --quiet");
  CHECK(timed.exit_code == 0);
  CHECK_THAT(timed.out, Catch::Contains("time_budget=1 s"));
  std::smatch runs;
  REQUIRE(std::regex_search(timed.out, runs, std::regex(R"(summary: (\d+) runs, \d+ passed, 0 failed)")));
  // More than one run: it kept starting runs until the budget was spent. How many fit in a second is
  // the machine's business (under the sanitizers, with other tests running, 8 did once), not this test's.
  CHECK(std::stoul(runs[1].str()) >= 2);
  // --runs bounds a campaign too.
  const Ran bounded = run_shell(simulator + " --seed 3 --time-budget 1h --runs 5 --quiet");
  CHECK_THAT(bounded.out, Catch::Contains("summary: 5 runs, 5 passed"));
  for (const std::string bad : {"0", "abc", "5x", "1h30", "-3s", "m"}) {
    const Ran r = run_shell(simulator + " --time-budget=" + bad);
    INFO(bad << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("is not a duration"));
  }
}

TEST_CASE("campaign: Ctrl-C ends a campaign with the summary of the runs that finished") {
  const std::string dir = test_support::make_temp_dir();
  // SIGINT to the sweep (as a terminal's Ctrl-C sends it) once it has run for a second.
  const Ran r = run_shell("timeout --preserve-status -s INT 1 " + simulator +
                          " --seed 11 --time-budget 1h --quiet --report-json " + dir + "/campaign.jsonl");
  CHECK(r.exit_code == 130);
  CHECK_THAT(r.out, Catch::Contains("interrupted: "));
  std::smatch runs;
  REQUIRE(std::regex_search(r.out, runs, std::regex(R"(summary: (\d+) runs?, \d+ passed, 0 failed)")));
  const std::string records = read_file(dir + "/campaign.jsonl");
  CHECK(count_lines(records, "{\"type\":\"run\"") == std::stoul(runs[1].str()));
  CHECK_THAT(records, Catch::Contains("\"interrupted\":true"));
}

TEST_CASE(
    "campaign: the Slurm recipe's array tasks and merge, run as Slurm would run them, equal one sweep") {
  const std::string dir = test_support::make_temp_dir();
  const std::string settings = "SIMULATOR=" + simulator + " SEED=8 RUNS=30 RECORDS=" + dir + "/records ";
  // An array of tasks 1..3 (sbatch --array=1-3): the shard is the task's place in it.
  for (int task = 1; task <= 3; ++task) {
    const Ran r = run_shell("cd " + dir + " && SLURM_ARRAY_TASK_ID=" + std::to_string(task) +
                            " SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 " + settings + "bash " +
                            source_dir + "/deploy/slurm/sweep.sbatch");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
  }
  const Ran merged =
      run_shell("cd " + dir + " && " + settings + "bash " + source_dir + "/deploy/slurm/merge.sbatch");
  INFO(merged.out);
  CHECK(merged.exit_code == 0);
  CHECK_THAT(merged.out, Catch::Contains("merged 3 files: 30 runs"));
  const Ran single = run_shell(simulator + " --seed 8 --runs 30 --quiet");
  CHECK(summary_of(merged.out) == summary_of(single.out));
}
