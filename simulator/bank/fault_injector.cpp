// The FaultInjector: runs the fault plan against the host, the network and the disk, and heals.

#include <fmt/format.h>

#include "actors.hpp"
#include "bank/journal.hpp"

namespace bank_sim {

FaultInjector::FaultInjector(RunContext& context, Host& host, const FaultPlan& plan,
                             std::uint32_t banker_count)
    : context_(context),
      host_(host),
      plan_(plan),
      banker_count_(banker_count),
      log_(context.world, "faults", context.log_level, context.log),
      entry_started_ms_(plan.faults.size(), -1) {}

FaultInjector::~FaultInjector() {
  if (timer_ != 0) context_.world.cancel(timer_);
  for (auto event : heal_events_) context_.world.cancel(event);
}

void FaultInjector::start() {
  next();
}

std::vector<std::string> FaultInjector::targets(std::int64_t target) const {
  if (target >= 0) return {fmt::format("banker{}", target)};
  std::vector<std::string> all;
  for (std::uint32_t i = 0; i < banker_count_; ++i) all.push_back(fmt::format("banker{}", i));
  all.push_back("health");
  return all;
}

void FaultInjector::next() {
  timer_ = 0;
  if (healed_) return;
  if (next_fault_ >= plan_.faults.size()) {
    heal_now();
    return;
  }
  entry_started_ms_[next_fault_] = context_.world.now_ms();
  const Fault& fault = plan_.faults[next_fault_++];
  if (fault.op == FaultOp::sleep) {
    timer_ = context_.world.schedule_after(fault.duration_ms, "fault next", [this] { next(); });
    return;
  }
  if ((fault.op == FaultOp::crash || fault.op == FaultOp::power_loss || fault.op == FaultOp::stop) &&
      fault.when_unsynced) {
    // The rest of the plan waits for the strike, so what follows keeps its
    // distance from it.
    strike(fault, worst_moment_wait_steps_max);
    return;
  }
  apply(fault);
  timer_ = context_.world.schedule_after(0, "fault next", [this] { next(); });
}

// One case per fault kind, kept together (over 70 lines on purpose): this is
// the fault vocabulary in one place, each case next to how it heals.
void FaultInjector::apply(const Fault& fault) {
  ++context_.stats.faults_injected;
  // A failing disk is no excuse for silence: the server answers a write
  // whose sync failed, and refuses the writes after it, at once (what it
  // owes every waiter of a failed batch). Every other fault may delay
  // answers while it lasts.
  if (fault.op != FaultOp::disk_errors) {
    context_.disturb(context_.world.now_ms() + std::max<std::int64_t>(fault.duration_ms, 0));
  }
  context_.events.fault(fault);
  sim::World& world = context_.world;
  switch (fault.op) {
    case FaultOp::crash:
    case FaultOp::power_loss:
      if (fault.op == FaultOp::crash) {
        host_.crash(fault.duration_ms);
      } else {
        host_.power_loss(fault.duration_ms);
      }
      break;
    case FaultOp::stop:
      host_.stop(fault.duration_ms);
      break;
    case FaultOp::partition:
      for (const auto& node : targets(fault.target)) {
        context_.network.partition(bank_node, node);
        heal_events_.push_back(world.schedule_after(fault.duration_ms, "fault heal", [this, node] {
          if (!healed_) context_.network.heal(bank_node, node);
        }));
      }
      break;
    case FaultOp::clog:
      for (const auto& node : targets(fault.target))
        context_.network.clog(bank_node, node, fault.duration_ms);
      break;
    case FaultOp::disk_errors: {
      ++context_.stats.disk_faults;
      disk_faulted_ = true;
      sim::DiskFaults& faults = host_.disk().faults();
      faults.error_code = fault.error_code;
      const std::int64_t until_ms = world.now_ms() + fault.duration_ms;
      if (fault.disk_ops == DiskOps::reads) {
        faults.fail_reads_until_ms = until_ms;
        break;
      }
      if (fault.disk_ops != DiskOps::syncs) faults.fail_appends_until_ms = until_ms;
      if (fault.disk_ops != DiskOps::appends) faults.fail_syncs_until_ms = until_ms;
      // After a failed write the server refuses writes until it restarts: an
      // operator restarts it once the disk works again.
      heal_events_.push_back(world.schedule_after(fault.duration_ms, "fault heal", [this] {
        if (!healed_ && host_.writes_disabled()) {
          log_.info("the disk works again: restarting the host, which refuses writes");
          host_.crash(context_.step_ms);
        }
      }));
      break;
    }
    case FaultOp::slow_disk: {
      sim::DiskFaults& faults = host_.disk().faults();
      faults.slow_syncs_until_ms = world.now_ms() + fault.duration_ms;
      faults.slow_sync_extra_ms = fault.delta_ms;
      break;
    }
    case FaultOp::clock_step:
      context_.model.note_host_clock(host_.clock().realtime_ms());
      host_.clock().step(fault.delta_ms);
      context_.model.note_clock_step();
      break;
    case FaultOp::one_way:
      for (const auto& node : targets(fault.target)) {
        if (fault.toward_host) {
          context_.network.partition_one_way(node, bank_node);
        } else {
          context_.network.partition_one_way(bank_node, node);
        }
        heal_events_.push_back(world.schedule_after(fault.duration_ms, "fault heal", [this, node] {
          if (!healed_) context_.network.heal(bank_node, node);
        }));
      }
      break;
    case FaultOp::vanish:
      for (const auto& node : targets(fault.target)) context_.network.vanish(node);
      break;
    case FaultOp::accept_failures:
      context_.network.fail_accepts(bank_node, world.now_ms() + fault.duration_ms);
      break;
    case FaultOp::corrupt: {
      ++context_.stats.corruptions;
      if (fault.corrupt_kind == CorruptKind::bit_flip) {
        const std::int64_t offset = host_.disk().flip_bit(journal_file, fault.pick, fault.bit);
        log_.info("flipped bit {} of the journal's byte at offset {}", fault.bit, offset);
      } else if (fault.corrupt_kind == CorruptKind::aimed) {
        flip_aimed(fault);
      } else {
        host_.disk().misdirect_next_append(journal_file, fault.pick);
      }
      break;
    }
    case FaultOp::sleep:
      break;
  }
}

// Flips one bit of a synced record's header or trailer: the record is the
// pick-th from the last whole one, the byte the fault's.
void FaultInjector::flip_aimed(const Fault& fault) {
  const sim::SimFileState* file = host_.disk().file(journal_file);
  if (file == nullptr) return;
  const std::string_view bytes = file->durable;
  std::vector<std::size_t> starts;
  for (std::size_t at = 0; at < bytes.size();) {
    const bank::DecodedRecord record = bank::decode_record(bytes.substr(at));
    if (record.outcome != bank::DecodeOutcome::ok) break;
    BANK_ASSERT(record.record_bytes > 2 * bank::journal_header_bytes);
    starts.push_back(at);
    at += record.record_bytes;
  }
  if (starts.empty()) return;
  const std::size_t start = starts[starts.size() - 1 - fault.pick % starts.size()];
  const std::size_t record_bytes = bank::decode_record(bytes.substr(start)).record_bytes;
  const std::size_t offset = fault.byte < bank::journal_header_bytes
                                 ? start + fault.byte
                                 : start + record_bytes - 2 * bank::journal_header_bytes + fault.byte;
  BANK_ASSERT(offset < bytes.size());
  host_.disk().flip_bit(journal_file, bytes.size() - 1 - offset, fault.bit);
  log_.info("flipped bit {} of the {} of the journal's record at offset {} (byte {})", fault.bit,
            fault.byte < bank::journal_header_bytes ? "header" : "trailer", start, offset);
}

void FaultInjector::strike(const Fault& fault, std::int64_t waits_left) {
  timer_ = 0;
  if (healed_) return;
  if (waits_left > 0 && !host_.at_worst_moment()) {
    // Not the worst moment yet: look again next step.
    // The fault is the plan's (which outlives this): the callback keeps its
    // address, small enough to stay in place, not a copy on the heap each step.
    timer_ = context_.world.schedule_after(context_.step_ms, "fault wait",
                                           [this, at = &fault, waits_left] { strike(*at, waits_left - 1); });
    return;
  }
  if (waits_left > 0) {
    // The worst moment: strike once the reply that showed the ledger has
    // reached its client, so that what it showed is on the record.
    timer_ = context_.world.schedule_after(context_.latency_ms_max + context_.step_ms, "fault strike",
                                           [this, at = &fault] { strike(*at, 0); });
    return;
  }
  apply(fault);
  timer_ = context_.world.schedule_after(0, "fault next", [this] { next(); });
}

void FaultInjector::heal_now() {
  if (healed_) return;
  healed_ = true;
  if (timer_ != 0) context_.world.cancel(timer_);
  timer_ = 0;
  for (auto event : heal_events_) context_.world.cancel(event);
  heal_events_.clear();
  context_.network.heal_all();
  host_.disk().faults() = sim::DiskFaults{};
  host_.restart_if_waiting();
  if (disk_faulted_) {
    // After a disk error the server refuses writes until it restarts and
    // re-reads its journal; the operator restarts it.
    log_.info("heal: restarting the host after disk errors");
    host_.crash(context_.step_ms);
  }
  context_.healed_at_ms = context_.world.now_ms();
  // Every fault ends here, however long it was planned to last.
  context_.disturbed_until_ms = context_.world.now_ms();
  context_.events.heal(context_.liveness_deadline_ms);
}

}  // namespace bank_sim
