// The Host: the unchanged BankServer on the simulated network, clock and disk, crashed two ways.

#include <fmt/format.h>

#include "actors.hpp"
#include "bank/journal.hpp"

namespace bank_sim {

Host::Host(RunContext& context, bank::BankServerConfig config, sim::DiskConfig disk_config)
    : context_(context),
      config_(std::move(config)),
      disk_(context.world, disk_config),
      clock_(context.world),
      timers_(context.world),
      log_(context.world, "host", context.log_level, context.log),
      door_(context.network.node(bank_node), config_.connections_max, [this](std::string evidence) {
        context_.model.fail("the connection limit holds", "host", evidence);
      }) {
  door_.on_server_saw_close([this] { check_stop_after_close(); });
}

// During a graceful stop, once the server has handled the end of its last
// connection with no write in flight, it has nothing left to wait for: its
// shutdown must be done by now, not at the end of its grace period.
void Host::check_stop_after_close() {
  if (!stopping() || stopped_event_ != 0 || server_ == nullptr) return;
  if (door_.connections_held() > 0 || writes_in_flight() || server_->writes_disabled()) return;
  context_.model.fail(
      "a graceful stop ends once nothing is left", "host",
      fmt::format("the server's last connection closed {} ms into its graceful shutdown with no "
                  "write in flight, and the shutdown did not finish (it waits for its grace "
                  "period of {} ms)",
                  context_.world.now_ms() - *stop_began_ms_, config_.shutdown_grace_ms));
}

Host::~Host() {
  if (restart_event_ != 0) context_.world.cancel(restart_event_);
  if (stop_bound_event_ != 0) context_.world.cancel(stop_bound_event_);
  if (stopped_event_ != 0) context_.world.cancel(stopped_event_);
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
  out.push_back(fmt::format(
      "{}: {} bytes in the page cache, {} durable, dirty from byte {}; directory entry {}; the "
      "data directory's entry in its parent {}",
      journal_file, file->cached.size(), file->durable.size(), file->dirty_from,
      file->entry_durable ? "synced" : "NOT synced (a power loss takes the file)",
      disk_.directory_entry_durable() ? "synced" : "NOT synced (a power loss takes the directory)"));
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
      context_.events.host_refused_after_corruption();
      disk_.repair();
      schedule_start(context_.step_ms);
      return;
    }
    context_.model.fail("recovery", "host",
                        fmt::format("the bank server could not start from what its disk kept: {}", reason));
    return;
  }
  server_ = std::move(*started);
  ++starts_;
  // As the real server's main does; the simulated one runs without remote
  // exit, so no EXIT may ever get here.
  server_->set_on_exit_requested([this] {
    context_.model.fail("EXIT is refused unless remote exit is enabled", "host",
                        "a client's EXIT asked the server to shut down, though it runs without remote exit");
  });
  context_.disturb(now_ms);
  context_.events.host_up(server_->ledger().durable_count(), down_since_ms_);
  down_since_ms_.reset();
}

void Host::schedule_start(std::int64_t after_ms) {
  if (restart_event_ != 0) context_.world.cancel(restart_event_);
  restart_event_ = context_.world.schedule_after(after_ms, "host start", [this] { start(); });
}

void Host::stop_process(std::string_view what) {
  // A crash or a power loss during a graceful stop ends it too.
  stop_began_ms_.reset();
  if (stop_bound_event_ != 0) context_.world.cancel(stop_bound_event_);
  if (stopped_event_ != 0) context_.world.cancel(stopped_event_);
  stop_bound_event_ = 0;
  stopped_event_ = 0;
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
  context_.events.host_crash(restart_after_ms, *down_since_ms_, disk_.unsynced_bytes());
  schedule_start(restart_after_ms);
}

void Host::stop(std::int64_t restart_after_ms) {
  if (!up() || stopping()) return;  // Down, or stopping already: the restart is on its way.
  ++context_.stats.stops;
  ++stops_begun_;
  const std::int64_t now_ms = context_.world.now_ms();
  stop_began_ms_ = now_ms;
  // Connections close and requests go unanswered until it is back.
  context_.disturb(now_ms + config_.shutdown_grace_ms + restart_after_ms);
  context_.events.host_stop_begins();
  log_.info("graceful stop: {} connection(s), {} write(s) staged", door_.connections_held(), writes_staged());
  const std::int64_t bound_ms = config_.shutdown_grace_ms + context_.step_ms;
  stop_bound_event_ = context_.world.schedule_after(bound_ms, "host stop bound", [this, bound_ms] {
    stop_bound_event_ = 0;
    context_.model.fail(
        "a graceful stop ends within its grace period", "host",
        fmt::format("the server began a graceful shutdown {} ms ago (its grace period is {} ms) "
                    "and has not finished it: {} connection(s) held, {} write(s) staged",
                    bound_ms, config_.shutdown_grace_ms, door_.connections_held(), writes_staged()));
  });
  server_->shutdown([this, restart_after_ms] { on_shutdown_done(restart_after_ms); });
}

// The server says its shutdown is done (from inside its own call): check how,
// then the process exits at the next event, as main() returns after run().
void Host::on_shutdown_done(std::int64_t restart_after_ms) {
  BANK_ASSERT(stop_began_ms_.has_value());
  const std::int64_t took_ms = context_.world.now_ms() - *stop_began_ms_;
  const std::uint64_t staged = writes_staged();
  if (took_ms < config_.shutdown_grace_ms && staged > 0) {
    context_.model.fail("a graceful stop answers the writes in flight first", "host",
                        fmt::format("the server finished its shutdown after {} ms, within its grace period, "
                                    "with {} write(s) staged and not yet durable",
                                    took_ms, staged));
  } else if (took_ms >= config_.shutdown_grace_ms && staged == 0 && door_.connections_open() > 0) {
    // With nothing left to sync, a stopping server closes every connection at
    // once; only closes still under way (a peer slow to answer) may run out
    // the grace period.
    context_.model.fail(
        "a graceful stop closes every connection once its writes are answered", "host",
        fmt::format("the server's grace period ({} ms) ran out with no write in flight and {} "
                    "connection(s) it had not begun to close",
                    config_.shutdown_grace_ms, door_.connections_open()));
  }
  if (stopped_event_ != 0) return;
  stopped_event_ = context_.world.schedule_after(0, "host stopped", [this, restart_after_ms] {
    stopped_event_ = 0;
    const std::int64_t began_ms = *stop_began_ms_;
    stop_process("graceful stop");
    context_.events.host_stopped(restart_after_ms, began_ms);
    context_.disturb(context_.world.now_ms() + restart_after_ms);
    schedule_start(restart_after_ms);
  });
}

void Host::power_loss(std::int64_t restart_after_ms) {
  ++context_.stats.power_losses;
  const bool was_up = up();
  if (was_up) stop_process("power loss");
  const std::uint64_t lost = disk_.power_loss();
  context_.events.host_power_loss(lost, was_up, restart_after_ms);
  if (was_up) schedule_start(restart_after_ms);
}

}  // namespace bank_sim
