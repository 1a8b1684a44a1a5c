// The simulator as a whole, in process: determinism, knob drawing, and that
// the model catches what it must.

#include <catch2/catch.hpp>
#include <set>

#include "bank/framing.hpp"
#include "door_watch.hpp"
#include "framed_client.hpp"
#include "model.hpp"
#include "plan_file.hpp"
#include "run.hpp"
#include "shrink.hpp"
#include "sim/sim_network.hpp"

using namespace bank_sim;

namespace {
RunResult run_seed(std::uint64_t seed, KnobOverrides overrides = {},
                   bank::LogLevel level = bank::LogLevel::debug) {
  RunOptions options;
  options.log_level = level;
  options.keep_trace = true;
  return run_simulation(generate_plans(draw_knobs(seed, overrides)), options);
}
}  // namespace

TEST_CASE("simulator: the same seed gives the same run, byte for byte") {
  for (std::uint64_t seed : {1ULL, 2ULL, 77ULL}) {
    const RunResult a = run_seed(seed);
    const RunResult b = run_seed(seed);
    INFO("seed " << seed);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.trace_lines == b.trace_lines);
    CHECK(a.log == b.log);
    CHECK(a.events == b.events);
    CHECK(a.steps == b.steps);
    CHECK(a.stats.interactions_done == b.stats.interactions_done);
  }
}

TEST_CASE("simulator: different seeds give different runs") {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 100; seed < 110; ++seed)
    hashes.insert(run_seed(seed, {}, bank::LogLevel::off).trace_hash);
  CHECK(hashes.size() == 10);
}

TEST_CASE("simulator: overriding one knob replays every other draw") {
  const Knobs drawn = draw_knobs(5, {});
  KnobOverrides overrides;
  overrides.banker_count = drawn.banker_count == 1 ? 2 : 1;
  overrides.duration_steps = 1234;
  const Knobs changed = draw_knobs(5, overrides);
  CHECK(changed.step_ms == drawn.step_ms);
  CHECK(changed.epoch_offset_ms == drawn.epoch_offset_ms);
  CHECK(changed.interactions_per_banker == drawn.interactions_per_banker);
  CHECK(describe_swarm(changed.swarm) == describe_swarm(drawn.swarm));
  CHECK(changed.banker_count == *overrides.banker_count);
  CHECK(changed.duration_steps == 1234);
}

TEST_CASE("simulator: knobs are drawn from the documented mixtures") {
  int one_ms = 0;
  int hours = 0;
  int near_2038 = 0;
  int calm = 0;
  for (std::uint64_t seed = 0; seed < 1000; ++seed) {
    const Knobs k = draw_knobs(seed, {});
    REQUIRE(k.step_ms >= 1);
    REQUIRE(k.step_ms <= step_ms_max);
    REQUIRE(k.epoch_offset_ms >= 0);
    REQUIRE(k.epoch_offset_ms <= epoch_offset_ms_max);
    REQUIRE(k.banker_count >= 1);
    one_ms += k.step_ms == 1;
    hours += k.step_ms >= 3'600'000;
    near_2038 +=
        k.epoch_offset_ms < 2'147'483'648'000LL && k.epoch_offset_ms > 2'147'483'648'000LL - 200'000'000LL;
    calm += k.swarm.calm();
  }
  CHECK(one_ms > 600);
  CHECK(hours > 20);
  CHECK(near_2038 > 100);
  CHECK(calm > 60);
}

TEST_CASE("simulator: a fixed-seed sweep of the normal bank passes, with faults really injected") {
  std::uint64_t faults = 0;
  std::uint64_t crashes = 0;
  std::uint64_t power_losses = 0;
  std::uint64_t interactions = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    const RunResult r = run_seed(seed, {}, bank::LogLevel::off);
    INFO("seed " << seed << ": " << (r.failure ? r.failure->invariant + ": " + r.failure->evidence : "pass"));
    CHECK(r.passed());
    faults += r.stats.faults_injected;
    crashes += r.stats.crashes;
    power_losses += r.stats.power_losses;
    interactions += r.stats.interactions_done;
  }
  CHECK(faults > 100);
  CHECK(crashes > 10);
  CHECK(power_losses > 10);
  CHECK(interactions > 3000);
}

TEST_CASE("model: an acknowledged transaction missing from a later list is a durability failure") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_acked("banker0", "k1", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  REQUIRE_FALSE(model.failed());
  model.check_list("banker1", "", model.generation());
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "durability");
  CHECK_THAT(model.failure()->evidence, Catch::Contains("id=1 created_at=0 amount=$5.00"));
}

TEST_CASE(
    "model: a list sent before the checked prefix grew, going on past it, gets the whole check's verdict") {
  // The prefix's lines that nobody acknowledged were explained by writes in
  // flight when they were checked; a list sent earlier that shows them and
  // more must explain them all again, from the same writes: one $7.00 write
  // in flight cannot explain two $7.00 lines.
  const std::string line1 = "id=1 created_at=0 amount=$5.00";
  const std::string line2 = "id=2 created_at=0 amount=$7.00";
  const std::string line3 = "id=3 created_at=0 amount=$7.00";
  for (const int in_flight : {1, 2}) {
    sim::World world(1, 0, 1);
    Model model(world);
    model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
    model.write_acked("banker0", "k1", line1, ClockWindow{0, 0, false});
    const std::uint64_t sent_early = model.generation();
    for (int i = 0; i < in_flight; ++i)
      model.write_started("w" + std::to_string(i), WriteKind::create, bank::Money{700}, 0);
    // A later list confirms id=2: the checked prefix is now two lines.
    model.check_list("banker1", line1 + "\n" + line2, model.generation());
    REQUIRE_FALSE(model.failed());
    REQUIRE(model.generation() > sent_early);
    // The earlier list arrives last.
    model.check_list("banker2", line1 + "\n" + line2 + "\n" + line3, sent_early);
    INFO(in_flight << " write(s) of $7.00 in flight");
    if (in_flight == 2) {
      CHECK_FALSE(model.failed());
      CHECK(model.highest_known_id() == 3);  // Confirmed by the list.
    } else {
      REQUIRE(model.failed());
      CHECK(model.failure()->invariant == "exactly-once");
      CHECK(model.failure()->actor == "banker2");
      CHECK_THAT(model.failure()->evidence, Catch::Contains(line3));
    }
  }
}

TEST_CASE("model: a list sent before the checked prefix grew is worded as the whole check words it") {
  const std::string line1 = "id=1 created_at=5 amount=$5.00";
  const std::string line2 = "id=2 created_at=6 amount=$7.00";
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_started("k2", WriteKind::create, bank::Money{700}, 0);
  const std::uint64_t sent_early = model.generation();
  model.check_list("banker1", line1, model.generation());
  REQUIRE_FALSE(model.failed());
  // Its third line goes back in time: the whole check's words, not the prefix check's.
  model.check_list("banker2", line1 + "\n" + line2 + "\nid=3 created_at=4 amount=$7.00", sent_early);
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "created_at never decreases");
  CHECK(model.failure()->evidence ==
        "`id=3 created_at=4 amount=$7.00` follows `id=2 created_at=6 amount=$7.00` but has an earlier "
        "created_at");
}

// A newline after the last line (or before the first) is no line: the
// protocol joins lines with '\n'. It also hid the last line from the count of
// what the list shows, whether the list extends the checked prefix or not,
// and whether it is a banker's or the audit's.
TEST_CASE("model: a list with a newline before its first line or after its last is a reply format failure") {
  const std::string line1 = "id=1 created_at=0 amount=$5.00";
  const std::string line2 = "id=2 created_at=0 amount=$7.00";
  for (const std::string& reply :
       {line1 + "\n", line1 + "\n" + line2 + "\n", "\n" + line1, std::string("\n")}) {
    for (const bool prefix_checked : {false, true}) {
      INFO("reply `" << reply << "`, prefix checked first: " << prefix_checked);
      sim::World world(1, 0, 1);
      Model model(world);
      model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
      model.write_started("k2", WriteKind::create, bank::Money{700}, 0);
      if (prefix_checked) {
        model.check_list("banker0", line1, model.generation());
        REQUIRE_FALSE(model.failed());
      }
      model.check_list("banker1", reply, model.generation());
      REQUIRE(model.failed());
      CHECK(model.failure()->invariant == "reply format");
    }
  }
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.audit("auditor", line1 + "\n", "$5.00");
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "reply format");
}

TEST_CASE("model: a write applied twice is caught") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_acked("banker0", "k1", "id=2 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  model.check_list("banker0", "id=1 created_at=0 amount=$5.00\nid=2 created_at=0 amount=$5.00",
                   model.generation());
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "exactly-once");
}

TEST_CASE("model: a balance that matches no ledger is caught at the audit") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_acked("banker0", "k1", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  model.check_balance("banker0", "$0.00", model.generation(), 1);  // Sent after the ack: must include it.
  model.audit("auditor", "id=1 created_at=0 amount=$5.00", "$5.00");
  REQUIRE(model.failed());
  CHECK_THAT(model.failure()->invariant, Catch::Contains("balance"));
}

TEST_CASE("model: a balance that includes a write not yet durable when its reply arrived is caught") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  // The host held no durable transaction when $5.00 arrived: the balance showed a staged write.
  model.check_balance("banker0", "$5.00", model.generation(), 0);
  model.write_acked("banker1", "k1", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  model.audit("auditor", "id=1 created_at=0 amount=$5.00", "$5.00");
  REQUIRE(model.failed());
  CHECK_THAT(model.failure()->invariant, Catch::Contains("balance"));
  CHECK_THAT(model.failure()->evidence, Catch::Contains("durable when it was answered"));
}

TEST_CASE("model: replies must be canonical: $-0.00, leading zeros and plus signs are refused") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.check_balance("banker0", "$-0.00", model.generation(), 0);
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "reply format");
  CHECK_FALSE(parse_transaction_line("id=1 created_at=0 amount=$-0.00").has_value());
  CHECK_FALSE(parse_transaction_line("id=01 created_at=0 amount=$1.00").has_value());
  CHECK_FALSE(parse_transaction_line("id=1 created_at=+5 amount=$1.00").has_value());
  CHECK_FALSE(parse_transaction_line("id=1 created_at=0 amount=$01.00").has_value());
  CHECK(parse_transaction_line("id=1 created_at=-5 amount=$-0.05").has_value());
}

TEST_CASE("model: one transaction acknowledged under two keys is an exactly-once failure") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_started("k2", WriteKind::create, bank::Money{500}, 0);
  model.write_acked("banker0", "k1", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  REQUIRE_FALSE(model.failed());
  model.write_acked("banker1", "k2", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "exactly-once");
}

TEST_CASE("model: 'already voided by X' where X turns out not to reverse it is caught at the audit") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_acked("banker0", "k1", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  model.write_started("k2", WriteKind::create, bank::Money{100}, 0);
  model.write_started("v1", WriteKind::void_, bank::Money{}, 1);
  model.void_rejected("banker0", "v1", 1, "ERROR transaction 1 is already voided by transaction 2", 2);
  REQUIRE_FALSE(model.failed());  // Transaction 2 is not known yet.
  model.audit("auditor", "id=1 created_at=0 amount=$5.00\nid=2 created_at=0 amount=$1.00", "$6.00");
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "a transaction is voided at most once");
}

// A refusal names a reversal: it reveals it, so it must be durable when the
// refusal arrives (else a crash could take back what the client was told).
TEST_CASE("model: a refusal naming a reversal that is not yet durable is a failure") {
  sim::World world(1, 0, 1);
  Model model(world);
  model.write_started("k1", WriteKind::create, bank::Money{500}, 0);
  model.write_acked("banker0", "k1", "id=1 created_at=0 amount=$5.00", ClockWindow{0, 0, false});
  model.write_started("v1", WriteKind::void_, bank::Money{}, 1);
  model.write_started("v2", WriteKind::void_, bank::Money{}, 1);
  model.void_rejected("banker1", "v2", 1, "ERROR transaction 1 is already voided by transaction 2", 1);
  REQUIRE(model.failed());
  CHECK(model.failure()->invariant == "reads show only durable writes");
  CHECK_THAT(model.failure()->evidence, Catch::Contains("while the host had only 1 transactions durable"));

  Model reversal(world);
  reversal.write_started("v3", WriteKind::void_, bank::Money{}, 4);
  reversal.void_rejected("banker0", "v3", 4, "ERROR transaction 4 is a reversal of 3 and cannot be voided",
                         3);
  REQUIRE(reversal.failed());
  CHECK(reversal.failure()->invariant == "reads show only durable writes");
}

TEST_CASE("model: transaction lines parse, and dates print for the whole range") {
  auto t = parse_transaction_line("id=7 created_at=1745529640 amount=$-12.50 voids=3");
  REQUIRE(t.has_value());
  CHECK(t->id == 7);
  CHECK(t->amount.cents == -1250);
  CHECK(t->voids_id == 3);
  CHECK_FALSE(parse_transaction_line("id=7 created_at=1 amount=$1.5").has_value());
  CHECK(format_utc(2'147'483'648) == "2038-01-19T03:14:08Z");
  CHECK(format_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(format_utc(-2'147'483'648) == "1901-12-13T20:45:52Z");
  CHECK(format_utc(100'000'000'000) == "5138-11-16T09:46:40Z");
}

namespace {

// The plans saved as a plan file and read back: the same text again.
Plans saved_and_read_back(const Plans& plans) {
  const std::string text = format_plan_file(plans);
  auto parsed = parse_plan_file(text, "saved.plan");
  REQUIRE(parsed.ok());
  CHECK(format_plan_file(*parsed) == text);
  return *parsed;
}

RunOptions traced(bank::LogLevel level) {
  RunOptions options;
  options.log_level = level;
  options.keep_trace = true;
  return options;
}

// Runs plans, which must pass, and their plan file read back, which must run the same.
RunResult passes_and_replays_from_its_file(const Plans& plans) {
  const Plans read_back = saved_and_read_back(plans);
  const RunOptions options = traced(bank::LogLevel::info);
  RunResult r = run_simulation(plans, options);
  INFO(r.log);
  CHECK(r.passed());
  CHECK(run_simulation(read_back, options).trace_hash == r.trace_hash);
  return r;
}

}  // namespace

TEST_CASE("plan files: a saved plan reads back as the same plan and replays the same run") {
  for (std::uint64_t seed : {3ULL, 4ULL, 5ULL}) {
    const Plans plans = generate_plans(draw_knobs(seed, {}));
    const Plans read_back = saved_and_read_back(plans);
    const RunOptions options = traced(bank::LogLevel::off);
    const RunResult original = run_simulation(plans, options);
    CHECK(original.trace_lines.size() > 10);
    CHECK(run_simulation(read_back, options).trace_hash == original.trace_hash);
  }
}

TEST_CASE("graceful stops: a stop while writes sync passes, is saved in the plan file and replays the same") {
  using bank_sim::Fault;
  using bank_sim::FaultOp;
  Plans plans = generate_plans(draw_knobs(5, {}));
  plans.knobs.swarm = {};
  plans.knobs.swarm.crashes = true;
  Fault wait;
  wait.op = FaultOp::sleep;
  wait.duration_ms = 2'000;
  Fault stop;
  stop.op = FaultOp::stop;
  stop.duration_ms = 500;
  stop.when_unsynced = true;  // While writes sync: they must be answered before the server exits.
  plans.faults.faults = {wait, stop, wait, stop};
  CHECK_THAT(format_plan_file(plans), Catch::Contains("stop restart_after=500 when=unsynced"));
  const RunResult r = passes_and_replays_from_its_file(plans);
  CHECK(r.stats.stops == 2);
  CHECK_THAT(r.log, Catch::Contains("stopped gracefully after"));
}

TEST_CASE(
    "aimed corruption: a flipped bit in a record's header or trailer is refused at the restart, and "
    "the plan file keeps it") {
  using bank_sim::CorruptKind;
  using bank_sim::Fault;
  using bank_sim::FaultOp;
  for (const unsigned byte : {0u, 5u, 14u, 16u, 27u}) {
    INFO("byte " << byte);
    Plans plans = generate_plans(draw_knobs(5, {}));
    plans.knobs.swarm = {};
    plans.knobs.swarm.corruption = true;
    Fault wait;
    wait.op = FaultOp::sleep;
    wait.duration_ms = 3'000;
    Fault corrupt;
    corrupt.op = FaultOp::corrupt;
    corrupt.corrupt_kind = CorruptKind::aimed;
    corrupt.pick = 2;  // The third record from the last: synced, with records after it.
    corrupt.byte = byte;
    corrupt.bit = 3;
    Fault restart;
    restart.op = FaultOp::crash;
    restart.duration_ms = 100;
    plans.faults.faults = {wait, corrupt, restart, wait};
    CHECK_THAT(format_plan_file(plans),
               Catch::Contains(fmt::format("corrupt aimed record=2 byte={} bit=3", byte)));
    const RunResult r = passes_and_replays_from_its_file(plans);
    CHECK_THAT(r.log, Catch::Contains(byte < 16 ? "of the header of the journal's record"
                                                : "of the trailer of the journal's record"));
    CHECK(r.stats.refusals_after_corruption == 1);
  }
}

TEST_CASE(
    "CLOSE with a create behind it: the create is neither answered nor applied, and the plan file says so") {
  Plans plans = generate_plans(draw_knobs(5, {}));
  plans.knobs.swarm = {};  // No faults: the CLOSE's write is answered, then the connection closes.
  plans.faults.faults.clear();
  for (auto& banker : plans.bankers) {
    for (auto& x : banker.interactions) {
      if (x.op != bank_sim::BankerOp::create || x.keyless) continue;
      x.echo = false;
      x.hang_up = x.polite = x.after_close = true;
      x.shut = x.wait = false;  // A hang-up comes with the prompt: the argument goes with the action.
    }
  }
  CHECK_THAT(format_plan_file(plans), Catch::Contains("hangup=close+create"));
  const RunResult r = passes_and_replays_from_its_file(plans);
  CHECK(r.stats.interactions_done > 10);
  bool told = false;
  for (const auto& line : r.trace_lines) told = told || line.find("a create behind it") != std::string::npos;
  CHECK(told);
}

TEST_CASE("plan files: a malformed or hand-edited plan gets an error naming the line and what was expected") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"seed 1\n", "saved.plan:1: expected 'version 2' first"},
      {"version 1\n", "saved.plan:1: version 1 is not supported"},
      {"version 2\nseed 1\nbanker 0\n  create 1.234\nend\n",
       "saved.plan:4: expected 'create AMOUNT': amount must have at most 2 decimals"},
      {"version 2\nbanker 0\n  jump\nend\n",
       "saved.plan:3: expected an interaction: sleep, create, get, void, list, balance, pipeline or garbage"},
      {"version 2\nbanker 0\nfaults\n  partition banker7 for=5\nend\n",
       "saved.plan:4: expected a target: all or banker0..banker0"},
      {"version 2\nbanker 1\nend\n", "saved.plan:2: expected 'banker 0'"},
      {"version 2\nbanker 0\n  list\n", "expected 'end' as the last line"},
      {"version 2\nstep_ms 0\nbanker 0\nend\n", "saved.plan:2: 0 is out of range"},
      {"version 2\nbanker 0\n  create 1.00 wait hangup\nend\n",
       "saved.plan:3: wait is for a write with no hangup"},
      {"version 2\nbanker 0\n  get known 1 slow=5 wait\nend\n",
       "saved.plan:3: wait is for a get that reads at once"},
      {"version 2\nbanker 0\n  list wait\nend\n", "saved.plan:3: expected slow=N after 'list', got 'wait'"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto parsed = parse_plan_file(c.text, "saved.plan");
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains(c.error));
  }
}

TEST_CASE(
    "timeline: a recorded run is Chrome trace JSON with a track per actor, spans, flows and the verdict") {
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.record_timeline = true;
  const RunResult r = run_simulation(generate_plans(draw_knobs(11, {})), options);
  const std::string& json = r.timeline_json;
  CHECK(json.rfind("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", 0) == 0);
  CHECK(std::count(json.begin(), json.end(), '{') == std::count(json.begin(), json.end(), '}'));
  CHECK_THAT(json, Catch::Contains(R"("name":"thread_name","args":{"name":"banker0"})"));
  CHECK_THAT(json, Catch::Contains(R"("name":"thread_name","args":{"name":"host"})"));
  CHECK_THAT(json, Catch::Contains(R"("ph":"s")"));
  CHECK_THAT(json, Catch::Contains(R"("ph":"f","bp":"e")"));
  CHECK_THAT(json, Catch::Contains(R"("name":"PASS")"));
}

TEST_CASE("shrinking: a removed step leaves a sleep as long as it took, so what follows keeps its time") {
  using bank_sim::BankerOp;
  using bank_sim::Interaction;
  auto op = [](BankerOp o, std::int64_t sleep_ms = 0) {
    Interaction i;
    i.op = o;
    i.sleep_ms = sleep_ms;
    return i;
  };
  // sleep 5, create, get, sleep 7, list: began at 0, 5, 20, 30 and 37 ms.
  const std::vector<Interaction> items = {op(BankerOp::sleep, 5), op(BankerOp::create), op(BankerOp::get),
                                          op(BankerOp::sleep, 7), op(BankerOp::list)};
  const std::vector<std::int64_t> started = {0, 5, 20, 30, 37};
  // Without create and get (and the sleep after them): list still begins at 37.
  auto out = bank_sim::replaced_by_sleep(items, 1, 3, started, 100);
  REQUIRE(out.size() == 2);
  CHECK(out[0].op == BankerOp::sleep);
  CHECK(out[0].sleep_ms == 37);
  CHECK(out[1].op == BankerOp::list);
  // Without get alone: list begins after create, its sleep 7 ms, and 10 ms for what get took.
  out = bank_sim::replaced_by_sleep(items, 2, 3, started, 100);
  REQUIRE(out.size() == 4);
  CHECK(out[2].op == BankerOp::sleep);
  CHECK(out[2].sleep_ms == 17);
  CHECK(out[3].op == BankerOp::list);
  // The tail goes without a sleep.
  out = bank_sim::replaced_by_sleep(items, 4, 5, started, 100);
  CHECK(out.size() == 4);
  CHECK(out.back().op == BankerOp::sleep);
  CHECK(out.back().sleep_ms == 7);
  // What never began in the failing run (it failed at 33 ms) must not begin before the failure.
  const std::vector<std::int64_t> cut_short = {0, 5, 20, 30, -1};
  out = bank_sim::replaced_by_sleep(items, 2, 3, cut_short, 33);
  REQUIRE(out.size() == 4);
  CHECK(out[2].sleep_ms == 14);  // From 20 to 34.
  // Without the timing of the list, the entries just go.
  out = bank_sim::replaced_by_sleep(items, 1, 3, {}, 100);
  REQUIRE(out.size() == 2);
  CHECK(out[0].sleep_ms == 5);
  CHECK(out[1].op == BankerOp::list);

  // Faults too: a removed crash leaves the time it took before the next one.
  using bank_sim::Fault;
  using bank_sim::FaultOp;
  std::vector<Fault> faults(3);
  faults[0].op = FaultOp::crash;
  faults[1].op = FaultOp::sleep;
  faults[1].duration_ms = 50;
  faults[2].op = FaultOp::power_loss;
  const auto kept = bank_sim::replaced_by_sleep(faults, 0, 1, {1000, 1900, 1950}, 5000);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].op == FaultOp::sleep);
  CHECK(kept[0].duration_ms == 950);
  CHECK(kept[1].op == FaultOp::power_loss);
}

// A person at a terminal sends the action, reads the prompt, then types the
// argument: the server owes the prompt at once. And a frame whose NUL never
// comes is refused once it passes the limit, not waited for.
TEST_CASE(
    "a banker that waits for the prompt sends its argument after it and an unterminated frame is refused") {
  const std::string text =
      "version 2\nseed 3\nduration_steps 200000\nstep_ms 1\nepoch_offset_ms 1745529640000\n"
      "swarm crashes=0 power_losses=0 partitions=0 clogs=0 disk_errors=0 slow_disk=0 clock_steps=0 "
      "corruption=0 network_corners=0 fault_gap_ms_max=1000\n"
      "parameters latency_ms=1..10 pieces_per_send_max=4 window_bytes=65536 append_latency_ms_max=2 "
      "sync_latency_ms=1..8 idle_timeout_ms=300000 send_queue_bytes_max=1048576 connections_max=1024 "
      "group_commit_hold_ms=1 requests_in_flight_max=2\n"
      "health_interval_ms 1000\nbanker 0\n  create 5.00 wait\n  get known 0 wait\n  void known 0 wait\n"
      "  garbage unterminated\n  list\nfaults\n  sleep 10\nend\n";
  auto parsed = parse_plan_file(text, "wait.plan");
  INFO((parsed.ok() ? std::string("parsed") : parsed.error().message));
  REQUIRE(parsed.ok());
  CHECK(format_plan_file(*parsed).find("create 5.00 wait") != std::string::npos);
  CHECK(parsed->knobs.parameters.requests_in_flight_max == 2);
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  const RunResult r = run_simulation(*parsed, options);
  INFO((r.failure ? r.failure->evidence : std::string("passed")));
  CHECK(r.passed());
  const std::string story = tell_story(r);
  INFO(story);
  // The action alone, the prompt, then the argument: in that order.
  const auto action = story.find("banker0 send CREATE_TRANSACTION\n");
  const auto prompt = story.find("banker0 recv Enter the transaction amount:", action);
  const auto argument = story.find("banker0 send 5.00 key=", prompt);
  CHECK(action != std::string::npos);
  CHECK(prompt != std::string::npos);
  CHECK(argument != std::string::npos);
  CHECK_THAT(story, Catch::Contains("banker0 recv ERROR frame too large"));
  CHECK(r.stats.interactions_done == 5);
}

// A banker pipelines three creates and a void of the third, then vanishes
// while the slow disk syncs; its retry of the void is refused ("not found":
// the third create is not durable yet), and then the server, held to one
// request in flight, reads the first attempt it still held and applies it,
// first with its key. The retry's refusal did not settle the write.
TEST_CASE("a retried write refused while its first attempt sits unread may still apply") {
  const std::string text =
      "version 2\nseed 9885238087973913746\nduration_steps 200000\nstep_ms 1\nepoch_offset_ms 2147483646583\n"
      "swarm crashes=0 power_losses=1 partitions=0 clogs=1 disk_errors=0 slow_disk=1 clock_steps=0 "
      "corruption=0 network_corners=1 fault_gap_ms_max=2934\n"
      "parameters latency_ms=5..7 pieces_per_send_max=9 window_bytes=16 append_latency_ms_max=2 "
      "sync_latency_ms=1..8 idle_timeout_ms=300000 send_queue_bytes_max=64 connections_max=1024 "
      "group_commit_hold_ms=1 requests_in_flight_max=1\n"
      "health_interval_ms 1000\nbanker 0\n  sleep 1773\n  pipeline 4\n  create 1.00 text=zeros nokey\n"
      "  create 1.00\n  create 1.00 text=spaces nokey\n  void next 2\n"
      "faults\n  sleep 557\n  slow_disk extra=811 for=2877\n  sleep 1354\n  vanish banker0\nend\n";
  auto parsed = parse_plan_file(text, "retry.plan");
  REQUIRE(parsed.ok());
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  const RunResult r = run_simulation(*parsed, options);
  INFO((r.failure ? r.failure->invariant + ": " + r.failure->evidence : std::string("passed")));
  CHECK(r.passed());
  const std::string story = tell_story(r);
  INFO(story);
  // The run took the path described above: the retried void was refused, and the first applied.
  CHECK_THAT(story, Catch::Contains("banker0 recv Transaction not found"));
  CHECK(r.acknowledged_writes >= 1);
}

TEST_CASE("story: a run's trace reads as numbered steps with simulated times") {
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  const RunResult r = run_simulation(generate_plans(draw_knobs(12, {})), options);
  const std::string story = tell_story(r);
  CHECK_THAT(story, Catch::StartsWith("    1. +0.000s  host up (0 transactions)"));
  CHECK_THAT(story, Catch::Contains("banker0 send "));
}

namespace {

// How the stand-in server refuses: as the bank does (told, then closed), told
// and left open, or dropped without a word.
enum class Refusal { tell_and_close, tell_only, drop };

// A stand-in server for the door watch: keeps every connection it is handed,
// or refuses it.
struct Doorkeeper final : bank::ConnectionHandler {
  std::vector<std::unique_ptr<bank::Connection>> kept;
  void take(std::unique_ptr<bank::Connection> connection, bool refuse, Refusal how) {
    if (refuse && how == Refusal::drop) return;
    connection->start(this);
    if (refuse) {
      std::string bytes;
      bank::append_frame(bytes, "ERROR too many connections (the limit is 2); try again later");
      connection->send(bytes);
      if (how == Refusal::tell_and_close) connection->close();
    }
    kept.push_back(std::move(connection));
  }
  void on_data(std::string_view) override {}
  void on_sent() override {}
  void on_input_ended() override {}
  void on_closed(bank::CloseReason) override {}
};

std::vector<std::string> door_failures(std::size_t refuse_from, Refusal how = Refusal::tell_and_close) {
  sim::World world(1, 0, 1);
  sim::SimNetwork network(world, sim::NetworkConfig{});
  std::vector<std::string> failures;
  DoorWatch door(network.node("bank"), 2,
                 [&](std::string evidence) { failures.push_back(std::move(evidence)); });
  Doorkeeper server;
  std::size_t accepted = 0;
  auto listener = door.listen("0.0.0.0", 3000, [&](std::unique_ptr<bank::Connection> c) {
    server.take(std::move(c), ++accepted > refuse_from, how);
  });
  REQUIRE(listener.ok());
  std::vector<std::unique_ptr<bank::Connection>> clients;
  for (int i = 0; i < 4; ++i) {
    network.connect("client" + std::to_string(i), "bank", 3000, [&](auto result) {
      if (result) clients.push_back(std::move(*result));
    });
  }
  while (world.run_next(INT64_MAX)) {
  }
  return failures;
}

}  // namespace

// The connection limit (2 here) holds at every accept: a third connection is
// refused, and none is refused while there is room.
TEST_CASE("door watch: the connection limit is checked at every accept, both ways") {
  CHECK(door_failures(2).empty());     // Two served, the rest refused: right.
  const auto over = door_failures(3);  // A third served.
  REQUIRE(over.size() == 1);
  CHECK_THAT(over[0], Catch::Contains("accepted while the server already held 2 open, its limit being 2"));
  const auto early = door_failures(1);  // The second refused with room for it.
  REQUIRE_FALSE(early.empty());
  CHECK_THAT(early[0],
             Catch::Contains("refused (ERROR too many connections) while the server held 1 of its 2"));
}

// A refused client is told and the connection closed at once; dropping one
// without a word is for when as many refused ones as the limit are still open.
TEST_CASE("door watch: a refused connection is closed at once, and dropped silently only past the bound") {
  const auto left_open = door_failures(2, Refusal::tell_only);
  REQUIRE(left_open.size() == 2);
  CHECK_THAT(left_open[0], Catch::Contains("refused (ERROR too many connections) and left open"));
  const auto dropped = door_failures(2, Refusal::drop);
  REQUIRE(dropped.size() == 2);
  CHECK_THAT(
      dropped[0],
      Catch::Contains("dropped without a word while only 0 refused one(s) were being told (the bound is 2)"));
}

TEST_CASE("simulator: the step budget ends a run's traffic even when the run is calm from the start") {
  // A calm run heals at once; the budget must still stop its bankers (a run
  // that only ended when its plans did would ignore SIMULATOR_DURATION).
  KnobOverrides overrides;
  overrides.banker_count = 2;
  overrides.step_ms = 1;
  overrides.duration_steps = 5'000;
  Knobs knobs = draw_knobs(7, overrides);
  knobs.swarm = Swarm{};
  Plans plans = generate_plans(knobs);
  for (auto& banker : plans.bankers) {
    banker.interactions.clear();
    for (int i = 0; i < 200; ++i) {
      banker.interactions.push_back(Interaction{BankerOp::sleep, 100, {}, {}});
      banker.interactions.push_back(Interaction{BankerOp::balance, 0, {}, {}});
    }
  }
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  const RunResult result = run_simulation(plans, options);
  INFO(result.log);
  CHECK(result.passed());
  CHECK(result.duration_reached);
  CHECK(result.stats.interactions_done < 2 * 200);  // Stopped early, not at the end of the plans.
  CHECK(result.simulated_ms < 5'000 + 61'000);      // The budget, then the drain and the audit.
}

TEST_CASE("framed client: replies arrive as the frames sent, however the network cuts and joins them") {
  // Frames that arrive whole are handed out uncopied, frames cut across reads
  // go through the decoder: over many seeds, both, and their mix within one
  // read, hand the owner exactly the frames the server sent, in order; a frame
  // over the limit is reported as such, with nothing after it delivered.
  constexpr std::size_t limit = 4096;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    INFO("seed " << seed);
    sim::World world(seed, 0, 1);
    sim::SimNetwork network(world, sim::NetworkConfig{});
    std::unique_ptr<bank::Connection> server_side;
    auto listener = network.node("bank").listen(
        "0.0.0.0", 7, [&](std::unique_ptr<bank::Connection> c) { server_side = std::move(c); });
    REQUIRE(listener.ok());
    std::vector<std::string> received;
    bool connected = false;
    bool too_large = false;
    FramedClient client(network, "client", 7, limit,
                        {.connected = [&] { connected = true; },
                         .connect_failed = [](const std::string&) { FAIL("connect failed"); },
                         .frame =
                             [&](std::string_view frame) {
                               received.emplace_back(frame);
                               return true;
                             },
                         .closed = [](bank::CloseReason) {},
                         .too_large = [&] { too_large = true; }});
    client.connect("bank");
    while (!connected && world.run_next(INT64_MAX)) {
    }
    REQUIRE(connected);
    REQUIRE(server_side);
    std::vector<std::string> sent;
    for (int i = 0; i < 60; ++i) {
      // Empty frames, short ones, and ones near the limit, some sent together.
      std::string frame = std::to_string(i) + std::string(static_cast<std::size_t>(i * 389 % 4000), 'r');
      if (i % 11 == 5) frame.clear();
      sent.push_back(frame);
      std::string bytes;
      bank::append_frame(bytes, frame);
      if (i % 3 == 0) {
        sent.push_back("and-" + std::to_string(i));
        bank::append_frame(bytes, sent.back());
      }
      server_side->send(bytes);
      for (int step = 0; step < i % 4; ++step) world.run_next(world.now_ms() + 1);
    }
    server_side->send(std::string(limit + 1, 'z') + std::string(1, '\0') + "after");
    server_side->send(std::string_view("\0", 1));
    while (world.run_next(INT64_MAX)) {
    }
    CHECK(received == sent);
    CHECK(too_large);
  }
}
