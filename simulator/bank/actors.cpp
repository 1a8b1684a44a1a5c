#include "actors.hpp"

#include <fmt/format.h>

namespace bank_sim {

namespace {

constexpr std::size_t reply_bytes_max = 64 * 1024 * 1024;

std::string frames_text(const std::vector<std::string>& frames) {
  std::string text;
  for (const auto& f : frames) {
    if (!text.empty()) text += " | ";
    text += f;
  }
  return text;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

std::string short_reply(std::string_view reply) {
  // A LIST reply can be long: the log shows its size and first line.
  const auto newline = reply.find('\n');
  if (newline == std::string_view::npos) return std::string(reply);
  return fmt::format("{} (+{} more lines)", reply.substr(0, newline),
                     std::count(reply.begin(), reply.end(), '\n'));
}

}  // namespace

// ---------------------------------------------------------------- Host

Host::Host(RunContext& context, bank::BankServerConfig config, sim::DiskConfig disk_config)
    : context_(context),
      config_(std::move(config)),
      disk_(context.world, disk_config),
      clock_(context.world),
      timers_(context.world),
      log_(context.world, "host", context.log_level, context.log) {}

Host::~Host() {
  if (restart_event_ != 0) context_.world.cancel(restart_event_);
  server_.reset();
}

void Host::start() {
  restart_event_ = 0;
  const std::int64_t now_ms = context_.world.now_ms();
  if (disk_.faults().errors_active(now_ms)) {
    // The disk is failing: an operator restarts the server once it is not.
    const std::int64_t until_ms = std::max(disk_.faults().fail_appends_until_ms, disk_.faults().fail_syncs_until_ms);
    schedule_start(std::max(until_ms - now_ms, context_.step_ms));
    return;
  }
  context_.network.set_up(bank_node);
  auto started = bank::BankServer::start(
      bank::BankEnvironment{clock_, timers_, context_.network.node(bank_node), disk_, log_}, config_);
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
      log_.info("the server refused to start after {} corruption(s), naming the damage: {}; restoring the file",
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
  if (context_.world.tracing()) context_.world.trace(fmt::format("host up ({} transactions)", server_->ledger().durable_count()));
  if (context_.recorder != nullptr) {
    if (down_since_ms_) context_.recorder->span("host", "down (crashed)", *down_since_ms_, now_ms);
    context_.recorder->instant("host", "up", now_ms,
                               fmt::format("{} transactions recovered", server_->ledger().durable_count()));
  }
  down_since_ms_.reset();
}

void Host::schedule_start(std::int64_t after_ms) {
  if (restart_event_ != 0) context_.world.cancel(restart_event_);
  restart_event_ = context_.world.schedule_after(after_ms, [this] { start(); });
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
  if (context_.recorder != nullptr) context_.recorder->instant("host", "crash", *down_since_ms_, "process crash");
  schedule_start(restart_after_ms);
}

void Host::power_loss(std::int64_t restart_after_ms) {
  ++context_.stats.power_losses;
  const bool was_up = up();
  if (was_up) stop_process("power loss");
  const std::uint64_t lost = disk_.power_loss();
  log_.info("power loss: {} bytes of page cache lost{}", lost,
            was_up ? fmt::format("; restart in {} ms", restart_after_ms) : std::string(" (the host was down)"));
  if (context_.world.tracing()) context_.world.trace(fmt::format("host power loss lost={}", lost));
  if (context_.recorder != nullptr) {
    context_.recorder->instant("host", "power loss", context_.world.now_ms(),
                               fmt::format("{} bytes of page cache lost", lost));
  }
  if (was_up) schedule_start(restart_after_ms);
}

// ---------------------------------------------------------------- Banker

Banker::Banker(RunContext& context, Host& host, std::uint32_t index, const BankerPlan& plan)
    : context_(context),
      host_(host),
      index_(index),
      name_(fmt::format("banker{}", index)),
      plan_(plan),
      log_(context.world, name_, context.log_level, context.log),
      decoder_(reply_bytes_max) {}

Banker::~Banker() {
  if (timer_ != 0) context_.world.cancel(timer_);
  if (watchdog_ != 0) context_.world.cancel(watchdog_);
}

void Banker::start() { next(); }

void Banker::stop_after_current() {
  stopping_ = true;
  if (!request_ && !finished_) {
    if (timer_ != 0) context_.world.cancel(timer_);
    timer_ = 0;
    finished_ = true;
    drop_connection();
  }
}

void Banker::next() {
  timer_ = 0;
  if (stopping_ || next_interaction_ >= plan_.interactions.size()) {
    finished_ = true;
    drop_connection();
    return;
  }
  const Interaction& interaction = plan_.interactions[next_interaction_++];
  if (interaction.op == BankerOp::sleep) {
    timer_ = context_.world.schedule_after(interaction.sleep_ms, [this] { next(); });
    return;
  }
  begin(interaction);
}

std::uint64_t Banker::resolve(const IdPick& pick) const {
  if (!pick.known) return pick.pick;
  const auto& known = context_.model.known_ids();
  if (known.empty()) return 1;
  return known[pick.pick % known.size()];
}

void Banker::begin(const Interaction& interaction) {
  Request request;
  request.interaction = interaction;
  switch (interaction.op) {
    case BankerOp::list:
      request.frames = {"LIST_TRANSACTIONS"};
      break;
    case BankerOp::balance:
      request.frames = {"GET_BALANCE"};
      break;
    case BankerOp::get:
      request.id = resolve(interaction.id);
      request.frames = {"GET_TRANSACTION", std::to_string(request.id)};
      request.prompt = "Enter the transaction ID:";
      break;
    case BankerOp::create:
      request.key = fmt::format("b{}-{}", index_, next_interaction_);
      request.frames = {"CREATE_TRANSACTION", fmt::format("{} key={}", bank::format_money(interaction.amount), request.key)};
      request.prompt = "Enter the transaction amount:";
      context_.model.write_started(request.key, WriteKind::create, interaction.amount, 0);
      break;
    case BankerOp::void_:
      request.id = resolve(interaction.id);
      request.key = fmt::format("b{}-{}", index_, next_interaction_);
      request.frames = {"VOID_TRANSACTION", fmt::format("{} key={}", request.id, request.key)};
      request.prompt = "Enter the transaction ID:";
      context_.model.write_started(request.key, WriteKind::void_, bank::Money{}, request.id);
      break;
    case BankerOp::sleep:
      BANK_ASSERT_MSG(false, "sleep is not a request");
  }
  request.replies_expected = request.frames.size();
  request_ = std::move(request);
  send_current();
}

void Banker::connect() {
  if (connecting_) return;
  connecting_ = true;
  const std::uint64_t generation = ++connection_generation_;
  context_.network.connect(name_, bank_node, bank_port, [this, generation](auto result) {
    if (generation != connection_generation_) return;  // Superseded.
    connecting_ = false;
    if (!result) {
      retry_later(result.error().message);
      return;
    }
    connection_ = std::move(*result);
    decoder_ = bank::FrameDecoder(reply_bytes_max);
    connection_->start(this);
    send_current();
  });
}

void Banker::send_current() {
  timer_ = 0;
  if (!request_ || request_->sent) return;
  if (!connection_) {
    connect();
    return;
  }
  Request& request = *request_;
  request.sent = true;
  request.replies.clear();
  request.generation = context_.model.generation();
  request.disk_failures_at_send = host_.disk_failures();
  if (!request.clock_opened) {
    // A retried write may be answered with what its first attempt recorded,
    // so its clock window opens at the first real send (also when an earlier
    // connect attempt failed).
    request.clock_opened = true;
    request.clock.at_request_ms = host_.clock().realtime_ms();
    request.clock_steps_at_send = context_.model.clock_steps();
    context_.model.note_host_clock(request.clock.at_request_ms);
  }
  ++context_.stats.requests_sent;
  // The argument goes out with the action, before the prompt comes back, as
  // the original's load generator does.
  std::string bytes;
  for (const auto& frame : request.frames) bank::append_frame(bytes, frame);
  if (log_.enabled(bank::LogLevel::debug)) log_.debug("send {}{}", frames_text(request.frames),
             request.attempts > 0 ? fmt::format(" (attempt {})", request.attempts + 1) : "");
  if (context_.world.tracing()) context_.world.trace(fmt::format("{} send {}", name_, frames_text(request.frames)));
  if (context_.recorder != nullptr) {
    context_.recorder->begin_request(name_, frames_text(request.frames), context_.world.now_ms());
  }
  connection_->send(bytes);
  request.sent_at_ms = context_.world.now_ms();
  arm_watchdog(context_.liveness_deadline_ms);
}

// One watchdog per banker, re-armed only when it fires: cheaper than
// scheduling and cancelling a timeout for every request.
void Banker::arm_watchdog(std::int64_t delay_ms) {
  if (watchdog_ != 0) return;
  watchdog_ = context_.world.schedule_after(delay_ms, [this] {
    watchdog_ = 0;
    if (!request_ || !request_->sent) return;
    const std::int64_t waited_ms = context_.world.now_ms() - request_->sent_at_ms;
    if (waited_ms >= context_.liveness_deadline_ms) {
      retry_later(fmt::format("no reply within {} ms", context_.liveness_deadline_ms));
    } else {
      arm_watchdog(context_.liveness_deadline_ms - waited_ms);
    }
  });
}

void Banker::on_data(std::string_view bytes) {
  decoder_.feed(bytes);
  for (;;) {
    const auto next_frame = decoder_.next();
    if (next_frame.status == bank::FrameDecoder::Status::too_large) {
      context_.model.fail("protocol", name_, "a reply frame exceeded the client's limit");
      return;
    }
    if (next_frame.status != bank::FrameDecoder::Status::frame) return;
    handle_reply(std::string(next_frame.frame));
    if (!connection_) return;  // The reply ended this connection.
  }
}

void Banker::handle_reply(std::string reply) {
  if (!request_ || !request_->sent) {
    // An idle-timeout notice is the only frame a server may send unasked.
    if (starts_with(reply, "ERROR idle timeout")) return;
    context_.model.fail("protocol", name_, fmt::format("a reply arrived with no request outstanding: `{}`", reply));
    return;
  }
  Request& request = *request_;
  if (log_.enabled(bank::LogLevel::debug)) log_.debug("recv {}", short_reply(reply));
  if (context_.world.tracing()) context_.world.trace(fmt::format("{} recv {}", name_, short_reply(reply)));
  if (starts_with(reply, "ERROR idle timeout")) return;  // The close that follows triggers the retry.
  request.replies.push_back(std::move(reply));
  if (request.replies.size() == 1 && request.replies_expected == 2 && request.replies[0] != request.prompt) {
    context_.model.fail("protocol", name_,
                        fmt::format("{} should be answered with the prompt `{}`, got `{}`", request.frames[0],
                                    request.prompt, request.replies[0]));
    return;
  }
  if (request.replies.size() == request.replies_expected) finish_request();
}

void Banker::finish_request() {
  Request& request = *request_;
  request.clock.at_reply_ms = host_.clock().realtime_ms();
  request.clock.stepped = context_.model.clock_steps() != request.clock_steps_at_send;
  context_.model.note_host_clock(request.clock.at_reply_ms);
  const std::string& reply = request.replies.back();
  if (context_.recorder != nullptr) context_.recorder->end_request(name_, short_reply(reply), context_.world.now_ms());
  Model& model = context_.model;
  switch (request.interaction.op) {
    case BankerOp::list:
      model.check_list(name_, reply, request.generation);
      return complete("listed");
    case BankerOp::balance:
      model.check_balance(name_, reply, request.generation, host_.durable_count());
      return complete(reply);
    case BankerOp::get:
      model.check_get(name_, request.id, reply, request.generation);
      return complete(reply);
    case BankerOp::create:
    case BankerOp::void_: {
      const bool is_void = request.interaction.op == BankerOp::void_;
      if (starts_with(reply, "id=")) {
        model.write_acked(name_, request.key, reply, request.clock);
        return complete(reply);
      }
      if (starts_with(reply, "ERROR journal ") || starts_with(reply, "ERROR writes are disabled")) {
        // A disk error needs a disk operation that failed: one after this
        // request was sent for its own outcome, or any earlier one for the
        // refusal that follows it until a restart.
        const bool own_failure = starts_with(reply, "ERROR journal ");
        const std::uint64_t failures = host_.disk_failures();
        if (own_failure ? failures == request.disk_failures_at_send : failures == 0) {
          model.fail("every error is justified", name_,
                     fmt::format("{} was answered `{}`, but no disk operation failed {}", frames_text(request.frames),
                                 reply, own_failure ? "while it was in flight" : "in this run"));
          return;
        }
        // Outcome unknown, or refused until a restart: retry with the same key.
        return retry_later(reply);
      }
      if (is_void && reply == "Transaction not found") {
        model.check_not_found(name_, request.id, "VOID_TRANSACTION", request.generation);
        model.write_refused(request.key);
        return complete(reply);
      }
      if (is_void && (reply.find("is already voided by") != std::string::npos ||
                      reply.find("is a reversal of") != std::string::npos)) {
        model.void_rejected(name_, request.key, request.id, reply);
        return complete(reply);
      }
      if (!is_void && reply.find("would overflow the balance") != std::string::npos) {
        model.write_refused(request.key);
        return complete(reply);
      }
      model.fail("protocol", name_, fmt::format("{} was answered `{}`", frames_text(request.frames), reply));
      return;
    }
    case BankerOp::sleep:
      break;
  }
  BANK_ASSERT_MSG(false, "unhandled request kind");
}

void Banker::complete(std::string_view outcome) {
  const std::int64_t now_ms = context_.world.now_ms();
  if (log_.enabled(bank::LogLevel::debug)) log_.debug("done {} -> {}", describe_interaction(request_->interaction), short_reply(outcome));
  request_.reset();
  ++context_.stats.interactions_done;
  last_completed_ms_ = now_ms;
  if (context_.healed_at_ms && !first_completion_after_heal_ms_ && now_ms >= *context_.healed_at_ms) {
    first_completion_after_heal_ms_ = now_ms;
  }
  timer_ = context_.world.schedule_after(0, [this] { next(); });
}

void Banker::drop_connection() {
  ++connection_generation_;
  connecting_ = false;
  connection_.reset();
}

void Banker::retry_later(std::string_view reason_view) {
  const std::string reason(reason_view);  // It may point into a reply that is cleared below.
  if (context_.recorder != nullptr) context_.recorder->end_request(name_, "lost: " + reason, context_.world.now_ms());
  drop_connection();
  if (!request_) return;
  Request& request = *request_;
  ++request.attempts;
  ++context_.stats.retries;
  request.sent = false;
  request.replies.clear();
  // Exponential backoff with jitter, capped; at least one step.
  const std::int64_t base_ms = std::min<std::int64_t>(2'000, 10LL << std::min<std::uint32_t>(request.attempts, 8));
  const std::int64_t delay_ms = base_ms / 2 + context_.world.rng().range(0, base_ms / 2);
  if (log_.enabled(bank::LogLevel::debug)) log_.debug("retry {} in {} ms: {}", describe_interaction(request.interaction), delay_ms, reason);
  if (timer_ != 0) context_.world.cancel(timer_);
  timer_ = context_.world.schedule_after(delay_ms, [this] { send_current(); });
}

void Banker::on_closed(bank::CloseReason reason) {
  connection_.reset();
  ++connection_generation_;
  connecting_ = false;
  if (request_ && request_->sent) retry_later(fmt::format("connection {}", bank::describe(reason)));
}

// ---------------------------------------------------------------- HealthChecker

HealthChecker::HealthChecker(RunContext& context, std::int64_t interval_ms)
    : context_(context), interval_ms_(interval_ms), log_(context.world, "health", context.log_level, context.log) {}

HealthChecker::~HealthChecker() {
  if (timer_ != 0) context_.world.cancel(timer_);
}

void HealthChecker::start() { timer_ = context_.world.schedule_after(interval_ms_, [this] { tick(); }); }

void HealthChecker::stop() {
  stopped_ = true;
  if (timer_ != 0) context_.world.cancel(timer_);
  timer_ = 0;
  connection_.reset();
}

void HealthChecker::tick() {
  timer_ = 0;
  if (stopped_) return;
  const std::int64_t now_ms = context_.world.now_ms();
  if (outstanding_since_ms_ && now_ms - *outstanding_since_ms_ >= context_.liveness_deadline_ms) {
    // No answer within the deadline: start over on a new connection.
    if (log_.enabled(bank::LogLevel::debug)) log_.debug("HEALTH unanswered for {} ms", now_ms - *outstanding_since_ms_);
    outstanding_since_ms_.reset();
    connection_.reset();
  }
  if (!connection_ && !connecting_) {
    connecting_ = true;
    context_.network.connect("health", bank_node, bank_port, [this](auto result) {
      connecting_ = false;
      if (stopped_ || !result) return;
      connection_ = std::move(*result);
      decoder_ = bank::FrameDecoder(1024);
      connection_->start(this);
    });
  } else if (connection_ && !outstanding_since_ms_) {
    std::string bytes;
    bank::append_frame(bytes, "HEALTH");
    connection_->send(bytes);
    outstanding_since_ms_ = now_ms;
  }
  timer_ = context_.world.schedule_after(interval_ms_, [this] { tick(); });
}

void HealthChecker::on_data(std::string_view bytes) {
  decoder_.feed(bytes);
  for (;;) {
    const auto next = decoder_.next();
    if (next.status != bank::FrameDecoder::Status::frame) return;
    if (next.frame != "healthy") {
      if (starts_with(next.frame, "ERROR idle timeout")) continue;
      context_.model.fail("protocol", "health", fmt::format("HEALTH was answered `{}`", next.frame));
      return;
    }
    outstanding_since_ms_.reset();
    const std::int64_t now_ms = context_.world.now_ms();
    if (context_.healed_at_ms && !first_success_after_heal_ms_ && now_ms >= *context_.healed_at_ms) {
      first_success_after_heal_ms_ = now_ms;
    }
  }
}

void HealthChecker::on_closed(bank::CloseReason) {
  connection_.reset();
  outstanding_since_ms_.reset();
}

// ---------------------------------------------------------------- FaultInjector

FaultInjector::FaultInjector(RunContext& context, Host& host, const FaultPlan& plan, std::uint32_t banker_count)
    : context_(context),
      host_(host),
      plan_(plan),
      banker_count_(banker_count),
      log_(context.world, "faults", context.log_level, context.log) {}

FaultInjector::~FaultInjector() {
  if (timer_ != 0) context_.world.cancel(timer_);
  for (auto event : heal_events_) context_.world.cancel(event);
}

void FaultInjector::start() { next(); }

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
  const Fault& fault = plan_.faults[next_fault_++];
  if (fault.op == FaultOp::sleep) {
    timer_ = context_.world.schedule_after(fault.duration_ms, [this] { next(); });
    return;
  }
  if ((fault.op == FaultOp::crash || fault.op == FaultOp::power_loss) && fault.when_unsynced) {
    // The rest of the plan waits for the strike, so what follows keeps its
    // distance from it.
    strike(fault, worst_moment_wait_steps_max);
    return;
  }
  apply(fault);
  timer_ = context_.world.schedule_after(0, [this] { next(); });
}

void FaultInjector::apply(const Fault& fault) {
  ++context_.stats.faults_injected;
  log_.info("{}", describe_fault(fault));
  if (context_.world.tracing()) context_.world.trace("fault " + describe_fault(fault));
  sim::World& world = context_.world;
  if (context_.recorder != nullptr) {
    if (fault.duration_ms > 0 && fault.op != FaultOp::crash && fault.op != FaultOp::power_loss &&
        fault.op != FaultOp::vanish) {
      context_.recorder->span("faults", describe(fault.op), world.now_ms(), world.now_ms() + fault.duration_ms,
                              describe_fault(fault));
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
        heal_events_.push_back(world.schedule_after(fault.duration_ms, [this, node] {
          if (!healed_) context_.network.heal(bank_node, node);
        }));
      }
      break;
    case FaultOp::clog:
      for (const auto& node : targets(fault.target)) context_.network.clog(bank_node, node, fault.duration_ms);
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
      heal_events_.push_back(world.schedule_after(fault.duration_ms, [this] {
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
        heal_events_.push_back(world.schedule_after(fault.duration_ms, [this, node] {
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
    timer_ = context_.world.schedule_after(context_.step_ms,
                                           [this, fault, waits_left] { strike(fault, waits_left - 1); });
    return;
  }
  apply(fault);
  timer_ = context_.world.schedule_after(0, [this] { next(); });
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
  log_.info("heal: every fault is over; liveness deadline {} ms", context_.liveness_deadline_ms);
  if (context_.world.tracing()) context_.world.trace("heal");
  if (context_.recorder != nullptr) context_.recorder->instant("faults", "heal", context_.world.now_ms());
}

// ---------------------------------------------------------------- Auditor

Auditor::Auditor(RunContext& context)
    : context_(context), log_(context.world, "auditor", context.log_level, context.log), decoder_(reply_bytes_max) {}

Auditor::~Auditor() {
  if (timer_ != 0) context_.world.cancel(timer_);
}

void Auditor::start() { attempt(); }

void Auditor::attempt() {
  timer_ = 0;
  replies_.clear();
  context_.network.connect("auditor", bank_node, bank_port, [this](auto result) {
    if (!result) {
      timer_ = context_.world.schedule_after(std::max<std::int64_t>(100, context_.step_ms), [this] { attempt(); });
      return;
    }
    connection_ = std::move(*result);
    decoder_ = bank::FrameDecoder(reply_bytes_max);
    connection_->start(this);
    std::string bytes;
    bank::append_frame(bytes, "LIST_TRANSACTIONS");
    bank::append_frame(bytes, "GET_BALANCE");
    connection_->send(bytes);
  });
}

void Auditor::on_data(std::string_view bytes) {
  decoder_.feed(bytes);
  for (;;) {
    const auto next = decoder_.next();
    if (next.status != bank::FrameDecoder::Status::frame) return;
    replies_.emplace_back(next.frame);
    if (replies_.size() == 2) {
      context_.model.audit("auditor", replies_[0], replies_[1]);
      log_.info("audit: {} transactions, balance {}", replies_[0].empty() ? 0 : std::count(replies_[0].begin(), replies_[0].end(), '\n') + 1,
                replies_[1]);
      done_ = true;
      connection_.reset();
      return;
    }
  }
}

void Auditor::on_closed(bank::CloseReason) {
  connection_.reset();
  if (!done_) timer_ = context_.world.schedule_after(std::max<std::int64_t>(100, context_.step_ms), [this] { attempt(); });
}

}  // namespace bank_sim
