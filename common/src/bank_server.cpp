#include "bank/bank_server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "bank/coverage.hpp"
#include "bank/errors.hpp"

namespace bank {

class BankServer::Client final : public ConnectionHandler {
 public:
  Client(BankServer& server, std::uint64_t id, std::unique_ptr<Connection> connection,
         std::size_t frame_bytes_max, bool refused)
      : server_(server),
        id_(id),
        connection_(std::move(connection)),
        decoder_(frame_bytes_max),
        refused_(refused),
        peer_(connection_->peer_name()) {}

  void on_data(std::string_view bytes) override { server_.on_client_data(*this, bytes); }
  void on_sent() override {
    if (!refused_) server_.pump(*this);
  }
  void on_input_ended() override {
    input_ended_ = true;
    if (!refused_) server_.pump(*this);
  }
  void on_closed(CloseReason reason) override {
    // Destroys *this: nothing may follow.
    server_.on_client_closed(id_, reason);
  }

  BankServer& server_;
  const std::uint64_t id_;
  std::unique_ptr<Connection> connection_;
  FrameDecoder decoder_;
  Session session_;
  const bool refused_;  // Over the connection limit: told so and being closed.
  const std::string peer_;
  // Answers in request order; the first is always one still waiting for a
  // sync, or an amount prompt held for its answer (ready ones at the front
  // leave at once).
  struct Slot {
    bool ready = false;
    bool close = false;  // Close the connection here (after a CLOSE, or an oversized frame).
    // An amount prompt whose answer had already arrived: it leaves with that
    // answer's reply, in the same write (see BankServer::reply_prompt).
    bool with_next = false;
    std::string payload;
  };
  std::deque<Slot> replies_;
  std::uint64_t first_slot_ = 0;  // The slot number of replies_.front().
  std::size_t replies_held_bytes_ = 0;
  bool close_requested_ = false;  // Nothing more is read; closed once the replies before it are sent.
  // The client shut its sending side: once the frames it sent are handled,
  // it is closed as after a CLOSE (its replies go out first).
  bool input_ended_ = false;
  // A read or a void that arrived behind this connection's own writes still
  // syncing: it runs once they are durable, so that it sees them (requests of
  // one connection take effect in order, pipelined or not). Creates do not
  // wait: they join the next group commit.
  std::optional<SessionAction> deferred_;
  bool busy() const { return !replies_.empty() || deferred_.has_value(); }
  bool closing_ = false;
  bool reading_paused_ = false;
  std::int64_t last_activity_ms_ = 0;
  TimerId idle_timer_ = 0;
};

Result<std::unique_ptr<BankServer>> BankServer::start(BankEnvironment environment, BankServerConfig config) {
  BANK_ASSERT(config.frame_bytes_max > 0);
  BANK_ASSERT(config.connections_max > 0);
  Ledger ledger;
  auto journal = Journal::open(environment.disk, config.journal_file, environment.log, ledger);
  if (!journal) return journal.error();
  std::unique_ptr<BankServer> server(
      new BankServer(environment, std::move(config), std::move(*journal), std::move(ledger)));
  BankServer* raw = server.get();
  auto listener = environment.network.listen(
      raw->config_.address, raw->config_.port,
      [raw](std::unique_ptr<Connection> connection) { raw->on_accept(std::move(connection)); });
  if (!listener) {
    return Error{fmt::format("cannot listen on {}:{}: {}", raw->config_.address, raw->config_.port,
                             listener.error().message)};
  }
  server->listener_ = std::move(*listener);
  server->port_ = server->listener_->port();
  environment.log.info("listening on {}:{} ({} transactions, balance {})", server->config_.address,
                       server->port_, server->ledger_.durable_count(),
                       format_money(server->ledger_.balance()));
  return server;
}

BankServer::BankServer(BankEnvironment environment, BankServerConfig config, Journal journal, Ledger ledger)
    : env_(environment),
      config_(std::move(config)),
      journal_(std::move(journal)),
      ledger_(std::move(ledger)) {}

BankServer::~BankServer() {
  // Timers are not owned by an object that dies with us, so cancel them here.
  for (auto& [id, client] : clients_) {
    if (client->idle_timer_ != 0) env_.timers.cancel_timer(client->idle_timer_);
  }
  if (shutdown_timer_ != 0) env_.timers.cancel_timer(shutdown_timer_);
  if (hold_timer_ != 0) env_.timers.cancel_timer(hold_timer_);
}

std::int64_t BankServer::now_s() const {
  const std::int64_t now_ms = env_.clock.realtime_ms();
  // Floor division: a clock before the epoch still rounds down.
  return now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
}

void BankServer::on_accept(std::unique_ptr<Connection> connection) {
  const std::uint64_t id = client_id_next_++;
  const bool refused = shutting_down_ || clients_.size() - clients_refused_open_ >= config_.connections_max;
  if (refused) {
    ++stats_.connections_refused;
    // Refused connections are told why, then closed. Past a bound, they are
    // dropped without a word so that a flood cannot pin memory.
    if (clients_refused_open_ >= config_.connections_max) return;
    ++clients_refused_open_;
  } else {
    ++stats_.connections_accepted;
  }
  auto client = std::make_unique<Client>(*this, id, std::move(connection), config_.frame_bytes_max, refused);
  Client& ref = *client;
  clients_.emplace(id, std::move(client));
  ref.connection_->start(&ref);
  if (refused) {
    if (!shutting_down_) mark(Mark::connection_refused_at_limit);
    env_.log.warn("refused connection from {}: {}", ref.peer_,
                  shutting_down_ ? "shutting down" : "connection limit reached");
    send_frame(ref, shutting_down_ ? error_reply(error_text::shutting_down())
                                   : fmt::format("{} (the limit is {}); try again later",
                                                 notice_too_many_connections, config_.connections_max));
    close_client(ref);
    return;
  }
  env_.log.debug("connection {} from {}", id, ref.peer_);
  ref.last_activity_ms_ = env_.clock.monotonic_ms();
  arm_idle_timer(ref, config_.idle_timeout_ms);
}

void BankServer::on_client_data(Client& client, std::string_view bytes) {
  if (client.refused_ || client.closing_ || client.close_requested_) {
    awaited_.erase(client.id_);
    return;  // Nothing more is read from it.
  }
  client.last_activity_ms_ = env_.clock.monotonic_ms();
  client.decoder_.feed(bytes);
  pump(client);
  // Back once what it sent ends with a whole request: a create's first frame
  // alone, or half a frame, is not yet the write the next batch waits for.
  if (!client.session_.awaiting_argument() && client.decoder_.buffered_bytes() == 0)
    awaited_.erase(client.id_);
  if (hold_timer_ != 0) maybe_flush();  // The last client awaited may have sent a read.
}

void BankServer::on_client_closed(std::uint64_t client_id, CloseReason reason) {
  auto it = clients_.find(client_id);
  BANK_ASSERT(it != clients_.end());
  Client& client = *it->second;
  env_.log.debug("connection {} from {} ended: {}", client_id, client.peer_, describe(reason));
  if (client.idle_timer_ != 0) env_.timers.cancel_timer(client.idle_timer_);
  if (client.refused_) {
    BANK_ASSERT(clients_refused_open_ > 0);
    --clients_refused_open_;
  }
  // Waiters for this client stay: their records are still made durable; only
  // the reply has nowhere to go.
  clients_.erase(it);
  awaited_.erase(client_id);
  if (hold_timer_ != 0) maybe_flush();
  if (shutting_down_) maybe_finish_shutdown();
}

void BankServer::pump(Client& client) {
  const std::uint64_t client_id = client.id_;
  if (client.deferred_ && client.replies_.empty() && !client.closing_) {
    SessionAction action = std::move(*client.deferred_);
    client.deferred_.reset();
    perform(client, std::move(action));
  }
  while (!client.closing_ && !client.close_requested_ && !client.deferred_ && !shutting_down_ &&
         client.replies_.size() < config_.requests_in_flight_max &&
         client.connection_->send_queued_bytes() + client.replies_held_bytes_ <
             config_.send_queue_bytes_max) {
    const FrameDecoder::Next next = client.decoder_.next();
    if (next.status == FrameDecoder::Status::need_more) {
      if (client.input_ended_) {
        mark(Mark::input_ended_closes_after_replies);
        env_.log.debug("connection {} from {}: input ended", client_id, client.peer_);
        close_after_replies(client);
        return;
      }
      break;
    }
    if (next.status == FrameDecoder::Status::too_large) {
      mark(Mark::frame_too_large);
      env_.log.warn("connection {} from {}: frame larger than {} bytes; closing", client_id, client.peer_,
                    config_.frame_bytes_max);
      reply(client, error_reply(error_text::frame_too_large(config_.frame_bytes_max)));
      close_after_replies(client);
      return;
    }
    ++stats_.requests;
    handle_frame(client, next.frame);
  }
  // A prompt that stopped the loop at the limit of requests in flight leaves
  // alone, and the answer behind it is handled now: nothing else would wake
  // this connection up before its idle timer, as it has sent all it will.
  if (release_held_prompt(client) && !client.closing_ && client.decoder_.buffered_bytes() > 0) {
    pump(client);
    return;
  }
  update_reading(client);
}

bool BankServer::release_held_prompt(Client& client) {
  // A prompt held for an answer that was not handled after all (not all of it
  // had arrived, or reading stopped first) leaves now.
  if (client.replies_.size() == 1 && client.replies_.front().with_next) {
    client.replies_.front().with_next = false;
    send_ready_replies(client);
    return true;
  }
  return false;
}

void BankServer::update_reading(Client& client) {
  if (client.closing_) return;
  // Read only while frames can be handled: this bounds what one connection can
  // make us hold to one read's worth of input and one frame's worth of replies.
  const bool backpressure =
      client.connection_->send_queued_bytes() + client.replies_held_bytes_ >= config_.send_queue_bytes_max;
  const bool should_pause = client.close_requested_ || client.deferred_ || shutting_down_ || backpressure ||
                            client.replies_.size() >= config_.requests_in_flight_max;
  if (should_pause && !client.reading_paused_) {
    if (backpressure) mark(Mark::reading_paused_for_backpressure);
    client.reading_paused_ = true;
    client.connection_->pause_reading();
  } else if (!should_pause && client.reading_paused_) {
    client.reading_paused_ = false;
    client.connection_->resume_reading();
  }
}

void BankServer::send_frame(Client& client, std::string_view payload) {
  client.connection_->send(payload, frame_terminator);
}

void BankServer::reply(Client& client, std::string_view payload) {
  if (client.replies_.empty()) {
    send_frame(client, payload);
    return;
  }
  client.replies_held_bytes_ += payload.size();
  client.replies_.push_back(Client::Slot{true, false, false, std::string(payload)});
  send_ready_replies(client);  // The first may be a prompt held for this answer.
}

void BankServer::reply_prompt(Client& client, std::string_view prompt) {
  // A client that pipelines sent the amount without waiting for the prompt:
  // the prompt then goes out with the amount's reply (after its sync), not in
  // a write of its own. A client that waits for the prompt has sent nothing
  // more, so it gets it at once.
  if (!client.replies_.empty() || client.decoder_.buffered_bytes() == 0) {
    reply(client, prompt);
    return;
  }
  mark(Mark::prompt_held_for_answer);
  client.replies_held_bytes_ += prompt.size();
  client.replies_.push_back(Client::Slot{true, false, true, std::string(prompt)});
}

std::uint64_t BankServer::hold_reply(Client& client) {
  client.replies_.push_back(Client::Slot{});
  return client.first_slot_ + client.replies_.size() - 1;
}

void BankServer::fill_reply(Client& client, std::uint64_t slot, std::string payload) {
  BANK_ASSERT(slot >= client.first_slot_ && slot - client.first_slot_ < client.replies_.size());
  Client::Slot& held = client.replies_[slot - client.first_slot_];
  BANK_ASSERT(!held.ready);
  held.ready = true;
  client.replies_held_bytes_ += payload.size();
  held.payload = std::move(payload);
  send_ready_replies(client);
}

void BankServer::send_ready_replies(Client& client) {
  while (!client.replies_.empty() && client.replies_.front().ready) {
    if (client.replies_.front().with_next && (client.replies_.size() == 1 || !client.replies_[1].ready))
      return;
    Client::Slot slot = std::move(client.replies_.front());
    client.replies_.pop_front();
    ++client.first_slot_;
    client.replies_held_bytes_ -= slot.payload.size();
    if (slot.close) {
      close_client(client);
      continue;
    }
    if (!client.closing_) send_frame(client, slot.payload);
  }
}

void BankServer::close_after_replies(Client& client) {
  client.close_requested_ = true;
  if (client.replies_.empty()) {
    close_client(client);
    return;
  }
  client.replies_.push_back(Client::Slot{true, true, false, {}});
  send_ready_replies(client);
}

void BankServer::close_client(Client& client) {
  if (client.closing_) return;
  client.closing_ = true;
  client.connection_->close();
}

void BankServer::handle_frame(Client& client, std::string_view frame) {
  using Kind = SessionAction::Kind;
  SessionAction action = client.session_.handle_frame(frame);
  const bool reads_the_ledger = action.kind == Kind::list || action.kind == Kind::balance ||
                                action.kind == Kind::get || action.kind == Kind::void_;
  if (reads_the_ledger && !client.replies_.empty()) {
    mark(Mark::request_waits_for_own_write);
    client.deferred_ = std::move(action);
    return;
  }
  perform(client, std::move(action));
}

void BankServer::perform(Client& client, SessionAction action) {
  using Kind = SessionAction::Kind;
  switch (action.kind) {
    case Kind::reply:
      if (action.reply == prompt_amount) {
        reply_prompt(client, action.reply);
        return;
      }
      reply(client, action.reply);
      return;
    // Reads answer from durable state as it is now; behind a write of this
    // connection still syncing, the answer waits for that write's.
    case Kind::list:
      ++stats_.ledger_replies;
      reply(client, ledger_.list_text());
      return;
    case Kind::balance:
      ++stats_.ledger_replies;
      reply(client, "$" + format_money(ledger_.balance()));
      return;
    case Kind::get: {
      ++stats_.ledger_replies;
      const Transaction* transaction = ledger_.get(action.id);
      reply(client, transaction != nullptr ? format_transaction(*transaction) : std::string(reply_not_found));
      return;
    }
    case Kind::create:
    case Kind::void_:
      handle_write(client, action);
      return;
    case Kind::close:
      env_.log.debug("connection {} from {}: CLOSE", client.id_, client.peer_);
      close_after_replies(client);
      return;
    case Kind::exit:
      if (!config_.allow_remote_exit || !on_exit_requested_) {
        reply(client, error_reply(error_text::exit_disabled()));
        return;
      }
      env_.log.warn("EXIT from connection {} ({}): shutting down", client.id_, client.peer_);
      on_exit_requested_();
      return;
  }
  BANK_ASSERT_MSG(false, "unhandled session action");
}

void BankServer::handle_write(Client& client, const SessionAction& action) {
  if (shutting_down_) {
    reply(client, error_reply(error_text::shutting_down_nothing_recorded()));
    return;
  }
  if (writes_disabled_) {
    mark(Mark::write_refused_writes_disabled);
    reply(client, error_reply(error_text::writes_disabled()));
    return;
  }
  const bool is_create = action.kind == SessionAction::Kind::create;
  auto staged = is_create ? ledger_.stage_create(action.amount, now_s(), action.key)
                          : ledger_.stage_void(action.id, now_s(), action.key);
  if (!staged) {
    mark(Mark::write_refused_by_rules);
    if (ledger_.staged_last_id() > ledger_.durable_count()) {
      mark(Mark::refusal_waits_for_sync);
      // The refusal may rest on writes not yet durable ("already voided by"
      // a reversal still syncing): it waits for them, so that it never
      // reveals a write that a crash could still take back.
      waiters_.push_back(Waiter{client.id_, ledger_.staged_last_id(), error_reply(staged.error().message),
                                hold_reply(client)});
      return;
    }
    reply(client, error_reply(staged.error().message));
    return;
  }
  if (staged->id == 0) {
    reply(client, reply_not_found);
    return;
  }
  if (ledger_.is_durable(staged->id)) {
    // A retry whose key was recorded before: answer with that transaction.
    BANK_ASSERT(staged->replayed_by_key);
    ++stats_.ledger_replies;
    reply(client, format_transaction(*ledger_.get(staged->id)));
    return;
  }
  if (staged->replayed_by_key) mark(Mark::key_replayed_while_syncing);
  if (!staged->replayed_by_key) {
    ++stats_.writes_staged;
    encode_record(batch_, *ledger_.get_any(staged->id));
  }
  if (!client.replies_.empty()) mark(Mark::write_pipelined);
  waiters_.push_back(Waiter{client.id_, staged->id, {}, hold_reply(client)});
  maybe_flush();
}

// Group commit: a batch goes to the disk when no sync is in flight, and once
// every client the last sync answered has been heard from again (or has gone),
// or the config's group_commit_hold_ms has passed. Without the wait, the clients split into
// two cohorts that take turns: those answered by one sync send their next
// writes while the other cohort's sync is in flight, so each sync carries half
// of them (16 clients, one create in flight each: 5,000 syncs for 40,000
// creates; 2,500 with the wait, at 1.6 times the rate). A lone client waits for
// nobody: it is heard from with its next write.
void BankServer::maybe_flush() {
  if (flush_in_flight_ || batch_.empty() || writes_disabled_) return;
  if (!awaited_.empty() && config_.group_commit_hold_ms > 0 && !shutting_down_) {
    if (hold_timer_ == 0) {
      mark(Mark::group_commit_held);
      hold_timer_ = env_.timers.start_timer(config_.group_commit_hold_ms, [this] {
        hold_timer_ = 0;
        mark(Mark::group_commit_hold_expired);
        // A client that has gone is never waited for.
        for (const std::uint64_t id : awaited_) BANK_ASSERT(clients_.contains(id));
        awaited_.clear();
        maybe_flush();
      });
    }
    return;
  }
  if (hold_timer_ != 0) {
    env_.timers.cancel_timer(hold_timer_);
    hold_timer_ = 0;
  }
  flush_in_flight_ = true;
  ++stats_.syncs;
  const std::uint64_t through_id = ledger_.staged_last_id();
  std::string bytes;
  bytes.swap(batch_);
  // The sync is issued right behind the append (a file completes operations in
  // issue order), so the disk does both without a round trip through the loop.
  journal_.append(std::move(bytes), [this](IoStatus status) {
    if (!status.ok()) return on_disk_failure("append", status);
  });
  journal_.sync([this, through_id](IoStatus status) {
    if (writes_disabled_) return discard_failed_writes();  // The append failed: every waiter has its answer.
    if (!status.ok()) {
      discard_failed_writes();
      return on_disk_failure("sync", status);
    }
    on_durable(through_id);
  });
}

void BankServer::on_durable(std::uint64_t through_id) {
  BANK_ASSERT(flush_in_flight_);
  ledger_.mark_durable(through_id);
  flush_in_flight_ = false;
  std::vector<Waiter> ready;
  auto split = std::stable_partition(waiters_.begin(), waiters_.end(),
                                     [through_id](const Waiter& w) { return w.transaction_id > through_id; });
  ready.assign(split, waiters_.end());
  waiters_.erase(split, waiters_.end());
  // The clients answered now will be back with their next requests: the next
  // batch waits for them (maybe_flush), and starts before the answers go out
  // if it need not.
  for (const Waiter& waiter : ready) {
    auto it = clients_.find(waiter.client_id);
    if (it == clients_.end()) continue;
    const Client& client = *it->second;
    if (!client.refused_ && !client.closing_ && !client.close_requested_) awaited_.insert(client.id_);
  }
  maybe_flush();
  if (ready.size() > 1) mark(Mark::group_commit_shared);
  for (const Waiter& waiter : ready) {
    auto it = clients_.find(waiter.client_id);
    if (it == clients_.end()) {
      mark(Mark::reply_to_gone_client);
      continue;
    }
    Client& client = *it->second;
    ++stats_.ledger_replies;
    fill_reply(
        client, waiter.reply_slot,
        waiter.refusal.empty() ? format_transaction(*ledger_.get(waiter.transaction_id)) : waiter.refusal);
  }
  for (const Waiter& waiter : ready) {
    auto it = clients_.find(waiter.client_id);
    if (it != clients_.end()) pump(*it->second);
  }
  if (shutting_down_) maybe_finish_shutdown();
}

void BankServer::on_disk_failure(std::string_view operation, IoStatus status) {
  mark(Mark::disk_failure);
  ++stats_.disk_failures;
  writes_disabled_ = true;
  flush_in_flight_ = false;
  batch_.clear();
  ledger_.discard_staged();
  // A rollback is rare and easy to get subtly wrong (keys and void marks of
  // the discarded writes must go too): check everything, O(n), here.
  ledger_.check_invariants();
  env_.log.error(
      "journal {}: {} failed: {}; {} write(s) answered with ERROR, outcome unknown; refusing writes "
      "until restart, still serving reads",
      journal_.file_name(), operation, describe(status), waiters_.size());
  std::vector<Waiter> failed;
  failed.swap(waiters_);
  const std::string unknown_outcome = error_reply(error_text::disk_failed(operation, describe(status)));
  for (const Waiter& waiter : failed) {
    auto it = clients_.find(waiter.client_id);
    if (it == clients_.end()) continue;
    fill_reply(*it->second, waiter.reply_slot, unknown_outcome);
  }
  for (const Waiter& waiter : failed) {
    auto it = clients_.find(waiter.client_id);
    if (it != clients_.end()) pump(*it->second);
  }
  if (shutting_down_) maybe_finish_shutdown();
}

void BankServer::discard_failed_writes() {
  const IoStatus status = journal_.discard_unsynced();
  if (!status.ok()) {
    env_.log.error(
        "journal {}: cannot cut what a failed write left past offset {}: {}; it may reappear after a "
        "restart",
        journal_.file_name(), journal_.durable_bytes(), describe(status));
    return;
  }
  mark(Mark::failed_write_cut_back);
  env_.log.warn("journal {}: cut back to offset {}, the end of the last successful sync",
                journal_.file_name(), journal_.durable_bytes());
}

void BankServer::arm_idle_timer(Client& client, std::int64_t delay_ms) {
  if (config_.idle_timeout_ms <= 0) return;
  const std::uint64_t client_id = client.id_;
  client.idle_timer_ = env_.timers.start_timer(delay_ms, [this, client_id] { on_idle_timer(client_id); });
}

void BankServer::on_idle_timer(std::uint64_t client_id) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return;
  Client& client = *it->second;
  client.idle_timer_ = 0;
  if (client.closing_) return;
  const std::int64_t idle_ms = env_.clock.monotonic_ms() - client.last_activity_ms_;
  if (client.busy() || client.reading_paused_ || idle_ms < config_.idle_timeout_ms) {
    // Not idle, or not by its own doing (a write syncing, reading paused):
    // look again when it could be, and never spin while it stays busy.
    const bool busy = idle_ms >= config_.idle_timeout_ms;
    if (busy) mark(Mark::idle_check_deferred);
    arm_idle_timer(client, busy ? config_.idle_timeout_ms : config_.idle_timeout_ms - idle_ms);
    return;
  }
  mark(Mark::idle_close);
  env_.log.info("connection {} from {}: idle for {} ms; closing", client_id, client.peer_, idle_ms);
  send_frame(client, fmt::format("{}: nothing received for {} s; closing", notice_idle_timeout,
                                 config_.idle_timeout_ms / 1000));
  close_client(client);
}

void BankServer::shutdown(std::function<void()> on_done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  on_shutdown_done_ = std::move(on_done);
  listener_.reset();
  env_.log.info("shutting down: {} connection(s), {} write(s) in flight", clients_.size(), waiters_.size());
  shutdown_timer_ = env_.timers.start_timer(config_.shutdown_grace_ms, [this] {
    shutdown_timer_ = 0;
    env_.log.warn("shutdown: {} connection(s) did not close within {} ms; giving up on them", clients_.size(),
                  config_.shutdown_grace_ms);
    if (auto done = std::move(on_shutdown_done_)) {
      on_shutdown_done_ = nullptr;
      done();
    }
  });
  for (auto& [id, client] : clients_) update_reading(*client);
  maybe_flush();  // A batch held for answered clients goes now: nothing more is read.
  maybe_finish_shutdown();
}

void BankServer::maybe_finish_shutdown() {
  BANK_ASSERT(shutting_down_);
  if (flush_in_flight_ || !waiters_.empty()) return;  // Writes in flight get their answers first.
  std::vector<Client*> open;
  for (auto& [id, client] : clients_) open.push_back(client.get());
  for (Client* client : open) close_client(*client);
  if (!clients_.empty() || !on_shutdown_done_) return;
  if (shutdown_timer_ != 0) {
    env_.timers.cancel_timer(shutdown_timer_);
    shutdown_timer_ = 0;
  }
  env_.log.info("shutdown complete: {} transactions durable, balance {}", ledger_.durable_count(),
                format_money(ledger_.balance()));
  auto done = std::move(on_shutdown_done_);
  on_shutdown_done_ = nullptr;
  done();
}

}  // namespace bank
