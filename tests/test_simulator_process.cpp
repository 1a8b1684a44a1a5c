// The simulator binaries as a user runs them: the original's environment
// variables, byte-identical output for a seed, the epochalypse found and
// replayed.

#include <algorithm>
#include <catch2/catch.hpp>
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "support/process.hpp"

namespace {

using test_support::Ran;
using test_support::read_file;
using test_support::run_shell;

// Wall-clock figures are the only thing allowed to differ between two runs.
std::string without_wall_clock(const std::string& out) {
  std::istringstream in(out);
  std::string line;
  std::string kept;
  static const std::regex wall(R"( in [0-9.]+ s wall$)");
  while (std::getline(in, line)) {
    if (line.rfind("  wall: ", 0) == 0) continue;
    kept += std::regex_replace(line, wall, "") + "\n";
  }
  return kept;
}

const std::string simulator = DST_DEMO_SIMULATOR_PATH;
const std::string epochalypse = DST_DEMO_SIMULATOR_EPOCHALYPSE_PATH;

}  // namespace

TEST_CASE("simulator process: one seed, byte-identical output apart from wall-clock figures") {
  const std::string command =
      "SIMULATOR_SEED=4242 SIMULATOR_RUNS=6 SIMULATOR_MAX_PARALLEL=2 RUST_LOG=info " + simulator;
  const Ran a = run_shell(command);
  const Ran b = run_shell(command);
  CHECK(a.exit_code == 0);
  CHECK(without_wall_clock(a.out) == without_wall_clock(b.out));
  CHECK(a.out.find("seed=4242") != std::string::npos);
  // Another seed runs differently: compared with the seeds themselves blanked
  // out, since the output prints them.
  const Ran c =
      run_shell("SIMULATOR_SEED=4243 SIMULATOR_RUNS=6 SIMULATOR_MAX_PARALLEL=2 RUST_LOG=info " + simulator);
  const std::regex seeds(R"(seed=\d+|SIMULATOR_SEED=\d+)");
  CHECK(std::regex_replace(without_wall_clock(a.out), seeds, "seed=S") !=
        std::regex_replace(without_wall_clock(c.out), seeds, "seed=S"));
}

TEST_CASE("simulator process: every environment variable of the original works") {
  const Ran r = run_shell(
      "SIMULATOR_SEED=123 SIMULATOR_DURATION=1000 SIMULATOR_STEP_MULTIPLIER=10 "
      "SIMULATOR_EPOCH_OFFSET=1745529640464 "
      "SIMULATOR_RUNS=3 SIMULATOR_MAX_PARALLEL=2 SIMULATOR_BANKER_COUNT=15 RUST_LOG=debug " +
      simulator);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("seed=123 runs=3 threads=2"));
  CHECK_THAT(r.out,
             Catch::Contains("duration=1000 steps, step_multiplier=10 ms, epoch_offset=1745529640464 ms"));
  CHECK_THAT(r.out, Catch::Contains("bankers=15"));
  CHECK_THAT(r.out, Catch::Contains("debug banker14"));  // RUST_LOG=debug shows every request.
  CHECK_THAT(r.out, Catch::Contains("summary: 3 runs, 3 passed, 0 failed"));
  // A duration of 1000 steps of 10 ms bounds each run's main phase.
  CHECK_THAT(r.out, Catch::Contains("(duration reached)"));
}

// Parallel runs run in parallel child processes. Forking from a process whose
// other threads may hold a lock (the sanitizer's allocator, a logger's) left
// children waiting forever; a busy sweep with debug logs shows it within a
// few hundred runs.
TEST_CASE("simulator process: a parallel sweep with debug logs finishes") {
  const Ran r = run_shell(
      "SIMULATOR_SEED=3 SIMULATOR_DURATION=1000 SIMULATOR_STEP_MULTIPLIER=10 SIMULATOR_RUNS=300 "
      "SIMULATOR_MAX_PARALLEL=2 SIMULATOR_BANKER_COUNT=15 RUST_LOG=debug timeout 240 " +
      simulator + " --no-shrink");
  INFO("exit code 124: the sweep was still running after 240 s (a normal one takes seconds)");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("summary: 300 runs, 300 passed, 0 failed"));
}

TEST_CASE("simulator process: bad settings are refused with a reason") {
  const Ran zero = run_shell("SIMULATOR_BANKER_COUNT=0 " + simulator);
  CHECK(zero.exit_code == 2);
  CHECK_THAT(zero.out, Catch::Contains("SIMULATOR_BANKER_COUNT=0"));
  const Ran seed = run_shell("SIMULATOR_SEED=abc " + simulator);
  CHECK(seed.exit_code == 2);
  CHECK_THAT(seed.out, Catch::Contains("SIMULATOR_SEED=abc: 'abc' is not a seed"));
  const Ran help = run_shell(simulator + " --help");
  CHECK(help.exit_code == 0);
  for (const char* name : {"SIMULATOR_SEED", "SIMULATOR_DURATION", "SIMULATOR_STEP_MULTIPLIER",
                           "SIMULATOR_EPOCH_OFFSET", "SIMULATOR_RUNS", "SIMULATOR_MAX_PARALLEL",
                           "SIMULATOR_BANKER_COUNT", "RUST_LOG", "--check-determinism", "2 a usage error"}) {
    CHECK_THAT(help.out, Catch::Contains(name));
  }
}

// Values that used to wrap or overflow into a meaningless run are refused
// before anything runs, naming what the user typed; nothing is printed as a run.
TEST_CASE("simulator process: negative, huge and malformed values are refused, naming what was typed") {
  struct Case {
    std::string command;
    std::string named;
  };
  const std::vector<Case> cases = {
      {simulator + " --duration -1", "--duration: Value -1 not in range"},
      {"SIMULATOR_DURATION=-5 " + simulator, "SIMULATOR_DURATION=-5: Value -5 not in range"},
      {simulator + " --duration 99999999999999999", "--duration: Value 99999999999999999 not in range"},
      {"SIMULATOR_SEED=-1 " + simulator, "SIMULATOR_SEED=-1: '-1' is not a seed"},
      {simulator + " --seed 12abc", "--seed 12abc: '12abc' is not a seed"},
      {"SIMULATOR_RUNS=abc " + simulator, "SIMULATOR_RUNS=abc"},
      {simulator + " --runs 0", "--runs: Value 0 not in range"},
      {simulator + " --bogus", "--bogus"},
  };
  for (const Case& c : cases) {
    INFO(c.command);
    const Ran r = run_shell(c.command);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains(c.named));
    CHECK_THAT(r.out, !Catch::Contains("run 1/"));
  }
}

TEST_CASE("simulator process: --replay, --save-plan and --trace refuse bad paths and report failed writes") {
  const auto dir = test_support::make_temp_dir();
  const Ran directory = run_shell(simulator + " --replay " + dir);
  CHECK(directory.exit_code == 2);
  CHECK_THAT(directory.out, Catch::Contains("is a directory; name a plan file"));
  std::ofstream(dir + "/empty.plan").close();
  const Ran empty = run_shell(simulator + " --replay " + dir + "/empty.plan");
  CHECK(empty.exit_code == 2);
  CHECK_THAT(empty.out, Catch::Contains("empty.plan: the file is empty"));
  // Nothing is created silently: a missing directory is an error, not made.
  const Ran missing = run_shell(simulator + " --seed 1 --runs 1 --save-plan " + dir + "/no/such/dir/x.plan");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.out, Catch::Contains("--save-plan: '" + dir + "/no/such/dir/x.plan': the directory"));
  CHECK_FALSE(std::filesystem::exists(dir + "/no"));
  const Ran trace_into_dir = run_shell(simulator + " --seed 1 --runs 1 --trace " + dir);
  CHECK(trace_into_dir.exit_code == 2);
  CHECK_THAT(trace_into_dir.out, Catch::Contains("--trace: '" + dir + "' is a directory"));
  // A write that fails when it happens: the run is reported, and the exit status says the file is missing.
  const Ran unwritable = run_shell(simulator + " --seed 1 --runs 1 --save-plan /proc/dst_demo_no.plan");
  CHECK(unwritable.exit_code == 3);
  CHECK_THAT(unwritable.out, Catch::Contains("error: --save-plan: cannot write '/proc/dst_demo_no.plan'"));
  // A trace written says where it went.
  const Ran traced = run_shell(simulator + " --seed 1 --runs 1 --trace " + dir + "/run.json");
  CHECK(traced.exit_code == 0);
  CHECK_THAT(traced.out, Catch::Contains("timeline saved: " + dir + "/run.json"));
  CHECK(std::filesystem::file_size(dir + "/run.json") > 0);
  CHECK_THAT(traced.out, Catch::Contains("summary: 1 run, 1 passed"));
}

// An endless loop in the server cannot be seen by the simulated clock: the
// sweep kills a run that outlives its wall-time bound and reports a hang with
// its seed and replay command. (A run of 1,000 bankers takes seconds; here
// the bound is a fraction of that.)
TEST_CASE(
    "simulator process: a run past --run-timeout is killed and reported as a hang, and the sweep goes on") {
  const Ran hung = run_shell(simulator + " --seed 5 --runs 2 --banker-count 1000 --run-timeout 0.2s --quiet");
  CHECK(hung.exit_code == 1);
  CHECK_THAT(hung.out, Catch::Contains("invariant 'hang' broken: the run's process was still running after"));
  CHECK_THAT(hung.out, Catch::Contains("replay: SIMULATOR_SEED=5 SIMULATOR_RUNS=1"));
  CHECK_THAT(hung.out, Catch::Contains("summary: 2 runs, 0 passed, 2 failed"));
  const Ran bad = run_shell(simulator + " --seed 5 --runs 1 --run-timeout soon");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.out, Catch::Contains("--run-timeout: 'soon' is not a duration"));
}

// A saved plan replayed describes itself as the run it came from did: the
// same knobs (interactions per banker included), parameters, faults and verdict.
TEST_CASE("simulator process: a replayed plan prints the knobs and verdict of the run it came from") {
  const auto dir = test_support::make_temp_dir();
  const Ran original = run_shell(simulator + " --seed 42 --runs 1 --save-plan " + dir + "/p.plan");
  REQUIRE(original.exit_code == 0);
  const Ran replayed = run_shell(simulator + " --replay " + dir + "/p.plan");
  REQUIRE(replayed.exit_code == 0);
  auto lines_of = [](const std::string& out) {
    std::map<std::string, std::string> found;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      for (const char* head : {"  knobs:", "  parameters:", "  faults:", "  verdict:"}) {
        if (line.rfind(head, 0) == 0) found[head] = line;
      }
    }
    // Only the reason for the start time differs: a plan file does not say why.
    found["  knobs:"] = std::regex_replace(found["  knobs:"], std::regex(R"(Z; [^)]*\)+, )"), "Z; R), ");
    return found;
  };
  const auto a = lines_of(original.out);
  const auto b = lines_of(replayed.out);
  REQUIRE(a.size() == 4);
  CHECK_THAT(a.at("  knobs:"), Catch::Contains("interactions/banker="));
  for (const auto& [head, line] : a) {
    INFO(head);
    CHECK(b.at(head) == line);
  }
}

// Overriding the banker count replays the other draws: each banker's plan and
// the fault plan stay as they were (only a fault's target banker is redrawn
// within the bankers there are).
TEST_CASE("simulator process: overriding the banker count keeps the plans of the bankers and of the faults") {
  auto plan_lines = [](const std::string& out) {
    std::map<std::string, std::string> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("  plan ", 0) != 0) continue;
      const auto colon = line.find(':');
      std::string body = line.substr(colon + 1);
      body = std::regex_replace(body, std::regex("banker\\d+"), "bankerN");
      lines[line.substr(0, colon)] = body;
    }
    return lines;
  };
  const Ran two = run_shell(simulator + " --seed 77 --runs 1 --no-shrink --print-plan --banker-count 2");
  const Ran nine = run_shell(simulator + " --seed 77 --runs 1 --no-shrink --print-plan --banker-count 9");
  const auto a = plan_lines(two.out);
  const auto b = plan_lines(nine.out);
  REQUIRE(a.count("  plan banker1") == 1);
  REQUIRE(b.count("  plan banker8") == 1);
  CHECK(a.at("  plan banker0") == b.at("  plan banker0"));
  CHECK(a.at("  plan banker1") == b.at("  plan banker1"));
  CHECK(a.at("  plan faults") == b.at("  plan faults"));
}

TEST_CASE("simulator process: --check-determinism compares two runs of each seed") {
  const Ran r = run_shell(simulator + " --seed 9 --runs 3 --check-determinism --verbose");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("determinism: same trace twice"));
}

// Each run's record carries its determinism hash: the same for the same seed
// in any process, and with --hash-event-log one over the whole event log.
TEST_CASE(
    "simulator process: --report-json records a trace_hash per run, over the whole log with "
    "--hash-event-log") {
  const auto dir = test_support::make_temp_dir();
  const auto hashes = [&](const std::string& flags) {
    const std::string records = dir + "/records.jsonl";
    const Ran r = run_shell(simulator + " --seed 9 --runs 4 --quiet --no-shrink --report-json " + records +
                            " " + flags);
    CHECK(r.exit_code == 0);
    const std::string text = test_support::read_file(records);
    std::vector<std::string> found;
    const std::regex hash("\"trace_hash\":([0-9]+)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), hash); it != std::sregex_iterator(); ++it)
      found.push_back((*it)[1]);
    CHECK(found.size() == 4);
    return found;
  };
  const auto events = hashes("");
  const auto logs = hashes("--hash-event-log");
  CHECK(hashes("--hash-event-log --no-isolation --max-parallel 1") == logs);
  for (std::size_t i = 0; i < logs.size() && i < events.size(); ++i) {
    INFO("run " << i);
    CHECK(logs[i] != events[i]);
    CHECK(logs[i] != "0");
  }
}

// The epochalypse build must fail within 20 seeds; the normal build passes them.
TEST_CASE("simulator process: the epochalypse is found, explained, and replayed exactly") {
  const auto dir = test_support::make_temp_dir();
  const Ran buggy = run_shell("SIMULATOR_SEED=1 SIMULATOR_RUNS=20 " + epochalypse + " --failures-dir " + dir);
  REQUIRE(buggy.exit_code == 1);
  CHECK_THAT(buggy.out, Catch::Contains("invariant 'created_at within the host's clock' broken"));
  CHECK_THAT(buggy.out, Catch::Contains("2038-01-19T03:14:08Z"));
  CHECK_THAT(buggy.out, Catch::Contains("epochalypse"));
  // The log lines that led up to the failure come with the shrunk story.
  CHECK_THAT(buggy.out, Catch::Contains("log lines before the failure (debug level):"));
  CHECK_THAT(buggy.out, Catch::Contains("shrunk: "));
  std::smatch replay;
  REQUIRE(std::regex_search(buggy.out, replay,
                            std::regex("replay: (SIMULATOR_SEED=\\d+ SIMULATOR_RUNS=1 \\S+)")));
  std::smatch evidence;
  REQUIRE(std::regex_search(buggy.out, evidence, std::regex("evidence: [^\n]*")));
  const Ran again = run_shell(replay[1].str() + " --no-shrink");
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.out, Catch::Contains(evidence[0].str()));

  const Ran normal = run_shell("SIMULATOR_SEED=1 SIMULATOR_RUNS=20 " + simulator);
  CHECK(normal.exit_code == 0);
  CHECK_THAT(normal.out, Catch::Contains("summary: 20 runs, 20 passed, 0 failed"));
}

// A failure file names the build and the seed, and its plan the build it came
// from; replaying it runs it, and shrinking it again is asked for and never
// overwrites the file replayed.
TEST_CASE("simulator process: failure files name their build and a replay runs the plan as it is") {
  const auto dir = test_support::make_temp_dir();
  const Ran found = run_shell("SIMULATOR_SEED=1 SIMULATOR_RUNS=20 " + epochalypse + " --until-failures 1 " +
                              "--failures-dir " + dir);
  REQUIRE(found.exit_code == 1);
  std::smatch saved;
  REQUIRE(std::regex_search(
      found.out, saved,
      std::regex("minimal plan saved: (\\S+/dst_demo_failure_bug_epochalypse_\\d+)\\.plan")));
  const std::string plan = saved[1].str() + ".plan";
  const std::string text = read_file(plan);
  CHECK_THAT(text, Catch::Contains("\nbuild bug_epochalypse\n"));

  const Ran replayed = run_shell(epochalypse + " --replay " + plan + " --failures-dir " + dir);
  INFO(replayed.out);
  CHECK(replayed.exit_code == 1);
  CHECK(replayed.out.find("shrunk:") == std::string::npos);
  CHECK(replayed.out.find("note: the plan came from") == std::string::npos);
  CHECK_THAT(replayed.out,
             Catch::Contains("shrink it again: " + epochalypse + " --replay " + plan + " --shrink"));
  CHECK(read_file(plan) == text);

  const Ran reshrunk = run_shell(epochalypse + " --replay " + plan + " --shrink --failures-dir " + dir);
  INFO(reshrunk.out);
  CHECK(reshrunk.exit_code == 1);
  CHECK_THAT(reshrunk.out, Catch::Contains("shrunk:"));
  CHECK_THAT(reshrunk.out, Catch::Contains("minimal plan saved: " + saved[1].str() + "_again.plan"));
  CHECK(read_file(plan) == text);

  // Another build says whose plan it runs.
  const Ran other = run_shell(simulator + " --replay " + plan);
  CHECK(other.exit_code == 0);
  CHECK_THAT(other.out,
             Catch::Contains("note: the plan came from build 'bug_epochalypse' "
                             "(dst_demo_server_simulator_bug_epochalypse), and this is build 'normal'"));
  const Ran both = run_shell(epochalypse + " --replay " + plan + " --shrink --no-shrink");
  CHECK(both.exit_code == 2);

  // A failure whose minimal plan cannot be written still exits 1 (the failure comes first) and says so.
  const Ran unsaved =
      run_shell(epochalypse + " --replay " + plan + " --shrink --failures-dir /proc/dst_demo_no");
  CHECK(unsaved.exit_code == 1);
  CHECK_THAT(unsaved.out,
             Catch::Contains("error: cannot write '/proc/dst_demo_no/dst_demo_failure_bug_epochalypse_"));
}

TEST_CASE("simulator process: a fixed-seed sweep of the normal build passes") {
  const Ran r = run_shell("SIMULATOR_SEED=20261125 SIMULATOR_RUNS=100 " + simulator);
  INFO(r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("summary: 100 runs, 100 passed, 0 failed"));
}

// The server's rare paths are named as coverage marks; a fixed-seed sweep of
// the normal build must walk every one of them, or the simulator has a blind spot.
TEST_CASE("simulator process: a fixed-seed sweep reaches every coverage mark of the server") {
  const Ran r = run_shell("SIMULATOR_SEED=20261125 SIMULATOR_RUNS=300 " + simulator + " --no-shrink");
  CHECK(r.exit_code == 0);
  std::smatch coverage;
  REQUIRE(std::regex_search(r.out, coverage, std::regex(R"(coverage: (\d+) of (\d+) marks reached)")));
  INFO(r.out.substr(r.out.find("coverage:")));
  CHECK(coverage[1].str() == coverage[2].str());
  CHECK(std::stoi(coverage[2].str()) >= 15);
  CHECK_THAT(r.out, !Catch::Contains("never reached"));
}

// A durability bug's story must show the disk: the sync that failed and what
// became of its bytes, what a crash left in the page cache, and the zeros the
// next sync wrote where the failed range was.
TEST_CASE("simulator process: a durability failure's story shows the disk and the crash") {
  const auto dir = test_support::make_temp_dir();
  const std::string binary =
      std::string(DST_DEMO_SIMULATOR_DIR) + "/dst_demo_server_simulator_bug_keeps_failed_writes";
  const std::string plan =
      std::string(DST_DEMO_SOURCE_DIR) + "/tests/regressions/keeps_failed_writes_kept_range.plan";
  const Ran r = run_shell(binary + " --replay " + plan + " --shrink --failures-dir " + dir);
  INFO(r.out);
  REQUIRE(r.exit_code == 1);
  const auto story_at = r.out.find("the minimal story:");
  REQUIRE(story_at != std::string::npos);
  const std::string story = r.out.substr(story_at);
  const std::vector<std::string> in_order = {
      "disk sync bank.journal failed (ENOSPC (no space left on device)): 69 unsynced bytes marked clean and "
      "kept in the page cache",
      "banker0 recv ERROR journal sync failed",
      "host crash (the page cache keeps its 69 unsynced bytes: a restart reads them)",
      "disk sync bank.journal ok: 69 bytes written (69 of them zeros, where a failed sync left pages marked "
      "clean), 69 durable",
      "host up (1 transactions)",
      "banker0 recv id=1 ",
      "host power loss lost=0",
      "host up (0 transactions)",
      "'durability' broken"};
  std::size_t at = 0;
  for (const std::string& line : in_order) {
    INFO("expected next in the story: " << line);
    at = story.find(line, at);
    REQUIRE(at != std::string::npos);
  }
}
