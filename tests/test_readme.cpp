// The documents' figures, checked against the binaries: the README's length
// and links, the epochalypse example line for line and the zoo table figure
// for figure (docs/ZOO.md), the simulator example (docs/SIMULATOR.md), the
// debugger session (docs/DEBUGGER.md), and ./dev demo. Registered in the
// release build only: they check what the binaries print, which sanitizers do
// not change, and under them the zoo's hundred runs per bug take minutes.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"

using test_support::Ran;
using test_support::run_shell;

namespace {

// A document of the clone, by its path from the root.
std::string read_doc(const std::string& path) {
  const std::string text = test_support::read_file(std::string(DST_DEMO_SOURCE_DIR) + "/" + path);
  INFO(path);
  REQUIRE(!text.empty());
  return text;
}

// The README and every document in docs/, by path.
std::vector<std::string> documents() {
  std::vector<std::string> paths = {"README.md"};
  for (const auto& entry : std::filesystem::directory_iterator(std::string(DST_DEMO_SOURCE_DIR) + "/docs")) {
    if (entry.path().extension() == ".md") paths.push_back("docs/" + entry.path().filename().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

// What the documents show a user is what the binaries print: the epochalypse
// example, line for line, and the zoo table, figure for figure.
TEST_CASE("docs: the epochalypse example in docs/ZOO.md is what the binary prints") {
  const std::string readme = read_doc("docs/ZOO.md");
  // It opens with the header line that names the planted bug.
  const std::string opening = "```\ndst_demo_server_simulator: seed=13647215125184110592 ";
  const auto start = readme.find(opening);
  REQUIRE(start != std::string::npos);
  const auto end = readme.find("```\n", start + 4);
  REQUIRE(end != std::string::npos);
  const std::string block = readme.substr(start + 4, end - start - 4);

  const auto dir = test_support::make_temp_dir();
  const std::string binary =
      std::string(DST_DEMO_SIMULATOR_DIR) + "/dst_demo_server_simulator_bug_epochalypse";
  const Ran r = run_shell("SIMULATOR_SEED=13647215125184110592 SIMULATOR_RUNS=1 " + binary +
                          " --failures-dir " + dir + "/simulator_failures");
  CHECK(r.exit_code == 1);
  std::string out = r.out;
  // The README runs it as a user would, from the project's root.
  replace_all(out, binary, "build/release/simulator/dst_demo_server_simulator_bug_epochalypse");
  replace_all(out, dir + "/simulator_failures", "simulator_failures");
  std::istringstream lines(block);
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line == "  ...") continue;
    INFO("docs/ZOO.md line: " << line);
    CHECK(out.find(line + "\n") != std::string::npos);
    ++checked;
  }
  CHECK(checked >= 10);
  CHECK_THAT(block, Catch::Contains("(bank built with the PLANTED BUG 'epochalypse')"));

  // The README's picture of the shrunk run is drawn from this run's timeline.
  const std::string trace =
      dir + "/simulator_failures/dst_demo_failure_bug_epochalypse_13647215125184110592.trace.json";
  const Ran drawn = run_shell(std::string(DST_DEMO_SOURCE_DIR) + "/docs/trace_to_svg.py " + trace + " " +
                              dir + "/timeline.svg");
  REQUIRE(drawn.exit_code == 0);
  const std::string fresh = test_support::read_file(dir + "/timeline.svg");
  const std::string shown =
      test_support::read_file(std::string(DST_DEMO_SOURCE_DIR) + "/docs/epochalypse_timeline.svg");
  REQUIRE(!fresh.empty());
  INFO(
      "docs/epochalypse_timeline.svg differs from the run's timeline drawn afresh: run "
      "docs/update_docs.py");
  CHECK(fresh == shown);
}

TEST_CASE("docs: the zoo table's figures are the checked-in detection baseline's") {
  // bench/zoo_power_baseline.json is checked against the zoo by the "zoo power" ctests.
  const auto baseline = nlohmann::json::parse(
      test_support::read_file(std::string(DST_DEMO_SOURCE_DIR) + "/bench/zoo_power_baseline.json"));
  const std::string readme = read_doc("docs/ZOO.md");
  const std::regex row(
      R"(\n\| `([a-z_]+)` \|[^\n]*\| ([0-9.]+)% \(([0-9.]+)-([0-9.]+)%\) \| ([0-9.]+|never) \|)");
  int rows = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), row); it != std::sregex_iterator();
       ++it) {
    const std::string bug = (*it)[1].str();
    INFO("zoo table row for " << bug << " (docs/update_docs.py writes it from the baseline)");
    REQUIRE(baseline["bugs"].contains(bug));
    const auto& figure = baseline["bugs"][bug];
    const double failed = figure["failed"].get<double>();
    const double runs = figure["runs"].get<double>();
    CHECK((*it)[2].str() == fmt::format("{:.1f}", 100 * failed / runs));
    CHECK((*it)[3].str() == fmt::format("{:.1f}", 100 * figure["wilson95"][0].get<double>()));
    CHECK((*it)[4].str() == fmt::format("{:.1f}", 100 * figure["wilson95"][1].get<double>()));
    CHECK((*it)[5].str() == (failed == 0 ? std::string("never") : fmt::format("{:.1f}", runs / failed)));
    ++rows;
  }
  CHECK(rows == 26);
  CHECK(baseline["bugs"].size() == 26);
}

// The simulator example a new user copies first runs as shown and passes; and
// what the README says of its output size holds.
TEST_CASE("docs: the simulator example in docs/SIMULATOR.md runs as written and passes") {
  const std::string readme = read_doc("docs/SIMULATOR.md");
  const auto section = readme.find("## Running it");
  REQUIRE(section != std::string::npos);
  const auto start = readme.find("```sh\n", section);
  REQUIRE(start != std::string::npos);
  const auto end = readme.find("```\n", start + 6);
  REQUIRE(end != std::string::npos);
  std::string command = readme.substr(start + 6, end - start - 6);
  replace_all(command, "\\\n", " ");
  replace_all(command, "\n", " ");
  REQUIRE(command.find("build/release/simulator/dst_demo_server_simulator") != std::string::npos);
  replace_all(command, "build/release/simulator/dst_demo_server_simulator",
              std::string(DST_DEMO_SIMULATOR_DIR) + "/dst_demo_server_simulator");
  INFO(command);
  const Ran r = run_shell(command);
  CHECK(r.exit_code == 0);
  std::smatch summary;
  REQUIRE(std::regex_search(r.out, summary, std::regex(R"(summary: (\d+) runs, (\d+) passed, 0 failed)")));
  CHECK(summary[1].str() == summary[2].str());
  // "about 45 lines a run" at info.
  const auto runs = std::stoul(summary[1].str());
  const auto lines = static_cast<unsigned long>(std::count(r.out.begin(), r.out.end(), '\n'));
  CHECK(lines < runs * 60);
  CHECK(lines > runs * 30);
}

// Every file the README or a document links to is in the clone (a link is
// relative to the document's folder), and the trace drawer runs exactly as
// docs/SIMULATOR.md writes it.
TEST_CASE("docs: every link resolves in the clone and docs/trace_to_svg.py runs as written") {
  const std::regex link(R"(\]\(([^)#:]+)(#[^)]*)?\))");
  int links = 0;
  for (const std::string& path : documents()) {
    const std::string text = read_doc(path);
    const std::string folder = std::filesystem::path(path).parent_path().string();
    for (auto it = std::sregex_iterator(text.begin(), text.end(), link); it != std::sregex_iterator(); ++it) {
      const std::string target = (*it)[1].str();
      INFO(path << " links to " << target);
      CHECK(std::filesystem::exists(std::string(DST_DEMO_SOURCE_DIR) + "/" + folder + "/" + target));
      ++links;
    }
  }
  CHECK(links >= 12);
  REQUIRE(read_doc("docs/SIMULATOR.md").find("`docs/trace_to_svg.py TRACE.json OUT.svg`") !=
          std::string::npos);
  const auto dir = test_support::make_temp_dir();
  const Ran traced = run_shell(std::string(DST_DEMO_SIMULATOR_DIR) +
                               "/dst_demo_server_simulator --seed 3 --runs 1 --trace " + dir + "/TRACE.json");
  REQUIRE(traced.exit_code == 0);
  const Ran drawn = run_shell("cd " + std::string(DST_DEMO_SOURCE_DIR) + " && docs/trace_to_svg.py " + dir +
                              "/TRACE.json " + dir + "/OUT.svg");
  INFO(drawn.out);
  CHECK(drawn.exit_code == 0);
  const std::string picture = test_support::read_file(dir + "/OUT.svg");
  CHECK(picture.find("<svg") != std::string::npos);
}

namespace {

// The code block right after `marker` in the README.
std::string block_after(const std::string& readme, const std::string& marker) {
  const auto at = readme.find(marker);
  if (at == std::string::npos) return "<no " + marker + ">";
  const auto start = readme.find("```\n", at) + 4;
  const auto end = readme.find("```\n", start);
  return readme.substr(start, end - start);
}

}  // namespace

TEST_CASE(
    "docs: the debugger session and the likelihood run in docs/DEBUGGER.md are what the binary prints") {
  const std::string readme = read_doc("docs/DEBUGGER.md");
  const std::string source = DST_DEMO_SOURCE_DIR;
  const std::string epochalypse = DST_DEMO_SIMULATOR_EPOCHALYPSE_PATH;
  INFO("docs/update_docs.py regenerates both from the binaries");
  const Ran session = run_shell("cd " + source + " && " + epochalypse +
                                " --replay tests/regressions/epochalypse_created_at_wraps.plan --debug "
                                "< docs/epochalypse_session.txt");
  CHECK(block_after(readme, "<!-- the debugger session below") == session.out);
  const std::string dir = test_support::make_temp_dir();
  const Ran likelihood =
      run_shell("cd " + source + " && " + epochalypse +
                " --likelihood tests/regressions/epochalypse_created_at_wraps.plan --branches 32 "
                "--chart " +
                dir + "/chart.svg");
  std::string shown = block_after(readme, "<!-- the likelihood run below");
  CHECK(shown.replace(shown.find("docs/epochalypse_likelihood.svg"), 31, dir + "/chart.svg") ==
        likelihood.out);
  CHECK(test_support::read_file(dir + "/chart.svg") ==
        test_support::read_file(source + "/docs/epochalypse_likelihood.svg"));
}

// The README is a door, not a manual: what DST is, the two commands, the
// five-minute path, the layout and the documents, in about 200 lines.
TEST_CASE("README: short, and it says what DST is before anything else") {
  const std::string readme = read_doc("README.md");
  const auto lines = std::count(readme.begin(), readme.end(), '\n');
  INFO("README.md has " << lines << " lines");
  CHECK(lines <= 200);
  const auto what = readme.find("## What deterministic simulation testing is");
  REQUIRE(what != std::string::npos);
  CHECK(what < readme.find("## Two commands on a fresh machine"));
  CHECK(readme.find("./dev simulate") != std::string::npos);
  CHECK(readme.find("./dev test") != std::string::npos);
  CHECK(readme.find("./dev demo") != std::string::npos);
  // Every document in docs/ is reachable from the README's table.
  for (const std::string& path : documents()) {
    if (path == "README.md") continue;
    INFO(path << " is not linked from the README");
    CHECK(readme.find("](" + path + ")") != std::string::npos);
  }
}

// ./dev demo on the built binary (its set-up and build skipped): it finds
// the epochalypse as the README says (three runs pass, the fourth fails and
// shrinks from 566 steps to one create), shows where it became certain and a
// debugger session, ends with the replay command, and writes only into its
// work directory.
TEST_CASE("README: ./dev demo finds, shrinks, explains and debugs the epochalypse") {
  const std::string source = DST_DEMO_SOURCE_DIR;
  const auto dir = test_support::make_temp_dir();
  const Ran r = run_shell("cd " + source + " && DST_DEMO_SIMULATOR=" + DST_DEMO_SIMULATOR_EPOCHALYPSE_PATH +
                          " DST_DEMO_WORK=" + dir + " ./dev demo");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> in_order = {
      "Deterministic simulation testing (DST) runs the real server code",
      "== 3/5 a sweep",
      "run 4/300 seed=13647215125184110592",
      "verdict: FAIL: invariant 'created_at within the host's clock' broken",
      "shrunk: 566 interactions and faults (of 8 bankers) down to 1 (of 1)",
      "banker0 send CREATE_TRANSACTION | 1 key=b0-1",
      "banker0 recv id=1 created_at=-2147483648 amount=$1.00",
      "summary: 4 runs, 3 passed, 1 failed",
      "== 4/5 where it became certain",
      "the failure is certain from event",
      "== 5/5 the debugger",
      "(dst) show clock",
      "the host's clock reads 2147483648251 ms (2038-01-19T03:14:08Z",
      "(dst) show ledger",
      "durable id=1 created_at=-2147483648 amount=$1.00 key=b0-1",
      "What you saw:",
      " --replay " + dir + "/failures/dst_demo_failure_bug_epochalypse_13647215125184110592.plan"};
  std::size_t at = 0;
  for (const std::string& line : in_order) {
    INFO("expected next: " << line);
    at = r.out.find(line, at);
    REQUIRE(at != std::string::npos);
  }
  // No debug log lines of the failing run, and no sweep of passing reports.
  CHECK(r.out.find("debug banker") == std::string::npos);
  CHECK(r.out.find("verdict: PASS") == std::string::npos);
  CHECK(std::filesystem::exists(dir + "/likelihood.svg"));
}

// Every flag the README and the documents show in code is one a binary or a
// script of the project takes (its --help names it), or one of the few tools
// around it (CMake, GNU parallel, kubectl): a flag renamed or dropped cannot
// linger in the prose.
TEST_CASE("docs: every flag the documents show is one a binary or script names in its --help") {
  const std::string source = DST_DEMO_SOURCE_DIR;
  const std::string bench_dir = std::string(DST_DEMO_SIMULATOR_DIR) + "/../bench";
  std::string helps;
  for (const std::string& command :
       {std::string(DST_DEMO_SERVER_PATH), std::string(DST_DEMO_CLIENT_PATH),
        std::string(DST_DEMO_SIMULATOR_PATH), bench_dir + "/dst_demo_bench", bench_dir + "/sim_bench",
        source + "/bench/mutation", source + "/bench/mutation run", source + "/bench/mutation check",
        source + "/bench/zoo_power", source + "/bench/zoo_power run", source + "/bench/zoo_power check",
        source + "/bench/compare_redis.sh", source + "/tests/crash_states.py",
        source + "/deploy/parallel/sweep.sh"}) {
    const Ran r = run_shell(command + " --help");
    INFO(command << " --help");
    CHECK(r.exit_code == 0);
    helps += r.out;
  }
  // The tools around the project: CMake, GNU parallel, kubectl.
  const std::vector<std::string> theirs = {"--build", "--preset", "--sshloginfile", "--for"};
  const std::regex code(R"(`([^`]*)`)");
  const std::regex flag(R"((^|[^\w-])(--[a-z][a-z0-9-]*))");
  int flags = 0;
  for (const std::string& path : documents()) {
    const std::string text = read_doc(path);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), code); it != std::sregex_iterator(); ++it) {
      const std::string span = (*it)[1].str();
      for (auto f = std::sregex_iterator(span.begin(), span.end(), flag); f != std::sregex_iterator(); ++f) {
        const std::string name = (*f)[2].str();
        if (std::find(theirs.begin(), theirs.end(), name) != theirs.end()) continue;
        INFO(path << " shows " << name << " in `" << span << "`, and no --help names it");
        CHECK(helps.find(name) != std::string::npos);
        ++flags;
      }
    }
  }
  CHECK(flags > 100);
}
