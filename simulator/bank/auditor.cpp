// The Auditor: reads the whole ledger once every banker is done, for the model.

#include <fmt/format.h>

#include "actors.hpp"

namespace bank_sim {

Auditor::Auditor(RunContext& context, const Host& host)
    : context_(context),
      host_(host),
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
  // The ledger must stand still while it is read: LIST_TRANSACTIONS and
  // GET_BALANCE are answered one after the other, and a write still syncing
  // (one its banker gave up on) could become durable between them. Every
  // banker is done, so the ledger comes to rest.
  if (host_.writes_in_flight()) {
    retry_later();
    return;
  }
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
