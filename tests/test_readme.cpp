// The README's figures, checked against the binaries: its epochalypse
// example line for line, its zoo table figure for figure. Registered in the
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

#include "support/process.hpp"

using test_support::Ran;
using test_support::run_shell;

namespace {

std::string read_readme() {
  const std::string readme = test_support::read_file(std::string(DST_DEMO_SOURCE_DIR) + "/README.md");
  REQUIRE(!readme.empty());
  return readme;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

// What the README shows a user is what the binaries print: its epochalypse
// example, line for line, and its zoo table, figure for figure.
TEST_CASE("README: the epochalypse example is what the binary prints") {
  const std::string readme = read_readme();
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
    INFO("README line: " << line);
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
      "docs/update_readme.py");
  CHECK(fresh == shown);
}

TEST_CASE("README: the zoo table's figures are the checked-in detection baseline's") {
  // bench/zoo_power_baseline.json is checked against the zoo by the "zoo power" ctests.
  const auto baseline = nlohmann::json::parse(
      test_support::read_file(std::string(DST_DEMO_SOURCE_DIR) + "/bench/zoo_power_baseline.json"));
  const std::string readme = read_readme();
  const std::regex row(
      R"(\n\| `([a-z_]+)` \|[^\n]*\| ([0-9.]+)% \(([0-9.]+)-([0-9.]+)%\) \| ([0-9.]+|never) \|)");
  int rows = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), row); it != std::sregex_iterator();
       ++it) {
    const std::string bug = (*it)[1].str();
    INFO("zoo table row for " << bug << " (docs/update_readme.py writes it from the baseline)");
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
TEST_CASE("README: the simulator example runs as written and passes") {
  const std::string readme = read_readme();
  const auto section = readme.find("## The simulator");
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

// Every file the README links to or tells a user to run is in the clone, and
// the trace drawer runs exactly as the README writes it.
TEST_CASE("README: its links resolve in the clone and docs/trace_to_svg.py runs as written") {
  const std::string readme = read_readme();
  const std::regex link(R"(\]\(([^)#:]+)\))");
  int links = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), link); it != std::sregex_iterator();
       ++it) {
    const std::string target = (*it)[1].str();
    INFO("README links to " << target);
    CHECK(std::filesystem::exists(std::string(DST_DEMO_SOURCE_DIR) + "/" + target));
    ++links;
  }
  CHECK(links >= 2);
  REQUIRE(readme.find("`docs/trace_to_svg.py TRACE.json OUT.svg`") != std::string::npos);
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

TEST_CASE("README: the debugger session and the likelihood run are what the binary prints") {
  const std::string readme = read_readme();
  const std::string source = DST_DEMO_SOURCE_DIR;
  const std::string epochalypse = DST_DEMO_SIMULATOR_EPOCHALYPSE_PATH;
  INFO("docs/update_readme.py regenerates both from the binaries");
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
