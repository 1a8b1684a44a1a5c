// The HealthChecker: HEALTH every interval, a new connection when one goes unanswered.

#include <fmt/format.h>

#include "actors.hpp"

namespace bank_sim {

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

}  // namespace bank_sim
