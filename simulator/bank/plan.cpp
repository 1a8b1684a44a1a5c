#include "plan.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>

#include "bank/journal.hpp"

namespace bank_sim {

namespace {

// Known time boundaries where 32- and 64-bit time representations overflow.
struct Boundary {
  std::int64_t ms;
  const char* name;
};
constexpr Boundary boundaries[] = {
    {2'147'483'648'000LL, "2^31 s (2038-01-19T03:14:08Z, signed 32-bit seconds)"},
    {4'294'967'296'000LL, "2^32 s (2106-02-07T06:28:16Z, unsigned 32-bit seconds)"},
    {9'223'372'036'854LL, "2^63 ns (2262-04-11T23:47:16Z, signed 64-bit nanoseconds)"},
};

}  // namespace

// Over 70 lines on purpose: the order of the draws is the contract (an
// overridden knob still consumes its draws, so the rest replay), and one
// function shows that order top to bottom.
Knobs draw_knobs(std::uint64_t seed, const KnobOverrides& overrides) {
  // Knobs use their own stream, drawn in a fixed order whatever is overridden.
  sim::Rng rng(sim::mix64(seed ^ 0x6b6e6f6273ULL));
  Knobs knobs;
  knobs.seed = seed;
  knobs.duration_steps = duration_steps_default;

  // Step multiplier: heavy-tailed. Mostly 1 ms, sometimes hours per step.
  const std::uint64_t step_class = rng.below(100);
  const std::int64_t step_small = rng.range(2, 100);
  const std::int64_t step_large = rng.range(100, 60'000);
  const std::int64_t step_huge = rng.range(3'600'000, 6 * 3'600'000);
  knobs.step_ms = step_class < 70   ? 1
                  : step_class < 85 ? step_small
                  : step_class < 95 ? step_large
                                    : step_huge;
  if (overrides.step_ms) knobs.step_ms = *overrides.step_ms;

  // Epoch offset: a mixture of the present, the original's wide range, and
  // start times shortly before known time boundaries.
  const std::uint64_t epoch_class = rng.below(100);
  const std::int64_t present_ms = rng.range(1'600'000'000'000LL, 1'900'000'000'000LL);
  const std::int64_t wide_ms = rng.range(0, epoch_offset_ms_max);
  const Boundary& boundary = boundaries[rng.below(std::size(boundaries))];
  const std::int64_t before_steps = rng.range(10, 2'000);
  if (epoch_class < 25) {
    knobs.epoch_offset_ms = present_ms;
    knobs.epoch_offset_reason = "the present";
  } else if (epoch_class < 50) {
    knobs.epoch_offset_ms = wide_ms;
    knobs.epoch_offset_reason = "the original's wide range";
  } else {
    knobs.epoch_offset_ms = std::max<std::int64_t>(0, boundary.ms - before_steps * knobs.step_ms);
    knobs.epoch_offset_reason = fmt::format("{} steps before {}", before_steps, boundary.name);
  }
  if (overrides.epoch_offset_ms) {
    knobs.epoch_offset_ms = *overrides.epoch_offset_ms;
    knobs.epoch_offset_reason = "set by the user";
  }

  knobs.banker_count = static_cast<std::uint32_t>(rng.range(1, 15));
  if (overrides.banker_count) knobs.banker_count = *overrides.banker_count;
  knobs.interactions_per_banker = static_cast<std::uint32_t>(rng.range(10, 120));
  if (overrides.duration_steps) knobs.duration_steps = *overrides.duration_steps;

  // Swarm: each fault kind on with probability 1/2; a run in eight is calm.
  Swarm& swarm = knobs.swarm;
  const bool calm = rng.chance(1, 8);
  swarm.crashes = rng.chance(1, 2);
  swarm.partitions = rng.chance(1, 2);
  swarm.clogs = rng.chance(1, 2);
  swarm.disk_errors = rng.chance(1, 2);
  swarm.slow_disk = rng.chance(1, 2);
  swarm.clock_steps = rng.chance(1, 2);
  swarm.fault_gap_ms_max = rng.range(200, 5'000);
  swarm.power_losses = rng.chance(1, 2);
  swarm.corruption = rng.chance(1, 2);
  swarm.network_corners = rng.chance(1, 3);
  if (calm) swarm = Swarm{};

  // Parameters: the defaults half the time, else drawn, each on its own.
  Parameters& p = knobs.parameters;
  if (rng.chance(1, 2)) {
    p.latency_ms_min = rng.range(0, 5);
    p.latency_ms_max = p.latency_ms_min + rng.range(0, rng.chance(1, 4) ? 200 : 20);
  }
  if (rng.chance(1, 2)) p.pieces_per_send_max = rng.range(1, 16);
  if (rng.chance(1, 2)) p.window_bytes = rng.range(16, 4'096);
  if (rng.chance(1, 2)) {
    p.append_latency_ms_max = rng.range(0, 20);
    p.sync_latency_ms_min = rng.range(0, 10);
    p.sync_latency_ms_max = p.sync_latency_ms_min + rng.range(0, rng.chance(1, 2) ? 300 : 20);
  }
  // A short idle timeout, in time and in steps (a request must cross the network first).
  // Longer than any one-way trip, so that a request always arrives first.
  if (rng.chance(1, 3)) {
    const std::int64_t drawn_ms = rng.chance(1, 2) ? rng.range(20, 300) : rng.range(300, 5'000);
    p.idle_timeout_ms = std::max({drawn_ms, 3 * p.latency_ms_max + 10, 20 * knobs.step_ms});
  }
  // A small send queue: a LIST reply alone pauses reading.
  if (rng.chance(1, 3)) p.send_queue_bytes_max = rng.range(64, 16 * 1024);
  // A connection limit just above the bankers and the health checker: the
  // echoes, rivals and reconnections past it are refused and retry. Not with
  // vanishing clients, whose half-open connections would hold the slots until
  // their idle timeout and starve the rest.
  if (!knobs.swarm.network_corners && rng.chance(1, 4)) {
    p.connections_max = static_cast<std::int64_t>(knobs.banker_count) + rng.range(1, 3);
  }
  // The group commit's wait for the clients the last sync answered, drawn
  // apart from the knobs' stream (which keeps every other draw): the default
  // (1 ms, under any round trip here, so it runs out), none, or long enough
  // for the answered bankers to come back.
  const std::uint64_t hold = sim::mix64(seed ^ 0x686f6c64ULL);
  switch (hold % 4) {
    case 1:
      p.group_commit_hold_ms = 0;
      break;
    case 2:
      p.group_commit_hold_ms = 2 * p.latency_ms_max + 1 + static_cast<std::int64_t>((hold >> 8) % 5);
      break;
    case 3:
      p.group_commit_hold_ms = 1 + static_cast<std::int64_t>((hold >> 8) % 100);
      break;
    default:
      break;
  }
  // One run in four holds a connection to a few requests in flight (a prompt
  // and a reply each count), so that reading stops in the middle of what a
  // pipelining client sent: drawn apart too.
  const std::uint64_t in_flight = sim::mix64(seed ^ 0x666c69676874ULL);
  if (in_flight % 4 == 0) p.requests_in_flight_max = 1 + static_cast<std::int64_t>((in_flight >> 8) % 6);
  return knobs;
}

namespace {

// limit_sign (+1 or -1): a run that pushes the balance to a limit, where nine
// amounts in ten are near the largest, all of that sign: the balance reaches
// the limit (about 92 of them), and writes staged together cross it.
bank::Money draw_amount(sim::Rng& rng, int limit_sign) {
  if (limit_sign != 0 && rng.chance(9, 10))
    return bank::Money{limit_sign * (bank::amount_cents_max - rng.range(0, 1'000))};
  const std::uint64_t kind = rng.below(100);
  std::int64_t cents = 0;
  if (kind < 64) {
    cents = rng.range(-100'000, 100'000);  // Up to a thousand, with cents.
  } else if (kind < 70) {
    cents = rng.range(-199, 199);  // Under two: the sign of -0.50 and 0.05 on their own.
  } else if (kind < 85) {
    cents = rng.range(-100, 100) * 100;  // Whole amounts.
  } else if (kind < 95) {
    cents = rng.range(-1'000'000'000, 1'000'000'000);
  } else if (kind < 98) {
    // Near the largest amount: a few of these reach the balance's limits.
    cents = (rng.chance(1, 2) ? 1 : -1) * (bank::amount_cents_max - rng.range(0, 1'000));
  } else {
    cents = 0;
  }
  return bank::Money{cents};
}

IdPick draw_id(sim::Rng& rng) {
  IdPick pick;
  const std::uint64_t kind = rng.below(100);
  pick.known = kind < 75;
  pick.next = kind >= 90;
  pick.pick = pick.known  ? rng.next()
              : pick.next ? rng.below(3)
                          : static_cast<std::uint64_t>(rng.range(1, 1'000'000));
  return pick;
}

// Modifiers of a write: no key, a hang-up, a twin on a second connection.
void draw_write_style(sim::Rng& rng, Interaction& interaction) {
  interaction.keyless = rng.chance(1, 6);
  interaction.hang_up = rng.chance(1, 12);
  interaction.polite = interaction.hang_up && rng.chance(1, 2);
  // A create's echo repeats it, key and all, on a second connection; a void's
  // is a rival client voiding the same transaction with its own key.
  interaction.echo = !interaction.keyless && !interaction.hang_up && rng.chance(1, 10);
}

void draw_read_style(sim::Rng& rng, Interaction& interaction) {
  if (rng.chance(1, 5)) interaction.slow_read_ms = rng.range(10, 2'000);
}

BankerPlan generate_banker_plan(sim::Rng& rng, std::uint32_t interactions, int limit_sign) {
  BankerPlan plan;
  for (std::uint32_t i = 0; i < interactions; ++i) {
    if (rng.chance(1, 2)) {
      Interaction sleep;
      sleep.op = BankerOp::sleep;
      sleep.sleep_ms = rng.chance(1, 10) ? rng.range(1'000, 5'000) : rng.range(1, 200);
      plan.interactions.push_back(sleep);
    }
    Interaction interaction;
    const std::uint64_t kind = rng.below(100);
    if (kind < 36) {
      interaction.op = BankerOp::create;
      interaction.amount = draw_amount(rng, limit_sign);
      const std::uint64_t text = rng.below(8);  // Half of them not canonical.
      interaction.text = text < 4 ? static_cast<AmountText>(text + 1) : AmountText::canonical;
      draw_write_style(rng, interaction);
    } else if (kind < 49) {
      interaction.op = BankerOp::get;
      interaction.id = draw_id(rng);
      draw_read_style(rng, interaction);
    } else if (kind < 62) {
      interaction.op = BankerOp::void_;
      interaction.id = draw_id(rng);
      draw_write_style(rng, interaction);
    } else if (kind < 74) {
      interaction.op = BankerOp::list;
      draw_read_style(rng, interaction);
    } else if (kind < 86) {
      interaction.op = BankerOp::balance;
      draw_read_style(rng, interaction);
    } else if (kind < 96) {
      // The next few requests go out together, without waiting for replies.
      interaction.op = BankerOp::pipeline;
      interaction.count = static_cast<std::uint32_t>(rng.range(2, pipeline_requests_max));
    } else {
      interaction.op = BankerOp::garbage;
      interaction.garbage = static_cast<Garbage>(rng.below(4));
    }
    plan.interactions.push_back(interaction);
  }
  return plan;
}

// A sleep of wait_ms, then a power loss timed for the worst moment. Returns wait_ms.
std::int64_t append_power_loss_after(FaultPlan& plan, sim::Rng& rng, std::int64_t wait_ms,
                                     std::int64_t step_ms) {
  Fault wait;
  wait.op = FaultOp::sleep;
  wait.duration_ms = wait_ms;
  plan.faults.push_back(wait);
  Fault power;
  power.op = FaultOp::power_loss;
  power.duration_ms = std::max(rng.range(0, 2'000), step_ms * rng.range(1, 5));
  power.when_unsynced = true;
  plan.faults.push_back(power);
  return wait_ms;
}

// Over 70 lines on purpose: one fixed order of draws per fault, which plan
// files and shrinking rely on, reads top to bottom in one place.
FaultPlan generate_fault_plan(sim::Rng& rng, const Knobs& knobs, std::int64_t span_ms) {
  FaultPlan plan;
  const Swarm& swarm = knobs.swarm;
  if (swarm.calm()) return plan;
  std::vector<FaultOp> enabled;
  if (swarm.crashes) enabled.push_back(FaultOp::crash);
  if (swarm.power_losses) enabled.push_back(FaultOp::power_loss);
  if (swarm.partitions) enabled.push_back(FaultOp::partition);
  if (swarm.clogs) enabled.push_back(FaultOp::clog);
  if (swarm.disk_errors) enabled.push_back(FaultOp::disk_errors);
  if (swarm.slow_disk) enabled.push_back(FaultOp::slow_disk);
  if (swarm.clock_steps) enabled.push_back(FaultOp::clock_step);
  if (swarm.corruption) enabled.push_back(FaultOp::corrupt);
  if (swarm.network_corners) {
    enabled.push_back(FaultOp::one_way);
    enabled.push_back(FaultOp::vanish);
    enabled.push_back(FaultOp::accept_failures);
  }
  std::int64_t elapsed_ms = 0;
  // Time is counted in steps too: with hours per step, a fault still gets
  // some steps of its own.
  const std::int64_t step_ms = knobs.step_ms;
  while (elapsed_ms < span_ms) {
    Fault sleep;
    sleep.op = FaultOp::sleep;
    sleep.duration_ms = std::max(rng.range(1, swarm.fault_gap_ms_max), step_ms * rng.range(1, 20));
    elapsed_ms += sleep.duration_ms;
    plan.faults.push_back(sleep);
    Fault fault;
    fault.op = enabled[rng.below(enabled.size())];
    switch (fault.op) {
      case FaultOp::crash:
      case FaultOp::power_loss:
      case FaultOp::stop:  // Never drawn here: a crash may become a stop (see generate_plans).
        fault.duration_ms = std::max(rng.range(0, 2'000), step_ms * rng.range(1, 5));
        fault.when_unsynced = rng.chance(1, 2);
        break;
      case FaultOp::partition:
        fault.duration_ms = std::max(rng.range(100, 15'000), step_ms * rng.range(1, 20));
        fault.target = rng.chance(1, 3) ? -1 : rng.range(0, knobs.banker_count - 1);
        break;
      case FaultOp::clog:
        fault.duration_ms = std::max(rng.range(10, 3'000), step_ms * rng.range(1, 10));
        fault.target = rng.chance(1, 3) ? -1 : rng.range(0, knobs.banker_count - 1);
        break;
      case FaultOp::disk_errors:
        fault.duration_ms = std::max(rng.range(10, 2'000), step_ms * rng.range(1, 5));
        fault.error_code = rng.chance(1, 2) ? EIO : ENOSPC;
        fault.disk_ops = static_cast<DiskOps>(rng.below(4));
        // Sometimes the disk stays full, or failing, until the heal.
        if (rng.chance(1, 6)) fault.duration_ms = std::max<std::int64_t>(600'000, step_ms * 100);
        break;
      case FaultOp::one_way:
        fault.duration_ms = std::max(rng.range(100, 15'000), step_ms * rng.range(1, 20));
        fault.target = rng.chance(1, 3) ? -1 : rng.range(0, knobs.banker_count - 1);
        fault.toward_host = rng.chance(1, 2);
        break;
      case FaultOp::vanish:
        fault.target = rng.chance(1, 4) ? -1 : rng.range(0, knobs.banker_count - 1);
        break;
      case FaultOp::accept_failures:
        fault.duration_ms = std::max(rng.range(10, 3'000), step_ms * rng.range(1, 10));
        break;
      case FaultOp::corrupt:
        fault.corrupt_kind = rng.chance(1, 2)   ? CorruptKind::bit_flip
                             : rng.chance(1, 2) ? CorruptKind::aimed
                                                : CorruptKind::misdirected;
        fault.byte = static_cast<unsigned>(rng.below(2 * bank::journal_header_bytes));
        // Half the flips hit the last records, where a torn write could hide a rotten one.
        fault.pick = rng.chance(3, 4) ? rng.below(120) : rng.next() >> 1;
        fault.bit = static_cast<unsigned>(rng.below(8));
        break;
      case FaultOp::slow_disk:
        fault.duration_ms = std::max(rng.range(100, 5'000), step_ms * rng.range(1, 10));
        fault.delta_ms = rng.range(10, 1'000);  // Extra latency per sync.
        break;
      case FaultOp::clock_step:
        fault.delta_ms = rng.chance(1, 2) ? -rng.range(1, 3'600'000) : rng.range(1, 3'600'000);
        break;
      case FaultOp::sleep:
        break;
    }
    plan.faults.push_back(fault);
    if (fault.op == FaultOp::disk_errors && rng.chance(1, 2)) {
      // The power fails once the server, restarted after the disk errors,
      // serves again: nothing a failed sync covered may come back with it.
      const std::int64_t wait_ms = fault.duration_ms + std::max(rng.range(0, 100), step_ms * rng.range(1, 5));
      elapsed_ms += append_power_loss_after(plan, rng, wait_ms, step_ms);
    }
    if (fault.op == FaultOp::corrupt && rng.chance(7, 8)) {
      // Damage shows only when the journal is read again: restart soon,
      // often before another record lands behind the damaged one.
      Fault wait;
      wait.op = FaultOp::sleep;
      wait.duration_ms = rng.chance(2, 3) ? 0 : std::max(rng.range(0, 500), step_ms * rng.range(1, 5));
      plan.faults.push_back(wait);
      elapsed_ms += wait.duration_ms;
      Fault restart;
      restart.op = rng.chance(1, 2) ? FaultOp::crash : FaultOp::power_loss;
      restart.duration_ms = std::max(rng.range(0, 1'000), step_ms * rng.range(1, 5));
      plan.faults.push_back(restart);
    }
    if (fault.op == FaultOp::crash && rng.chance(2, 3)) {
      fault.when_unsynced = true;
      plan.faults.back() = fault;
      // The power fails soon after the restarted server has read the page
      // cache back: what it served from there must have been synced first.
      const std::int64_t wait_ms =
          fault.duration_ms + (rng.chance(1, 2) ? 0 : std::max(rng.range(0, 100), step_ms * rng.range(0, 5)));
      elapsed_ms += append_power_loss_after(plan, rng, wait_ms, step_ms);
    }
  }
  return plan;
}

}  // namespace

Plans generate_plans(const Knobs& knobs) {
  sim::Rng rng(sim::mix64(knobs.seed ^ 0x706c616e73ULL));
  // The fault stream is forked first and the bankers' streams one per banker
  // after it, so overriding the banker count keeps every banker's plan and the
  // faults as they were.
  sim::Rng fault_rng = rng.fork();
  // One run in five pushes the balance to a limit (see draw_amount).
  sim::Rng workload_rng = rng.fork();
  const int limit_sign = workload_rng.chance(1, 5) ? (workload_rng.chance(1, 2) ? 1 : -1) : 0;
  Plans plans;
  plans.knobs = knobs;
  for (std::uint32_t b = 0; b < knobs.banker_count; ++b) {
    sim::Rng banker_rng = rng.fork();
    plans.bankers.push_back(generate_banker_plan(banker_rng, knobs.interactions_per_banker, limit_sign));
    // Variants decided apart from the banker's stream, which keeps every other
    // draw: a value of its own for each (what, banker, entry).
    auto& interactions = plans.bankers.back().interactions;
    std::size_t pipelined_until = 0;  // Entries before this one, after a pipeline entry, go out with it.
    for (std::size_t i = 0; i < interactions.size(); ++i) {
      Interaction& x = interactions[i];
      const auto apart = [&](std::uint64_t what) {
        return sim::mix64(knobs.seed ^ what ^ (std::uint64_t{b} << 32) ^ i);
      };
      // Half the polite hang-ups shut the sending side instead of sending a CLOSE.
      if (x.polite) x.shut = (apart(0x73687574ULL) & 1) != 0;
      // Half the CLOSEs have a create right behind them, which the server must ignore.
      if (x.polite && !x.shut) x.after_close = (apart(0x6166746572ULL) & 1) != 0;
      // A quarter of the creates, gets and voids sent alone wait for the prompt
      // before sending the argument, as a person at a terminal does (the rest
      // send it with the action, as the original's load generator does). Not
      // a slow reader, whom a short idle timeout would close before it read
      // the prompt, every time.
      if (x.op == BankerOp::pipeline) {
        std::vector<std::size_t> members;
        pipelined_until = std::max(pipelined_until, pipeline_batch_end(interactions, i, members));
      }
      if (i >= pipelined_until && !x.hang_up && x.slow_read_ms == 0 &&
          (x.op == BankerOp::create || x.op == BankerOp::get || x.op == BankerOp::void_))
        x.wait = apart(0x77616974ULL) % 4 == 0;
      if (x.op != BankerOp::garbage) continue;
      // Half the unknown actions are EXIT, which the server (run without
      // remote exit) must refuse.
      if (x.garbage == Garbage::unknown_action && (apart(0x65786974ULL) & 1) != 0) x.garbage = Garbage::exit;
      // A third of the bad amounts are a bad key's suffix, or a key one byte too long.
      if (x.garbage == Garbage::bad_amount) {
        const std::uint64_t pick = apart(0x6b6579ULL) % 6;
        if (pick == 0) x.garbage = Garbage::bad_key;
        if (pick == 1) x.garbage = Garbage::long_key;
      }
      // Half the oversized frames never end: no NUL comes after them.
      if (x.garbage == Garbage::oversized && (apart(0x756e74ULL) & 1) != 0) x.garbage = Garbage::unterminated;
      // Two thirds of the bad ids are just outside the range: 0, and one past the largest.
      if (x.garbage == Garbage::bad_id) {
        const std::uint64_t pick = apart(0x6964ULL) % 3;
        if (pick == 0) x.garbage = Garbage::zero_id;
        if (pick == 1) x.garbage = Garbage::huge_id;
      }
    }
  }
  // Faults span about as long as the first banker's plan (every run has one),
  // in time and in steps.
  std::int64_t span_ms = 0;
  for (const auto& i : plans.bankers.front().interactions) span_ms += std::max(i.sleep_ms, knobs.step_ms * 4);
  plans.faults = generate_fault_plan(fault_rng, knobs, span_ms);
  // Half the crashes not timed for the worst moment are graceful stops instead
  // (an operator's SIGTERM: the server stops reading, answers the writes in
  // flight, closes every connection and exits; the crashes timed for the worst
  // moment stay crashes, as some bugs need one): decided apart from the faults'
  // stream, which keeps every other draw.
  for (std::size_t i = 0; i < plans.faults.faults.size(); ++i) {
    Fault& fault = plans.faults.faults[i];
    if (fault.op == FaultOp::crash && !fault.when_unsynced &&
        sim::mix64(knobs.seed ^ 0x73746f70ULL ^ i) % 2 == 0)
      fault.op = FaultOp::stop;
  }
  plans.health_interval_ms = std::max<std::int64_t>(1'000, knobs.step_ms);
  return plans;
}

std::string describe(BankerOp op) {
  switch (op) {
    case BankerOp::sleep:
      return "sleep";
    case BankerOp::list:
      return "list";
    case BankerOp::get:
      return "get";
    case BankerOp::create:
      return "create";
    case BankerOp::void_:
      return "void";
    case BankerOp::balance:
      return "balance";
    case BankerOp::pipeline:
      return "pipeline";
    case BankerOp::garbage:
      return "garbage";
  }
  return "?";
}

std::string describe(Garbage garbage) {
  switch (garbage) {
    case Garbage::unknown_action:
      return "unknown_action";
    case Garbage::bad_amount:
      return "bad_amount";
    case Garbage::bad_id:
      return "bad_id";
    case Garbage::oversized:
      return "oversized";
    case Garbage::exit:
      return "exit";
    case Garbage::bad_key:
      return "bad_key";
    case Garbage::long_key:
      return "long_key";
    case Garbage::zero_id:
      return "zero_id";
    case Garbage::huge_id:
      return "huge_id";
    case Garbage::unterminated:
      return "unterminated";
  }
  return "?";
}

std::string describe(FaultOp op) {
  switch (op) {
    case FaultOp::sleep:
      return "sleep";
    case FaultOp::crash:
      return "crash";
    case FaultOp::power_loss:
      return "power_loss";
    case FaultOp::stop:
      return "stop";
    case FaultOp::partition:
      return "partition";
    case FaultOp::clog:
      return "clog";
    case FaultOp::disk_errors:
      return "disk_errors";
    case FaultOp::slow_disk:
      return "slow_disk";
    case FaultOp::clock_step:
      return "clock_step";
    case FaultOp::corrupt:
      return "corrupt";
    case FaultOp::one_way:
      return "one_way";
    case FaultOp::vanish:
      return "vanish";
    case FaultOp::accept_failures:
      return "accept_failures";
  }
  return "?";
}

std::string describe(DiskOps ops) {
  switch (ops) {
    case DiskOps::appends:
      return "appends";
    case DiskOps::syncs:
      return "syncs";
    case DiskOps::both:
      return "both";
    case DiskOps::reads:
      return "reads";
  }
  return "?";
}

std::string describe(AmountText text) {
  switch (text) {
    case AmountText::canonical:
      return "canonical";
    case AmountText::plus:
      return "plus";
    case AmountText::zeros:
      return "zeros";
    case AmountText::shortest:
      return "shortest";
    case AmountText::spaces:
      return "spaces";
  }
  return "?";
}

std::optional<AmountText> amount_text_named(std::string_view name) {
  for (AmountText text : {AmountText::canonical, AmountText::plus, AmountText::zeros, AmountText::shortest,
                          AmountText::spaces}) {
    if (describe(text) == name) return text;
  }
  return std::nullopt;
}

std::string describe_interaction(const Interaction& i) {
  std::string style;
  if (i.op == BankerOp::create && i.text != AmountText::canonical) style += " text=" + describe(i.text);
  if (i.keyless) style += " nokey";
  if (i.hang_up) {
    style += i.shut          ? " hangup=shut"
             : i.after_close ? " hangup=close+create"
             : i.polite      ? " hangup=close"
                             : " hangup";
  }
  if (i.echo) style += " echo";
  if (i.slow_read_ms > 0) style += fmt::format(" slow={}", i.slow_read_ms);
  if (i.wait) style += " wait";
  switch (i.op) {
    case BankerOp::sleep:
      return fmt::format("sleep {}", i.sleep_ms);
    case BankerOp::create:
      return fmt::format("create {}{}", bank::format_money(i.amount), style);
    case BankerOp::get:
    case BankerOp::void_:
      return fmt::format("{} {} {}{}", describe(i.op),
                         i.id.known  ? "known"
                         : i.id.next ? "next"
                                     : "id",
                         i.id.pick, style);
    case BankerOp::pipeline:
      return fmt::format("pipeline {}", i.count);
    case BankerOp::garbage:
      return fmt::format("garbage {}", describe(i.garbage));
    case BankerOp::list:
    case BankerOp::balance:
      return describe(i.op) + style;
  }
  return "?";
}

std::string describe_fault(const Fault& f) {
  const std::string target = f.target < 0 ? "all" : fmt::format("banker{}", f.target);
  switch (f.op) {
    case FaultOp::sleep:
      return fmt::format("sleep {}", f.duration_ms);
    case FaultOp::crash:
    case FaultOp::power_loss:
    case FaultOp::stop:
      return fmt::format("{} restart_after={}{}", describe(f.op), f.duration_ms,
                         f.when_unsynced ? " when=unsynced" : "");
    case FaultOp::partition:
      return fmt::format("partition {} for={}", target, f.duration_ms);
    case FaultOp::clog:
      return fmt::format("clog {} for={}", target, f.duration_ms);
    case FaultOp::disk_errors:
      return fmt::format("disk_errors {} ops={} for={}", f.error_code == ENOSPC ? "ENOSPC" : "EIO",
                         describe(f.disk_ops), f.duration_ms);
    case FaultOp::slow_disk:
      return fmt::format("slow_disk extra={} for={}", f.delta_ms, f.duration_ms);
    case FaultOp::clock_step:
      return fmt::format("clock_step {}", f.delta_ms);
    case FaultOp::one_way:
      return fmt::format("one_way {} toward={} for={}", target, f.toward_host ? "host" : "client",
                         f.duration_ms);
    case FaultOp::vanish:
      return fmt::format("vanish {}", target);
    case FaultOp::accept_failures:
      return fmt::format("accept_failures for={}", f.duration_ms);
    case FaultOp::corrupt:
      switch (f.corrupt_kind) {
        case CorruptKind::bit_flip:
          return fmt::format("corrupt bit_flip from_end={} bit={}", f.pick, f.bit);
        case CorruptKind::aimed:
          return fmt::format("corrupt aimed record={} byte={} bit={}", f.pick, f.byte, f.bit);
        case CorruptKind::misdirected:
          return fmt::format("corrupt misdirected pick={}", f.pick);
      }
      return "?";
  }
  return "?";
}

std::vector<std::string> swarm_kinds(const Swarm& swarm) {
  std::vector<std::string> kinds;
  const std::pair<bool, const char*> all[] = {{swarm.crashes, "crashes"},
                                              {swarm.power_losses, "power_losses"},
                                              {swarm.partitions, "partitions"},
                                              {swarm.clogs, "clogs"},
                                              {swarm.disk_errors, "disk_errors"},
                                              {swarm.slow_disk, "slow_disk"},
                                              {swarm.clock_steps, "clock_steps"},
                                              {swarm.corruption, "corruption"},
                                              {swarm.network_corners, "network_corners"}};
  for (const auto& [on, name] : all) {
    if (on) kinds.emplace_back(name);
  }
  return kinds;
}

std::string describe_swarm(const Swarm& swarm) {
  if (swarm.calm()) return "calm (no faults)";
  return fmt::format("{} (a fault every <={} ms)", fmt::join(swarm_kinds(swarm), ","),
                     swarm.fault_gap_ms_max);
}

std::string describe_parameters(const Parameters& p) {
  return fmt::format(
      "latency_ms={}..{} pieces_per_send_max={} window_bytes={} append_latency_ms_max={} "
      "sync_latency_ms={}..{} "
      "idle_timeout_ms={} send_queue_bytes_max={} connections_max={} group_commit_hold_ms={} "
      "requests_in_flight_max={}",
      p.latency_ms_min, p.latency_ms_max, p.pieces_per_send_max, p.window_bytes, p.append_latency_ms_max,
      p.sync_latency_ms_min, p.sync_latency_ms_max, p.idle_timeout_ms, p.send_queue_bytes_max,
      p.connections_max, p.group_commit_hold_ms, p.requests_in_flight_max);
}

std::size_t count_interactions(const Plans& plans) {
  std::size_t count = 0;
  for (const auto& plan : plans.bankers)
    for (const auto& i : plan.interactions) count += i.op != BankerOp::sleep && i.op != BankerOp::pipeline;
  return count;
}

std::uint32_t interactions_per_banker_of(const Plans& plans) {
  std::uint32_t most = 0;
  for (const auto& plan : plans.bankers) {
    most = std::max(most, static_cast<std::uint32_t>(
                              std::count_if(plan.interactions.begin(), plan.interactions.end(),
                                            [](const Interaction& i) { return i.op != BankerOp::sleep; })));
  }
  return most;
}

std::size_t pipeline_batch_end(const std::vector<Interaction>& items, std::size_t mark,
                               std::vector<std::size_t>& members) {
  BANK_ASSERT(items[mark].op == BankerOp::pipeline);
  std::size_t at = mark + 1;
  for (std::size_t gathered = 0; gathered < items[mark].count && at < items.size(); ++at) {
    if (items[at].op == BankerOp::sleep || items[at].op == BankerOp::pipeline) continue;
    members.push_back(at);
    ++gathered;
  }
  return at;
}

std::size_t count_faults(const Plans& plans) {
  std::size_t count = 0;
  for (const auto& f : plans.faults.faults) count += f.op != FaultOp::sleep;
  return count;
}

}  // namespace bank_sim
