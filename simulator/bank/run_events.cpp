#include "run_events.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sim_logger.hpp"

namespace bank_sim {

std::string frames_text(const std::vector<std::string>& frames) {
  std::string text;
  for (const auto& f : frames) {
    if (!text.empty()) text += " | ";
    if (f.size() > 80) {
      text += fmt::format("<{} bytes>", f.size());
      continue;
    }
    for (char c : f) {
      if (c == '\r') {
        text += "\\r";
      } else if (c == '\n') {
        text += "\\n";
      } else if (c == '\t') {
        text += "\\t";
      } else {
        text += c;
      }
    }
  }
  return text;
}

std::string short_reply(std::string_view reply) {
  const auto newline = reply.find('\n');
  if (newline == std::string_view::npos) return std::string(reply);
  return fmt::format("{} (+{} more lines)", reply.substr(0, newline),
                     std::count(reply.begin(), reply.end(), '\n'));
}

void RunEvents::log(bank::LogLevel level, std::string_view actor, std::string_view message) {
  append_log_line(log_, world_, level, actor, message);
}

void RunEvents::request_sent(const std::string& actor, const std::vector<std::string>& frames_sent,
                             std::uint32_t attempt) {
  if (!logs(bank::LogLevel::debug) && !world_.tracing() && !recorder_) return;  // Formatted only when shown.
  const std::string frames = frames_text(frames_sent);
  if (logs(bank::LogLevel::debug)) {
    log(bank::LogLevel::debug, actor,
        fmt::format("send {}{}", frames, attempt > 0 ? fmt::format(" (attempt {})", attempt + 1) : ""));
  }
  if (world_.tracing()) world_.trace(fmt::format("{} send {}", actor, frames));
  if (recorder_) recorder_->begin_request(actor, frames, world_.now_ms());
}

void RunEvents::reply_received(const std::string& actor, std::string_view reply) {
  const bool log_it = logs(bank::LogLevel::debug);
  if (!log_it && !world_.tracing()) return;  // Every reply passes here: shorten it only when shown.
  const std::string shown = short_reply(reply);
  if (log_it) log(bank::LogLevel::debug, actor, fmt::format("recv {}", shown));
  if (world_.tracing()) world_.trace(fmt::format("{} recv {}", actor, shown));
}

void RunEvents::request_answered(const std::string& actor, std::string_view reply) {
  if (recorder_) recorder_->end_request(actor, short_reply(reply), world_.now_ms());
}

void RunEvents::request_lost(const std::string& actor, std::string_view reason) {
  if (recorder_) recorder_->end_request(actor, fmt::format("lost: {}", reason), world_.now_ms());
}

void RunEvents::story(const std::string& actor, std::string_view what) {
  if (world_.tracing()) world_.trace(fmt::format("{} {}", actor, what));
}

void RunEvents::fault(const Fault& fault) {
  const std::string text = describe_fault(fault);
  if (logs(bank::LogLevel::info)) log(bank::LogLevel::info, "faults", text);
  if (world_.tracing()) world_.trace("fault " + text);
  if (!recorder_) return;
  const std::int64_t now_ms = world_.now_ms();
  // A fault that lasts is a span; a crash, a power loss or a vanished client is a moment.
  if (fault.duration_ms > 0 && fault.op != FaultOp::crash && fault.op != FaultOp::power_loss &&
      fault.op != FaultOp::stop && fault.op != FaultOp::vanish) {
    recorder_->span("faults", describe(fault.op), now_ms, now_ms + fault.duration_ms, text);
  } else {
    recorder_->instant("faults", describe(fault.op), now_ms, text);
  }
}

void RunEvents::heal(std::int64_t liveness_deadline_ms) {
  if (logs(bank::LogLevel::info)) {
    log(bank::LogLevel::info, "faults",
        fmt::format("heal: every fault is over; liveness deadline {} ms", liveness_deadline_ms));
  }
  if (world_.tracing()) world_.trace("heal");
  if (recorder_) recorder_->instant("faults", "heal", world_.now_ms());
}

void RunEvents::host_up(std::uint64_t transactions, std::optional<std::int64_t> down_since_ms) {
  if (world_.tracing()) world_.trace(fmt::format("host up ({} transactions)", transactions));
  if (!recorder_) return;
  const std::int64_t now_ms = world_.now_ms();
  if (down_since_ms) recorder_->span("host", "down (crashed)", *down_since_ms, now_ms);
  recorder_->instant("host", "up", now_ms, fmt::format("{} transactions recovered", transactions));
}

void RunEvents::host_refused_after_corruption() {
  if (world_.tracing()) world_.trace("host refused to start after corruption");
}

void RunEvents::host_crash(std::int64_t restart_after_ms, std::int64_t down_since_ms,
                           std::uint64_t unsynced_bytes) {
  if (logs(bank::LogLevel::info))
    log(bank::LogLevel::info, "host", fmt::format("restart in {} ms", restart_after_ms));
  if (world_.tracing_storage()) {
    world_.trace(fmt::format("host crash (the page cache keeps its {} unsynced bytes: a restart reads them)",
                             unsynced_bytes));
  } else if (world_.tracing()) {
    world_.trace("host crash");
  }
  if (recorder_) recorder_->instant("host", "crash", down_since_ms, "process crash");
}

void RunEvents::host_stop_begins() {
  if (world_.tracing()) world_.trace("host stop begins");
  if (recorder_) recorder_->instant("host", "stop (SIGTERM)", world_.now_ms(), "graceful shutdown begins");
}

void RunEvents::host_stopped(std::int64_t restart_after_ms, std::int64_t began_ms) {
  if (logs(bank::LogLevel::info)) {
    log(bank::LogLevel::info, "host",
        fmt::format("stopped gracefully after {} ms; restart in {} ms", world_.now_ms() - began_ms,
                    restart_after_ms));
  }
  if (world_.tracing()) world_.trace("host stopped");
  if (recorder_) recorder_->span("host", "shutting down", began_ms, world_.now_ms());
}

void RunEvents::host_power_loss(std::uint64_t lost_bytes, bool was_up, std::int64_t restart_after_ms) {
  if (logs(bank::LogLevel::info)) {
    log(bank::LogLevel::info, "host",
        fmt::format("power loss: {} bytes of page cache lost{}", lost_bytes,
                    was_up ? fmt::format("; restart in {} ms", restart_after_ms)
                           : std::string(" (the host was down)")));
  }
  if (world_.tracing()) world_.trace(fmt::format("host power loss lost={}", lost_bytes));
  if (recorder_) {
    recorder_->instant("host", "power loss", world_.now_ms(),
                       fmt::format("{} bytes of page cache lost", lost_bytes));
  }
}

void RunEvents::verdict_failed(const std::string& invariant, std::int64_t at_ms, const std::string& detail) {
  if (recorder_) recorder_->instant("checker", "FAIL: " + invariant, at_ms, detail);
}

void RunEvents::verdict_passed() {
  if (recorder_) recorder_->instant("checker", "PASS", world_.now_ms());
}

}  // namespace bank_sim
