#include "actors.hpp"

#include <fmt/format.h>

#include "bank/journal.hpp"

namespace bank_sim {

namespace {

constexpr std::size_t reply_bytes_max = 64 * 1024 * 1024;
constexpr std::size_t health_reply_bytes_max = 1024;  // "healthy", or a notice before a close.

}  // namespace

// ---------------------------------------------------------------- Host

Host::Host(RunContext& context, bank::BankServerConfig config, sim::DiskConfig disk_config)
    : context_(context),
      config_(std::move(config)),
      disk_(context.world, disk_config),
      clock_(context.world),
      timers_(context.world),
      log_(context.world, "host", context.log_level, context.log),
      door_(context.network.node(bank_node), config_.connections_max, [this](std::string evidence) {
        context_.model.fail("the connection limit holds", "host", evidence);
      }) {}

Host::~Host() {
  if (restart_event_ != 0) context_.world.cancel(restart_event_);
  server_.reset();
}

std::vector<std::string> Host::describe_ledger(std::size_t last) const {
  std::vector<std::string> out;
  if (server_ == nullptr) {
    out.push_back(fmt::format("the server is down{} ({} transactions durable when last seen)",
                              down_since_ms_
                                  ? fmt::format(" since +{} ms", *down_since_ms_ - context_.world.start_ms())
                                  : std::string(),
                              durable_last_));
    return out;
  }
  const bank::Ledger& ledger = server_->ledger();
  out.push_back(
      fmt::format("the server is up{}: {} transactions durable, {} staged (waiting for a sync), balance "
                  "${} (durable)",
                  server_->writes_disabled() ? ", writes disabled" : "", ledger.durable_count(),
                  ledger.staged_last_id() - ledger.durable_count(), bank::format_money(ledger.balance())));
  const std::uint64_t from = ledger.staged_last_id() > last ? ledger.staged_last_id() - last + 1 : 1;
  for (std::uint64_t id = from; id <= ledger.staged_last_id(); ++id) {
    if (const bank::Transaction* t = ledger.get_any(id)) {
      out.push_back(fmt::format("{} {}{}", ledger.is_durable(id) ? "durable" : "staged ",
                                bank::format_transaction(*t), t->key.empty() ? "" : " key=" + t->key));
    }
  }
  return out;
}

std::vector<std::string> Host::describe_journal(std::size_t last) const {
  std::vector<std::string> out;
  const sim::SimFileState* file = disk_.file(journal_file);
  if (file == nullptr || !file->exists) {
    out.push_back(fmt::format("{}: no such file on the disk", journal_file));
    return out;
  }
  out.push_back(
      fmt::format("{}: {} bytes in the page cache, {} durable, dirty from byte {}; directory entry {}",
                  journal_file, file->cached.size(), file->durable.size(), file->dirty_from,
                  file->entry_durable ? "synced" : "NOT synced (a power loss takes the file)"));
  std::vector<std::string> records;
  std::string_view bytes = file->cached;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const bank::DecodedRecord record = bank::decode_record(bytes.substr(offset));
    if (record.outcome != bank::DecodeOutcome::ok) {
      records.push_back(
          fmt::format("@{}: {} ({} bytes to the end)", offset,
                      record.outcome == bank::DecodeOutcome::incomplete ? "a torn record" : "damage",
                      bytes.size() - offset));
      break;
    }
    const bool durable = offset + record.record_bytes <= file->durable.size();
    records.push_back(fmt::format("@{}: {} {}", offset, durable ? "synced  " : "unsynced",
                                  bank::format_transaction(record.transaction)));
    offset += record.record_bytes;
  }
  out.push_back(fmt::format("{} records{}", records.size(),
                            records.size() > last ? fmt::format(" (the last {})", last) : ""));
  for (std::size_t i = records.size() > last ? records.size() - last : 0; i < records.size(); ++i) {
    out.push_back(records[i]);
  }
  return out;
}

void Host::start() {
  restart_event_ = 0;
  const std::int64_t now_ms = context_.world.now_ms();
  if (disk_.faults().errors_active(now_ms)) {
    // The disk is failing: an operator restarts the server once it is not.
    const std::int64_t until_ms =
        std::max(disk_.faults().fail_appends_until_ms, disk_.faults().fail_syncs_until_ms);
    schedule_start(std::max(until_ms - now_ms, context_.step_ms));
    return;
  }
  context_.network.set_up(bank_node);
  auto started = bank::BankServer::start(bank::BankEnvironment{clock_, timers_, door_, disk_, log_}, config_);
  if (!started) {
    const std::string& reason = started.error().message;
    if (disk_.faults().fail_reads_until_ms > now_ms) {
      // An unreadable journal: refusing to start is right; the sector reads again later.
      log_.info("the server refused to start while its disk cannot be read: {}", reason);
      schedule_start(std::max(disk_.faults().fail_reads_until_ms - now_ms, context_.step_ms));
      return;
    }
    if (disk_.corruptions() > 0 && reason.find(config_.journal_file) != std::string::npos &&
        reason.find("offset") != std::string::npos) {
      // After media damage, refusing to start with the file and offset named
      // is the legal outcome; the operator restores the file and restarts.
      ++context_.stats.refusals_after_corruption;
      log_.info(
          "the server refused to start after {} corruption(s), naming the damage: {}; restoring the file",
          disk_.corruptions(), reason);
      if (context_.world.tracing()) context_.world.trace("host refused to start after corruption");
      disk_.repair();
      schedule_start(context_.step_ms);
      return;
    }
    context_.model.fail("recovery", "host",
                        fmt::format("the bank server could not start from what its disk kept: {}", reason));
    return;
  }
  server_ = std::move(*started);
  context_.disturb(now_ms);
  if (context_.world.tracing())
    context_.world.trace(fmt::format("host up ({} transactions)", server_->ledger().durable_count()));
  if (context_.recorder != nullptr) {
    if (down_since_ms_) context_.recorder->span("host", "down (crashed)", *down_since_ms_, now_ms);
    context_.recorder->instant("host", "up", now_ms,
                               fmt::format("{} transactions recovered", server_->ledger().durable_count()));
  }
  down_since_ms_.reset();
}

void Host::schedule_start(std::int64_t after_ms) {
  if (restart_event_ != 0) context_.world.cancel(restart_event_);
  restart_event_ = context_.world.schedule_after(after_ms, "host start", [this] { start(); });
}

void Host::stop_process(std::string_view what) {
  const auto durable = server_->ledger().durable_count();
  durable_last_ = durable;
  server_.reset();  // All its memory is gone.
  timers_.cancel_all();
  context_.network.crash(bank_node);
  down_since_ms_ = context_.world.now_ms();
  log_.info("{}: {} durable transactions", what, durable);
}

void Host::crash(std::int64_t restart_after_ms) {
  if (!up()) return;  // Already down, and a restart is on its way.
  ++context_.stats.crashes;
  stop_process("process crash (the page cache survives)");
  log_.info("restart in {} ms", restart_after_ms);
  if (context_.world.tracing()) context_.world.trace("host crash");
  if (context_.recorder != nullptr)
    context_.recorder->instant("host", "crash", *down_since_ms_, "process crash");
  schedule_start(restart_after_ms);
}

void Host::power_loss(std::int64_t restart_after_ms) {
  ++context_.stats.power_losses;
  const bool was_up = up();
  if (was_up) stop_process("power loss");
  const std::uint64_t lost = disk_.power_loss();
  log_.info(
      "power loss: {} bytes of page cache lost{}", lost,
      was_up ? fmt::format("; restart in {} ms", restart_after_ms) : std::string(" (the host was down)"));
  if (context_.world.tracing()) context_.world.trace(fmt::format("host power loss lost={}", lost));
  if (context_.recorder != nullptr) {
    context_.recorder->instant("host", "power loss", context_.world.now_ms(),
                               fmt::format("{} bytes of page cache lost", lost));
  }
  if (was_up) schedule_start(restart_after_ms);
}

// ---------------------------------------------------------------- HealthChecker

HealthChecker::HealthChecker(RunContext& context, std::int64_t interval_ms)
    : context_(context),
      interval_ms_(interval_ms),
      log_(context.world, "health", context.log_level, context.log),
      client_(context.network, "health", bank_port, health_reply_bytes_max,
              {.connected =
                   [this] {
                     // At once: waiting for the next tick could outlast a short idle timeout
                     // every time, and the checker would never be answered.
                     send_health();
                   },
               .connect_failed = {},
               .frame = [this](std::string_view frame) { return on_reply(frame); },
               .closed = [this](bank::CloseReason) { outstanding_since_ms_.reset(); },
               .too_large = {}}) {}

HealthChecker::~HealthChecker() {
  if (timer_ != 0) context_.world.cancel(timer_);
}

void HealthChecker::start() {
  timer_ = context_.world.schedule_after(interval_ms_, "health tick", [this] { tick(); });
}

void HealthChecker::stop() {
  stopped_ = true;
  if (timer_ != 0) context_.world.cancel(timer_);
  timer_ = 0;
  client_.drop();
}

void HealthChecker::tick() {
  timer_ = 0;
  if (stopped_) return;
  const std::int64_t now_ms = context_.world.now_ms();
  if (outstanding_since_ms_ && now_ms - *outstanding_since_ms_ >= context_.liveness_deadline_ms) {
    // No answer within the deadline: start over on a new connection.
    if (log_.enabled(bank::LogLevel::debug))
      log_.debug("HEALTH unanswered for {} ms", now_ms - *outstanding_since_ms_);
    outstanding_since_ms_.reset();
    client_.drop();
  }
  if (!client_.connected() && !client_.connecting()) {
    client_.connect(bank_node);
  } else if (client_.connected() && !outstanding_since_ms_) {
    send_health();
  }
  timer_ = context_.world.schedule_after(interval_ms_, "health tick", [this] { tick(); });
}

void HealthChecker::send_health() {
  std::string bytes;
  bank::append_frame(bytes, "HEALTH");
  client_.send(bytes);
  outstanding_since_ms_ = context_.world.now_ms();
}

bool HealthChecker::on_reply(std::string_view frame) {
  if (frame != "healthy") {
    // Told it is idle, or refused at a full server: the close that follows starts over.
    if (frame.starts_with(bank::notice_idle_timeout) ||
        frame.starts_with(bank::notice_too_many_connections)) {
      return true;
    }
    context_.model.fail("protocol", "health", fmt::format("HEALTH was answered `{}`", frame));
    return false;
  }
  outstanding_since_ms_.reset();
  const std::int64_t now_ms = context_.world.now_ms();
  if (context_.healed_at_ms && !first_success_after_heal_ms_ && now_ms >= *context_.healed_at_ms) {
    first_success_after_heal_ms_ = now_ms;
  }
  return true;
}

// ---------------------------------------------------------------- FaultInjector

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
  if ((fault.op == FaultOp::crash || fault.op == FaultOp::power_loss) && fault.when_unsynced) {
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
  context_.disturb(context_.world.now_ms() + std::max<std::int64_t>(fault.duration_ms, 0));
  log_.info("{}", describe_fault(fault));
  if (context_.world.tracing()) context_.world.trace("fault " + describe_fault(fault));
  sim::World& world = context_.world;
  if (context_.recorder != nullptr) {
    if (fault.duration_ms > 0 && fault.op != FaultOp::crash && fault.op != FaultOp::power_loss &&
        fault.op != FaultOp::vanish) {
      context_.recorder->span("faults", describe(fault.op), world.now_ms(),
                              world.now_ms() + fault.duration_ms, describe_fault(fault));
    } else {
      context_.recorder->instant("faults", describe(fault.op), world.now_ms(), describe_fault(fault));
    }
  }
  switch (fault.op) {
    case FaultOp::crash:
    case FaultOp::power_loss:
      if (fault.op == FaultOp::crash) {
        host_.crash(fault.duration_ms);
      } else {
        host_.power_loss(fault.duration_ms);
      }
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
      } else {
        host_.disk().misdirect_next_append(journal_file, fault.pick);
      }
      break;
    }
    case FaultOp::sleep:
      break;
  }
}

void FaultInjector::strike(const Fault& fault, std::int64_t waits_left) {
  timer_ = 0;
  if (healed_) return;
  if (waits_left > 0 && !host_.at_worst_moment()) {
    // Not the worst moment yet: look again next step.
    timer_ = context_.world.schedule_after(context_.step_ms, "fault wait",
                                           [this, fault, waits_left] { strike(fault, waits_left - 1); });
    return;
  }
  if (waits_left > 0) {
    // The worst moment: strike once the reply that showed the ledger has
    // reached its client, so that what it showed is on the record.
    timer_ = context_.world.schedule_after(context_.latency_ms_max + context_.step_ms, "fault strike",
                                           [this, fault] { strike(fault, 0); });
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
  log_.info("heal: every fault is over; liveness deadline {} ms", context_.liveness_deadline_ms);
  if (context_.world.tracing()) context_.world.trace("heal");
  if (context_.recorder != nullptr) context_.recorder->instant("faults", "heal", context_.world.now_ms());
}

// ---------------------------------------------------------------- Auditor

Auditor::Auditor(RunContext& context)
    : context_(context),
      log_(context.world, "auditor", context.log_level, context.log),
      client_(context.network, "auditor", bank_port, reply_bytes_max,
              {.connected =
                   [this] {
                     std::string bytes;
                     bank::append_frame(bytes, "LIST_TRANSACTIONS");
                     bank::append_frame(bytes, "GET_BALANCE");
                     client_.send(bytes);
                   },
               .connect_failed = [this](const std::string&) { retry_later(); },
               .frame = [this](std::string_view frame) { return on_reply(frame); },
               .closed =
                   [this](bank::CloseReason) {
                     if (!done_) retry_later();
                   },
               .too_large = {}}) {}

Auditor::~Auditor() {
  if (timer_ != 0) context_.world.cancel(timer_);
}

void Auditor::start() {
  attempt();
}

void Auditor::attempt() {
  timer_ = 0;
  replies_.clear();
  client_.connect(bank_node);
}

void Auditor::retry_later() {
  timer_ = context_.world.schedule_after(std::max<std::int64_t>(100, context_.step_ms), "audit retry",
                                         [this] { attempt(); });
}

bool Auditor::on_reply(std::string_view frame) {
  if (replies_.empty() && frame.starts_with(bank::notice_too_many_connections))
    return true;  // Closed next: retried.
  replies_.emplace_back(frame);
  if (replies_.size() < 2) return true;
  context_.model.audit("auditor", replies_[0], replies_[1]);
  log_.info("audit: {} transactions, balance {}",
            replies_[0].empty() ? 0 : std::count(replies_[0].begin(), replies_[0].end(), '\n') + 1,
            replies_[1]);
  done_ = true;
  client_.drop();
  return false;
}

}  // namespace bank_sim
