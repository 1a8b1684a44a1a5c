// The time-travel debugger as a user drives it: a scripted session on the
// shrunk epochalypse (the clock crossing 2^31 s, the wrapped created_at, a
// step back to before the create, a branch into a future that passes), the
// likelihood curve, and --diff naming where a zoo build and the normal build
// part ways on one plan.

#include <catch2/catch.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace {

using test_support::Ran;
using test_support::read_file;
using test_support::run_shell;

const std::string source_dir = DST_DEMO_SOURCE_DIR;
const std::string simulator = DST_DEMO_SIMULATOR_PATH;
const std::string epochalypse = DST_DEMO_SIMULATOR_EPOCHALYPSE_PATH;
const std::string plan = source_dir + "/tests/regressions/epochalypse_created_at_wraps.plan";

}  // namespace

TEST_CASE("debugger: a scripted session walks the epochalypse back and branches into a future that passes") {
  const Ran r = run_shell(epochalypse + " --replay " + plan + " --debug < " + source_dir +
                          "/docs/epochalypse_session.txt");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  // The clock just before and just after 2^31 s.
  CHECK_THAT(r.out,
             Catch::Contains("the host's clock reads 2147483647999 ms (2038-01-19T03:14:07Z; 2147483647 s"));
  CHECK_THAT(r.out,
             Catch::Contains("the host's clock reads 2147483648001 ms (2038-01-19T03:14:08Z; 2147483648 s"));
  // The create sent after the boundary, and the created_at that wrapped, in the reply and in the server's
  // ledger.
  CHECK_THAT(r.out, Catch::Contains("+0.742s  banker0 send CREATE_TRANSACTION | 1 key=b0-1"));
  CHECK_THAT(r.out, Catch::Contains("banker0 recv id=1 created_at=-2147483648 amount=$1.00"));
  CHECK_THAT(r.out, Catch::Contains("durable id=1 created_at=-2147483648 amount=$1.00 key=b0-1"));
  CHECK_THAT(r.out, Catch::Contains("FAIL: invariant 'created_at within the host's clock' broken"));
  // Back to before the create; then a branch whose future holds a balance instead, and passes.
  CHECK_THAT(r.out, Catch::Contains("(dst) back 8\nat event 1,"));
  CHECK_THAT(r.out, Catch::Contains("banker0: plan entry 1 of 2 (next: create 1.00 text=shortest)"));
  CHECK_THAT(r.out, Catch::Contains("branched at event 1 with seed 8"));
  CHECK_THAT(r.out, Catch::Contains("banker0: plan entry 1 of 2 (next: balance)"));
  CHECK_THAT(r.out, Catch::EndsWith("the run is over: PASS\n"));
  CHECK(r.out.find("did not replay identically") == std::string::npos);
}

TEST_CASE(
    "debugger: a branch saved as a plan replays to the same verdict, and bad commands are answered, not "
    "fatal") {
  const std::string dir = test_support::make_temp_dir();
  const Ran r = run_shell(
      "printf 'step 0\\nback x\\nshow nothing\\nfrobnicate\\nrun-to until (\\ngoto event 1\\nbranch 8\\n"
      "save-plan " +
      dir + "/branched.plan\\nquit\\n' | " + epochalypse + " --replay " + plan + " --debug");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("step: '0' is not a count of events"));
  CHECK_THAT(r.out, Catch::Contains("back: 'x' is not a count of events"));
  CHECK_THAT(r.out, Catch::Contains("show: 'nothing' is not one of"));
  CHECK_THAT(r.out, Catch::Contains("unknown command 'frobnicate'"));
  CHECK_THAT(r.out, Catch::Contains("run-to until: '(' is not a regular expression"));
  CHECK_THAT(read_file(dir + "/branched.plan"), Catch::Contains("branch at_event=1 seed=8"));
  const Ran replayed = run_shell(epochalypse + " --replay " + dir + "/branched.plan --no-shrink");
  CHECK(replayed.exit_code == 0);
  CHECK_THAT(replayed.out, Catch::Contains("verdict: PASS"));
}

TEST_CASE("debugger: the likelihood curve rises to all-fail once the create goes out after the boundary") {
  const std::string dir = test_support::make_temp_dir();
  const Ran r =
      run_shell(epochalypse + " --likelihood " + plan + " --branches 32 --chart " + dir + "/chart.svg");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  std::smatch first;
  REQUIRE(std::regex_search(r.out, first, std::regex(R"(event 0 step 0 \+0\.000s  (\d+)/32 fail)")));
  CHECK(std::stoi(first[1].str()) < 32);  // From the start, most futures do not create after 2^31 s.
  CHECK_THAT(r.out, Catch::Contains("event 8 step 758 +0.758s  32/32 fail"));
  // Certain only after the clock crossed 2^31 s (+0.491 s).
  std::smatch certain;
  REQUIRE(std::regex_search(r.out, certain,
                            std::regex(R"(the failure is certain from event \d+ \(\+0\.(\d+)s\))")));
  CHECK(std::stoi(certain[1].str()) > 491);
  CHECK_THAT(read_file(dir + "/chart.svg"), Catch::Contains("<polyline"));
  // The same curve twice: branches are seeded.
  const Ran again =
      run_shell(epochalypse + " --likelihood " + plan + " --branches 32 --chart " + dir + "/again.svg");
  CHECK(again.out == std::regex_replace(r.out, std::regex("chart.svg"), "again.svg"));
}

TEST_CASE(
    "debugger: --diff names the first difference between a zoo build's event log and the normal build") {
  const std::string dir = test_support::make_temp_dir();
  REQUIRE(run_shell(epochalypse + " --replay " + plan + " --no-shrink --events " + dir + "/zoo.events")
              .exit_code == 1);
  const Ran r = run_shell(simulator + " --diff " + dir + "/zoo.events " + plan);
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("build=planted bug epochalypse"));
  CHECK_THAT(r.out, Catch::Contains("first difference at line"));
  CHECK_THAT(r.out,
             Catch::Contains("A: 2147483648267 banker0 recv id=1 created_at=-2147483648 amount=$1.00"));
  CHECK_THAT(r.out, Catch::Contains("B: 2147483648267 banker0 recv id=1 created_at=2147483648 amount=$1.00"));
  // A run against itself: no difference.
  const Ran same = run_shell(simulator + " --diff " + plan + " " + plan);
  CHECK(same.exit_code == 0);
  CHECK_THAT(same.out, Catch::Contains("the two runs are the same"));
  const Ran missing = run_shell(simulator + " --diff " + dir + "/none " + plan);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.out, Catch::Contains("cannot read '" + dir + "/none'"));
}

TEST_CASE("debugger: --dump-at prints the whole state at a step") {
  const Ran r = run_shell(epochalypse + " --replay " + plan + " --dump-at 748");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  for (const char* part :
       {"clock:", "ledger (the server's memory):", "journal (the simulated disk):", "connections:",
        "bankers:", "model (what the checker knows):", "events due next:"}) {
    CHECK_THAT(r.out, Catch::Contains(part));
  }
  CHECK_THAT(r.out, Catch::Contains("step 748"));
  CHECK_THAT(r.out,
             Catch::Contains(
                 "@0: unsynced id=1 created_at=-2147483648"));  // Appended at +0.747 s; synced at +0.749 s.
}

namespace {

// The debugger's answer to each command of `script`, in order, keyed by the
// command as typed (a pipe echoes each after its prompt).
std::vector<std::pair<std::string, std::string>> answers(const std::string& out) {
  std::vector<std::pair<std::string, std::string>> result;
  std::size_t at = out.find("(dst) ");
  while (at != std::string::npos) {
    const std::size_t line_end = out.find('\n', at);
    const std::size_t next = out.find("(dst) ", line_end);
    result.emplace_back(
        out.substr(at + 6, line_end - at - 6),
        out.substr(line_end + 1, (next == std::string::npos ? out.size() : next) - line_end - 1));
    at = next;
  }
  return result;
}

// The last actor line an answer shows (the line it stopped on), without its time.
std::string last_actor_line(const std::string& answer) {
  std::string last;
  std::istringstream lines(answer);
  for (std::string line; std::getline(lines, line);) {
    static const std::regex actor_line(R"(^  \+\d+\.\d{3}s  (.*)$)");
    std::smatch m;
    if (std::regex_match(line, m, actor_line)) last = m[1].str();
  }
  return last;
}

}  // namespace

// Seed 5's run clogs the network, loses power, slows the disk and heals, with
// banker0 busy throughout: each command that runs forward must stop where it
// says, long before the run ends.
TEST_CASE("debugger: next and run-to until and every kind of breakpoint stop where they say") {
  const std::string script =
      "next fault\nnext banker0\nrun-to until host power\nback 1\nbreak crash\ncontinue\ndelete 1\n"
      "next host\nbreak fault slow_disk\ncontinue\ndelete 1\nbreak request banker3\ncontinue\ndelete 1\n"
      "break ^\\\\d+ heal\ncontinue\nbreaks\ndelete 1\nbreak step 9000\ncontinue\n"
      "run-to 12000\nrun-to +13s\ngoto 500\ngoto event 10\nstep 3\nback 2\nwhere\n";
  const Ran r = run_shell("printf '" + script + "' | " + simulator + " --seed 5 --debug");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto got = answers(r.out);
  REQUIRE(got.size() == 27);
  for (const auto& [command, answer] : got) {
    INFO("command: " << command << "\nanswer:\n" << answer);
    CHECK(answer.find("phase: over") == std::string::npos);
  }
  CHECK(last_actor_line(got[0].second) == "fault clog banker9 for=2073");
  CHECK(last_actor_line(got[1].second).starts_with("banker0 "));
  CHECK(last_actor_line(got[2].second) == "host power loss lost=0");
  CHECK_THAT(got[3].second, Catch::StartsWith("at event 1431,"));
  CHECK(last_actor_line(got[5].second) == "host power loss lost=0");
  CHECK_THAT(got[5].second, Catch::Contains("breakpoint 1: crash\n"));
  CHECK(last_actor_line(got[7].second) == "host up (102 transactions)");
  CHECK(last_actor_line(got[9].second) == "fault slow_disk extra=598 for=2976");
  CHECK_THAT(got[9].second, Catch::Contains("breakpoint 1: fault slow_disk\n"));
  CHECK(last_actor_line(got[12].second).starts_with("banker3 send "));
  CHECK(last_actor_line(got[15].second) == "heal");
  CHECK(got[16].second == "1: ^\\d+ heal\n");
  CHECK_THAT(got[19].second, Catch::Contains("breakpoint 1: step 9000\nat event"));
  CHECK_THAT(got[19].second, Catch::Contains(", step 9000 (+9.000s"));
  CHECK_THAT(got[20].second, Catch::Contains(", step 12000 (+12.000s"));
  CHECK_THAT(got[21].second, Catch::Contains(", step 13000 (+13.000s"));
  CHECK_THAT(got[22].second, Catch::StartsWith("at event"));
  CHECK_THAT(got[22].second, Catch::Contains(", step 500 (+0.500s"));
  CHECK_THAT(got[23].second, Catch::StartsWith("at event 10,"));
  CHECK_THAT(got[24].second, Catch::Contains("at event 13,"));
  CHECK_THAT(got[25].second, Catch::StartsWith("at event 11,"));
  CHECK_THAT(got[26].second, Catch::StartsWith("at event 11,"));
}

// The chart goes to the current directory unless --chart says where: a plan
// in the source tree (or a read-only place) gets nothing written beside it.
TEST_CASE("debugger: --likelihood writes its chart in the current directory, never beside the plan") {
  const std::string dir = test_support::make_temp_dir();
  const std::string copy = dir + "/plans/epochalypse.plan";
  REQUIRE(run_shell("mkdir -p " + dir + "/plans " + dir + "/work && cp " + plan + " " + copy).exit_code == 0);
  const Ran r =
      run_shell("cd " + dir + "/work && " + epochalypse + " --likelihood " + copy + " --branches 4");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("chart: epochalypse.likelihood.svg"));
  CHECK_THAT(read_file(dir + "/work/epochalypse.likelihood.svg"), Catch::Contains("<polyline"));
  CHECK(run_shell("ls " + dir + "/plans").out == "epochalypse.plan\n");
}
