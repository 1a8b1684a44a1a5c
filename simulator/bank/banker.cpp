#include "banker.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "bank/errors.hpp"

namespace bank_sim {

namespace {

// Larger than the server's frame limit (64 KiB by default).
constexpr std::size_t oversized_frame_bytes = 70 * 1024;

// A request's frames, moved in (a braced list would copy each one again: an
// oversized frame is 70 KiB).
template <typename... Frames>
void set_frames(std::vector<std::string>& frames, Frames&&... each) {
  frames.clear();
  frames.reserve(sizeof...(each));
  (frames.emplace_back(std::forward<Frames>(each)), ...);
}
constexpr std::string_view after_close_amount = "0.07";  // The create sent behind a CLOSE.

bool is_write(BankerOp op) {
  return op == BankerOp::create || op == BankerOp::void_;
}

}  // namespace

// A second connection sending a write while the first is in flight. For a
// create, the same keyed request: the server must answer both with one
// transaction. For a void, a rival client voiding the same transaction with its
// own key: one of them applies, the other is refused naming the reversal (which
// must be durable by then) or finds nothing.
class Banker::Echo {
 public:
  Echo(Banker& banker, std::vector<std::string> frames, std::string key, std::uint64_t void_target = 0)
      : banker_(banker),
        frames_(std::move(frames)),
        key_(std::move(key)),
        void_target_(void_target),
        client_(banker.context_.network, banker.name_ + "-echo", bank_port, reply_bytes_max,
                {.connected = [this] { send(); },
                 .connect_failed = [this](const std::string&) { done_ = true; },
                 .frame = [this](std::string_view frame) { return on_reply(frame); },
                 .closed = [this](bank::CloseReason) { done_ = true; },
                 .too_large = {}}) {}

  void start() { client_.connect(bank_node); }
  bool done() const { return done_; }

 private:
  void send() {
    std::string bytes;
    for (const auto& frame : frames_) bank::append_frame(bytes, frame);
    at_request_ms_ = banker_.host_.clock().realtime_ms();
    banker_.context_.model.note_host_clock(at_request_ms_);
    client_.send(bytes);
  }

  bool on_reply(std::string_view frame) {
    if (done_) return false;
    replies_.emplace_back(frame);
    if (replies_.size() < 2) return true;
    // An acknowledgement or a void's refusal says something; other errors
    // leave the outcome unknown.
    const std::string& reply = replies_.back();
    Model& model = banker_.context_.model;
    if (void_target_ != 0 && reply == bank::reply_not_found) {
      model.write_refused(key_);
    } else if (void_target_ != 0 && bank::parse_void_refusal(reply)) {
      model.void_rejected(banker_.name_ + "-rival", key_, void_target_, reply, banker_.host_.durable_count());
    } else if (reply.starts_with("id=")) {
      ClockWindow clock;
      clock.at_request_ms = at_request_ms_;
      clock.at_reply_ms = banker_.host_.clock().realtime_ms();
      clock.stepped = true;  // Its window is not tracked for clock steps: check only the upper bound.
      banker_.context_.model.note_host_clock(clock.at_reply_ms);
      model.write_acked(banker_.name_ + (void_target_ != 0 ? "-rival" : "-echo"), key_, reply, clock);
    }
    done_ = true;
    client_.drop();
    return false;
  }

  Banker& banker_;
  std::vector<std::string> frames_;
  std::string key_;
  std::uint64_t void_target_;  // A rival void's target; 0 for a create's echo.
  FramedClient client_;
  std::vector<std::string> replies_;
  std::int64_t at_request_ms_ = 0;
  bool done_ = false;
};

Banker::Banker(RunContext& context, Host& host, std::uint32_t index, const BankerPlan& plan,
               std::int64_t idle_timeout_ms)
    : context_(context),
      host_(host),
      index_(index),
      name_(fmt::format("banker{}", index)),
      plan_(plan),
      idle_timeout_ms_(idle_timeout_ms),
      log_(context.world, name_, context.log_level, context.log),
      client_(context.network, name_, bank_port, reply_bytes_max,
              {.connected =
                   [this] {
                     // The server counts its accept as this connection's first activity.
                     last_send_ms_ = context_.world.now_ms();
                     idle_notice_seen_ = false;
                     send_batch();
                   },
               .connect_failed = [this](const std::string& why) { retry_batch(why); },
               .frame =
                   [this](std::string_view frame) {
                     handle_reply(frame);
                     return true;  // The client stops by itself if the reply ended the connection.
                   },
               .closed = [this](bank::CloseReason reason) { on_closed(reason); },
               .too_large =
                   [this] {
                     context_.model.fail("protocol", name_, "a reply frame exceeded the client's limit");
                   }}),
      entry_started_ms_(plan.interactions.size(), -1),
      backoff_rng_(context.world.stream_seed(name_ + " backoff"), context.world.salt_source()) {}

Banker::~Banker() {
  for (sim::EventId event : {timer_, watchdog_, resume_event_}) {
    if (event != 0) context_.world.cancel(event);
  }
  client_.drop();
  echoes_.clear();
}

void Banker::start() {
  next();
}

std::string Banker::describe_state() const {
  std::string state = fmt::format("{} request(s) in its batch", batch_.size());
  for (const Request& request : batch_) {
    state += fmt::format(", `{}` {}", frames_text(request.frames),
                         request.done   ? "answered"
                         : request.sent ? fmt::format("sent at +{} ms, unanswered",
                                                      request.sent_at_ms - context_.world.start_ms())
                                        : std::string("not sent"));
  }
  return state + (client_.connected()    ? "; connected"
                  : client_.connecting() ? "; connecting"
                                         : "; not connected");
}

std::string Banker::describe_position() const {
  const std::size_t total = plan_.interactions.size();
  std::string out = fmt::format("{}: plan entry {} of {}", name_, next_interaction_, total);
  if (next_interaction_ < total) {
    out += fmt::format(" (next: {})", describe_interaction(plan_.interactions[next_interaction_]));
  }
  if (retries_ > 0) out += fmt::format(", {} retr{} so far", retries_, retries_ == 1 ? "y" : "ies");
  if (finished_) return out + "; finished";
  return out + "; " + describe_state() + (stopping_ ? "; stopping" : "");
}

void Banker::stop_after_current() {
  stopping_ = true;
  if (batch_.empty() && !finished_) {
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
  entry_started_ms_[next_interaction_] = context_.world.now_ms();
  const Interaction& interaction = plan_.interactions[next_interaction_++];
  if (interaction.op == BankerOp::sleep) {
    timer_ = context_.world.schedule_after(interaction.sleep_ms, "banker sleep", [this] { next(); });
    return;
  }
  std::vector<Interaction>& batch = next_batch_;  // Reused: no allocation per interaction.
  batch.clear();
  if (interaction.op == BankerOp::pipeline) {
    // The next requests of the plan go out together; sleeps between them are skipped.
    std::vector<std::size_t> members;
    const std::size_t end = pipeline_batch_end(plan_.interactions, next_interaction_ - 1, members);
    for (; next_interaction_ < end; ++next_interaction_)
      entry_started_ms_[next_interaction_] = context_.world.now_ms();
    for (const std::size_t member : members) batch.push_back(plan_.interactions[member]);
    if (batch.empty()) {
      timer_ = context_.world.schedule_after(0, "banker next", [this] { next(); });
      return;
    }
  } else {
    batch.push_back(interaction);
  }
  begin_batch(batch);
}

std::uint64_t Banker::resolve(const IdPick& pick) const {
  if (pick.next) return context_.model.highest_known_id() + 1 + pick.pick % 3;
  if (!pick.known) return pick.pick;
  const auto& known = context_.model.known_ids();
  if (known.empty()) return 1;
  return known[pick.pick % known.size()];
}

// Valid ways to write an amount that are not how the server prints it: the
// server must read them as the same number.
std::string Banker::amount_text(bank::Money amount, AmountText text) {
  const std::string canonical = bank::format_money(amount);
  const bool negative = amount.cents < 0;
  const std::string digits = negative ? canonical.substr(1) : canonical;
  switch (text) {
    case AmountText::plus:
      return negative ? canonical : "+" + canonical;
    case AmountText::zeros:
      return (negative ? "-" : "") + std::string("000") + digits;
    case AmountText::shortest:
      if (amount.cents % 100 == 0) return canonical.substr(0, canonical.size() - 3);  // "12" for 12.00.
      if (amount.cents % 10 == 0) return canonical.substr(0, canonical.size() - 1);   // "12.5" for 12.50.
      return canonical;
    case AmountText::spaces:
      return " \t" + canonical + "\r\n";
    case AmountText::canonical:
      return canonical;
  }
  return canonical;
}

Banker::Request Banker::build(const Interaction& interaction) {
  Request request;
  request.interaction = interaction;
  const std::uint64_t sequence = ++sequence_;
  switch (interaction.op) {
    case BankerOp::list:
      set_frames(request.frames, "LIST_TRANSACTIONS");
      break;
    case BankerOp::balance:
      set_frames(request.frames, "GET_BALANCE");
      break;
    case BankerOp::get:
      request.id = resolve(interaction.id);
      set_frames(request.frames, "GET_TRANSACTION", std::to_string(request.id));
      request.prompt = bank::prompt_id;
      break;
    case BankerOp::create:
    case BankerOp::void_: {
      const bool is_create = interaction.op == BankerOp::create;
      if (!interaction.keyless) request.key = fmt::format("b{}-{}", index_, sequence);
      // One keyed create in eight has a key of the longest length allowed
      // (a void's rival adds a letter to its key, so voids keep short ones).
      if (!interaction.keyless && is_create && sequence % 8 == 5) {
        request.key += '-';
        request.key.resize(bank::key_bytes_max, 'k');
      }
      request.model_key = interaction.keyless ? fmt::format("~b{}-{}", index_, sequence) : request.key;
      std::string argument;
      if (is_create) {
        argument = amount_text(interaction.amount, interaction.text);
        context_.model.write_started(request.model_key, WriteKind::create, interaction.amount, 0);
      } else {
        request.id = resolve(interaction.id);
        argument = std::to_string(request.id);
        context_.model.write_started(request.model_key, WriteKind::void_, bank::Money{}, request.id);
      }
      if (!request.key.empty()) {
        // The key goes inside the argument frame, before any trailing whitespace.
        const auto end = argument.find_last_not_of(" \r\n");
        argument.insert(end + 1, " key=" + request.key);
      }
      set_frames(request.frames, is_create ? "CREATE_TRANSACTION" : "VOID_TRANSACTION", std::move(argument));
      request.prompt = is_create ? bank::prompt_amount : bank::prompt_id;
      break;
    }
    case BankerOp::garbage:
      build_garbage(request, interaction.garbage);
      break;
    case BankerOp::sleep:
    case BankerOp::pipeline:
      BANK_ASSERT_MSG(false, "not a request");
  }
  request.replies_expected = request.frames.size();
  return request;
}

// The requests a broken client sends: each one the server must refuse
// without harm, and answer as the protocol says.
void Banker::build_garbage(Request& request, Garbage garbage) {
  switch (garbage) {
    case Garbage::unknown_action:
      set_frames(request.frames, "FROB NICATE");
      break;
    case Garbage::bad_amount:
      set_frames(request.frames, "CREATE_TRANSACTION", "12.345");
      request.prompt = bank::prompt_amount;
      break;
    case Garbage::bad_key:  // Not "key=": the amount's suffix is not a key.
      set_frames(request.frames, "CREATE_TRANSACTION", fmt::format("1.00 kee=b{}", index_));
      request.prompt = bank::prompt_amount;
      break;
    case Garbage::long_key:  // One byte past the longest key allowed.
      set_frames(request.frames, "CREATE_TRANSACTION",
                 "1.00 key=" + std::string(bank::key_bytes_max + 1, 'k'));
      request.prompt = bank::prompt_amount;
      break;
    case Garbage::bad_id:
      set_frames(request.frames, "GET_TRANSACTION", "twelve");
      request.prompt = bank::prompt_id;
      break;
    case Garbage::zero_id:
      set_frames(request.frames, "VOID_TRANSACTION", "0");
      request.prompt = bank::prompt_id;
      break;
    case Garbage::huge_id:
      set_frames(request.frames, "GET_TRANSACTION", std::to_string(bank::id_max + 1));
      request.prompt = bank::prompt_id;
      break;
    case Garbage::oversized:
    case Garbage::unterminated:  // Sent without its NUL (see send_batch).
      set_frames(request.frames, std::string(oversized_frame_bytes, 'x'));
      request.closes_connection = true;
      break;
    case Garbage::exit:
      set_frames(request.frames, "EXIT");
      break;
  }
}

// Malformed input gets one ERROR of the kind docs/PROTOCOL.md gives it
// ("Errors by kind"); the words after the kind are for people, but the input
// a request error names is quoted as it was sent.
void Banker::check_garbage_reply(const Request& request, std::string_view reply) {
  const Garbage garbage = request.interaction.garbage;
  const bank::ErrorKind kind = bank::error_kind(reply);
  const bool oversized = garbage == Garbage::oversized || garbage == Garbage::unterminated;
  const bank::ErrorKind expected = oversized                  ? bank::ErrorKind::frame_too_large
                                   : garbage == Garbage::exit ? bank::ErrorKind::exit_disabled
                                                              : bank::ErrorKind::request;
  if (kind == bank::ErrorKind::none) {
    context_.model.fail("protocol", name_,
                        fmt::format("malformed input {} was answered `{}`, not an ERROR",
                                    frames_text(request.frames), reply));
    return;
  }
  if (kind != expected) {
    context_.model.fail(
        "every error is justified", name_,
        fmt::format("{} was answered `{}`, an error of kind {}; the protocol gives it kind {}{}",
                    frames_text(request.frames), short_reply(reply), bank::error_kind_word(kind),
                    bank::error_kind_word(expected),
                    garbage == Garbage::exit ? " (the server runs without remote exit)" : ""));
    return;
  }
  // The input a request error quotes: the action, the amount or the id.
  std::string_view quoted;
  if (garbage == Garbage::unknown_action) quoted = request.frames.front();
  if (garbage == Garbage::bad_amount || garbage == Garbage::bad_id) quoted = request.frames.back();
  if (!quoted.empty() && reply.find(fmt::format("'{}'", quoted)) == std::string_view::npos) {
    context_.model.fail("every error is justified", name_,
                        fmt::format("{} was answered `{}`, which does not quote the malformed input '{}'",
                                    frames_text(request.frames), short_reply(reply), quoted));
  }
}

void Banker::begin_batch(const std::vector<Interaction>& interactions) {
  BANK_ASSERT(batch_.empty());
  BANK_ASSERT(interactions.size() <= pipeline_requests_max);
  for (const Interaction& interaction : interactions) batch_.push_back(build(interaction));
  attempts_ = 0;
  own_acked_high_id_ = 0;
  send_batch();
}

void Banker::connect() {
  client_.connect(bank_node);
}

void Banker::send_batch() {
  timer_ = 0;
  if (batch_.empty()) return;
  if (!client_.connected()) {
    connect();
    return;
  }
  check_idle_close_came();
  std::string& bytes = send_bytes_;
  bytes.clear();
  std::int64_t slow_read_ms = 0;
  for (Request& request : batch_) {
    if (request.sent || request.done) continue;
    request.sent = true;
    request.sent_at_ms = request.argument_sent_at_ms = context_.world.now_ms();
    request.sent_into_shut_side = client_.sending_shut();
    request.replies = 0;
    request.generation = context_.model.generation();
    request.disk_failures_at_send = host_.disk_failures();
    request.host_starts_at_send = host_.starts();
    request.stops_at_send = host_.stops_begun() - (host_.stopping() ? 1 : 0);
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
    // the original's load generator does; or, for a request sent alone that
    // waits, once the prompt has come (the server owes it at once then).
    request.argument_waits = request.interaction.wait && batch_.size() == 1 && request.frames.size() == 2;
    if (request.argument_waits) {
      bank::append_frame(bytes, request.frames.front());
      context_.events.request_sent(name_, {request.frames.front()}, attempts_);
    } else if (request.interaction.op == BankerOp::garbage &&
               request.interaction.garbage == Garbage::unterminated) {
      bytes += request.frames.front();  // Past the server's frame limit, and no NUL to end it.
      context_.events.request_sent(name_, request.frames, attempts_);
    } else {
      for (const auto& frame : request.frames) bank::append_frame(bytes, frame);
      context_.events.request_sent(name_, request.frames, attempts_);
    }
    slow_read_ms = std::max(slow_read_ms, request.interaction.slow_read_ms);
    request.hang_up_armed = request.interaction.hang_up && attempts_ == 0;
    if (request.interaction.echo && attempts_ == 0) {
      if (request.interaction.op == BankerOp::void_) {
        // The rival's own key, and its own pending write in the model.
        const std::string key = request.key + "r";
        context_.model.write_started(key, WriteKind::void_, bank::Money{}, request.id);
        echoes_.push_back(std::make_unique<Echo>(
            *this, std::vector<std::string>{"VOID_TRANSACTION", fmt::format("{} key={}", request.id, key)},
            key, request.id));
      } else {
        echoes_.push_back(std::make_unique<Echo>(*this, request.frames, request.key));
      }
      echoes_.back()->start();
    }
  }
  if (bytes.empty()) return;
  client_.send(bytes);
  sent_at_ms_ = last_send_ms_ = context_.world.now_ms();
  arm_watchdog(context_.calm_answer_ms);
  if (slow_read_ms > 0 && resume_event_ == 0) {
    // A slow reader: replies pile up on the server's side meanwhile.
    client_.connection()->pause_reading();
    resume_event_ = context_.world.schedule_after(slow_read_ms, "banker resume reading", [this] {
      resume_event_ = 0;
      if (client_.connected()) client_.connection()->resume_reading();
    });
  }
}

// One watchdog per banker, re-armed only when it fires: cheaper than
// scheduling and cancelling a timeout for every request.
void Banker::arm_watchdog(std::int64_t delay_ms) {
  if (watchdog_ != 0) return;
  watchdog_ = context_.world.schedule_after(delay_ms, "banker watchdog", [this] {
    watchdog_ = 0;
    auto waiting = std::find_if(batch_.begin(), batch_.end(), [](const Request& r) { return r.awaiting(); });
    if (waiting == batch_.end()) return;
    const std::int64_t now_ms = context_.world.now_ms();
    const std::int64_t waited_ms = now_ms - waiting->sent_at_ms;
    if (waited_ms >= context_.calm_answer_ms && waiting->sent_at_ms > context_.disturbed_until_ms) {
      // Nothing disturbed the run since it was sent, yet no answer came.
      context_.model.fail(
          "liveness", name_,
          fmt::format("{} sent at +{} ms was not answered within {} ms, although no fault or "
                      "restart happened since",
                      frames_text(waiting->frames), waiting->sent_at_ms - context_.world.start_ms(),
                      context_.calm_answer_ms));
      return;
    }
    if (now_ms - sent_at_ms_ >= context_.liveness_deadline_ms) {
      retry_batch(fmt::format("no reply within {} ms", context_.liveness_deadline_ms));
      return;
    }
    arm_watchdog(std::min(context_.liveness_deadline_ms - (now_ms - sent_at_ms_),
                          std::max<std::int64_t>(1, context_.calm_answer_ms - waited_ms)));
  });
}

void Banker::check_idle_notice(std::string_view reply) {
  // The server may say so only after hearing nothing for its idle timeout,
  // and never while a request it has received is still unanswered. The
  // simulated network tells what the server had heard when it closed.
  if (!client_.connected()) return;
  const auto view = context_.network.peer_close_view(*client_.connection());
  if (!view) return;  // The notice came without a close (yet): nothing to judge by.
  if (view->silence_ms < idle_timeout_ms_) {
    context_.model.fail(
        "every error is justified", name_,
        fmt::format("`{}` came when the server had last heard from this connection {} ms before, "
                    "less than the idle timeout of {} ms",
                    reply, view->silence_ms, idle_timeout_ms_));
    return;
  }
  // Nor much after it (see idle_heard_by_ms).
  const std::int64_t slack_ms = 3 * context_.step_ms;
  if (const auto heard_by_ms = idle_heard_by_ms();
      heard_by_ms && view->closed_at_ms > *heard_by_ms + idle_timeout_ms_ + slack_ms) {
    context_.model.fail("an idle connection is closed after the idle timeout", name_,
                        fmt::format("`{}` came from a close at +{} ms, though the server had read everything "
                                    "this connection sent and answered it all by +{} ms: {} ms past its idle "
                                    "timeout of {} ms",
                                    reply, view->closed_at_ms - context_.world.start_ms(),
                                    *heard_by_ms - context_.world.start_ms(),
                                    view->closed_at_ms - *heard_by_ms - idle_timeout_ms_, idle_timeout_ms_));
    return;
  }
  const std::int64_t closed_at_ms = view->closed_at_ms;
  // A request that waits for its prompt is owed that prompt from when it was
  // sent; once its argument went out, the answer from then.
  const bool unanswered = std::any_of(batch_.begin(), batch_.end(), [closed_at_ms](const Request& r) {
    return r.awaiting() && !r.sent_into_shut_side && r.argument_sent_at_ms < closed_at_ms;
  });
  if (unanswered && view->read_everything) {
    context_.model.fail(
        "every error is justified", name_,
        fmt::format("`{}` came while the server held a request of this connection that it had not "
                    "answered",
                    reply));
  }
}

// When the server last heard from this connection, at the latest, if it
// owes it nothing: every request sent on it was answered, so the server had
// read all its bytes before its last answer left (reading may have been
// paused meanwhile: the bytes' arrival is not when the server read them); or
// nothing was sent and the connect is the last the server heard. From then
// on the server was idle on it (no answer pending, none unsent) and must
// close it once its idle timeout has run out, to within its timers' steps.
std::optional<std::int64_t> Banker::idle_heard_by_ms() const {
  if (std::any_of(batch_.begin(), batch_.end(), [](const Request& r) { return r.awaiting(); }))
    return std::nullopt;
  return std::max(last_send_ms_, last_reply_ms_);
}

// About to send on a connection that has been idle: if it was idle for longer
// than the timeout, the server must have closed it by now (its notice and
// close on their way at most). Checked only when nothing disturbed the run
// since this banker last sent (a partition delays the close's arrival).
void Banker::check_idle_close_came() {
  if (idle_timeout_ms_ <= 0 || idle_notice_seen_ || !client_.connected()) return;
  if (last_send_ms_ <= context_.disturbed_until_ms) return;
  const auto heard_by_ms = idle_heard_by_ms();
  if (!heard_by_ms) return;
  const std::int64_t closed_by_ms =
      *heard_by_ms + idle_timeout_ms_ + 3 * context_.step_ms + context_.latency_ms_max;
  const std::int64_t now_ms = context_.world.now_ms();
  if (now_ms <= closed_by_ms) return;
  context_.model.fail(
      "an idle connection is closed after the idle timeout", name_,
      fmt::format("the server had read everything this connection sent and answered it all by "
                  "+{} ms, yet at +{} ms it had not closed it (its idle timeout is {} ms)",
                  *heard_by_ms - context_.world.start_ms(), now_ms - context_.world.start_ms(),
                  idle_timeout_ms_));
}

void Banker::handle_reply(std::string_view reply) {
  last_reply_ms_ = context_.world.now_ms();
  if (reply.starts_with(bank::notice_too_many_connections)) {
    // Refused at the door, before anything was read: nothing applied. Retry.
    if (log_.enabled(bank::LogLevel::debug)) log_.debug("recv {}", reply);
    retry_batch("refused: too many connections");
    return;
  }
  if (reply.starts_with(bank::notice_idle_timeout)) {
    // The only frame a server may send unasked; the close that follows
    // triggers the retry.
    idle_notice_seen_ = true;
    check_idle_notice(reply);
    return;
  }
  auto it = std::find_if(batch_.begin(), batch_.end(), [](const Request& r) { return r.awaiting(); });
  if (it == batch_.end()) {
    context_.model.fail("protocol", name_,
                        fmt::format("a reply arrived with no request outstanding: `{}`", reply));
    return;
  }
  Request& request = *it;
  context_.events.reply_received(name_, reply);
  ++request.replies;
  if (request.replies == 1 && request.replies_expected == 2 && reply != request.prompt) {
    context_.model.fail("protocol", name_,
                        fmt::format("{} should be answered with the prompt `{}`, got `{}`", request.frames[0],
                                    request.prompt, reply));
    return;
  }
  if (request.argument_waits && request.replies == 1) {
    request.argument_waits = false;
    std::string bytes;
    bank::append_frame(bytes, request.frames.back());
    context_.events.request_sent(name_, {request.frames.back()}, attempts_);
    client_.send(bytes);
    last_send_ms_ = request.argument_sent_at_ms = context_.world.now_ms();
    return;
  }
  if (request.hang_up_armed && request.replies == 1) {
    request.hang_up_armed = false;
    if (!request.interaction.polite) {
      // Gone while the write syncs: its outcome is unknown to us, and the
      // server's answer has nowhere to go.
      context_.events.story(name_, "hangs up while the write syncs");
      retry_batch("hung up while the write syncs");
      return;
    }
    // Or a polite CLOSE while the write syncs, or shutting the sending side (a
    // half-close): the server answers the write first (frames are handled in
    // order), then closes.
    if (request.interaction.shut) {
      context_.events.story(name_, "shuts its sending side while the write syncs");
      client_.shutdown_send();
    } else {
      std::string bytes;
      bank::append_frame(bytes, "CLOSE");
      if (request.interaction.after_close) {
        // Frames after a CLOSE are never handled: this create must get no
        // prompt and no answer, and must never be applied (it is not in the
        // model, so a transaction of its would be one no write explains).
        context_.events.story(name_, "send CLOSE, and a create behind it, while the write syncs");
        bank::append_frame(bytes, "CREATE_TRANSACTION");
        bank::append_frame(bytes, after_close_amount);
      } else {
        context_.events.story(name_, "send CLOSE while the write syncs");
      }
      client_.send(bytes);
    }
    last_send_ms_ = context_.world.now_ms();
    polite_close_sent_ = true;
  }
  if (request.replies == request.replies_expected) finish_request(request, reply);
}

// One case per request kind, each checking its replies against the model
// (over 70 lines on purpose: what a reply must be, for every request, reads
// best side by side).
void Banker::finish_request(Request& request, std::string_view reply) {
  request.clock.at_reply_ms = host_.clock().realtime_ms();
  request.clock.stepped = context_.model.clock_steps() != request.clock_steps_at_send;
  context_.model.note_host_clock(request.clock.at_reply_ms);
  context_.events.request_answered(name_, reply);
  Model& model = context_.model;
  request.done = true;
  if (request.interaction.hang_up) polite_close_sent_ = false;  // The write before the CLOSE is answered.
  // Requests of one connection take effect in order, pipelined or not: a
  // read behind this batch's own acknowledged writes must see them.
  const std::uint64_t own = own_acked_high_id_;
  const auto misses_own_write = [&](std::string_view what) {
    model.fail(
        "requests of one connection take effect in order", name_,
        fmt::format("{} answered `{}`, but transaction {}, written earlier in the same pipelined batch, "
                    "was acknowledged before this reply {}",
                    frames_text(request.frames), short_reply(reply), own, what));
  };
  switch (request.interaction.op) {
    case BankerOp::list:
      if (own > 0 && !reply.starts_with(fmt::format("id={} ", own)) &&
          reply.find(fmt::format("\nid={} ", own)) == std::string::npos) {
        misses_own_write("(and the list lacks it)");
        break;
      }
      model.check_list(name_, reply, request.generation, host_.durable_count());
      break;
    case BankerOp::balance:
      model.check_balance(name_, reply, request.generation, host_.durable_count(), own);
      break;
    case BankerOp::get:
      if (own >= request.id && reply == bank::reply_not_found) {
        misses_own_write("(ids are given in order, so this one existed)");
        break;
      }
      model.check_get(name_, request.id, reply, request.generation, host_.durable_count());
      break;
    case BankerOp::garbage:
      check_garbage_reply(request, reply);
      break;
    case BankerOp::create:
    case BankerOp::void_: {
      const bool is_void = request.interaction.op == BankerOp::void_;
      const auto answered = [&] {
        return fmt::format("{} was answered `{}`", frames_text(request.frames), reply);
      };
      if (reply.starts_with("id=")) {
        // After a failed write the server refuses writes until it restarts
        // (docs/PROTOCOL.md): the process that said so acknowledges none sent
        // after it did.
        if (const auto since = model.writes_disabled_since(request.host_starts_at_send);
            since && *since < request.sent_at_ms) {
          model.fail(
              "writes stay refused after a failed write until a restart", name_,
              fmt::format("{} was answered `{}`, but the same server process had answered a write with "
                          "a disk error or a refusal at +{} ms, before it was sent",
                          frames_text(request.frames), short_reply(reply),
                          *since - context_.world.start_ms()));
          break;
        }
        if (const std::uint64_t acked = model.write_acked(name_, request.model_key, reply, request.clock))
          own_acked_high_id_ = std::max(own_acked_high_id_, acked);
        break;
      }
      const bank::ErrorKind error = bank::error_kind(reply);
      if (error == bank::ErrorKind::disk || error == bank::ErrorKind::writes_disabled) {
        // A disk error needs a disk operation that failed: one after this
        // request was sent for its own outcome, or any earlier one for the
        // refusal that follows it until a restart.
        const bool own_failure = error == bank::ErrorKind::disk;
        model.note_writes_disabled(request.host_starts_at_send, context_.world.now_ms());
        const std::uint64_t failures = host_.disk_failures();
        if (own_failure ? failures == request.disk_failures_at_send : failures == 0) {
          model.fail("every error is justified", name_,
                     fmt::format("{} was answered `{}`, but no disk operation failed {}",
                                 frames_text(request.frames), reply,
                                 own_failure ? "while it was in flight" : "in this run"));
          break;
        }
        // Outcome unknown, or refused until a restart: a keyed write is
        // retried with its key (an earlier attempt may have been recorded).
        if (retry_with_key(request, reply)) return;
        // An unkeyed one was sent once. A disk error leaves it "maybe" in the
        // model; a refusal claims nothing was recorded, and the model holds
        // the server to that: it may never appear.
        if (!own_failure) {
          model.write_refused(request.model_key, "every error is justified", answered());
        }
        break;
      }
      if (error == bank::ErrorKind::shutting_down) {
        // Refused by a server that is stopping: nothing was recorded.
        if (host_.stops_begun() == request.stops_at_send) {
          model.fail("every error is justified", name_,
                     fmt::format("{} was answered `{}`, but no graceful stop began after it was sent",
                                 frames_text(request.frames), reply));
          break;
        }
        // A keyed write may have been recorded by an earlier attempt: retried
        // with its key, as after a disk error; an unkeyed one was sent once.
        if (retry_with_key(request, reply)) return;
        model.write_refused(request.model_key, "every error is justified", answered());
        break;
      }
      if (is_void && reply == bank::reply_not_found) {
        if (own >= request.id) {
          misses_own_write("(ids are given in order, so this one existed)");
          break;
        }
        model.check_not_found(name_, request.id, "VOID_TRANSACTION", request.generation);
        // A retry's refusal settles only this attempt: an earlier one may
        // still sit unread on a connection the server holds open (this side
        // reset or vanished, the server's did not), and apply later, first
        // with its key. The write stays pending, as one whose outcome is unknown.
        if (attempts_ == 0) model.write_refused(request.model_key);
        break;
      }
      // Refused because of what the ledger holds (Model::void_rejected checks which).
      if (is_void && (error == bank::ErrorKind::already_voided || error == bank::ErrorKind::reversal)) {
        model.void_rejected(name_, request.model_key, request.id, reply, host_.durable_count());
        break;
      }
      if (error == bank::ErrorKind::overflow) {
        // With a twin, or an earlier attempt (see above), still in flight the
        // write may yet apply: it stays pending.
        if (!request.interaction.echo && attempts_ == 0) {
          model.overflow_refused(name_, request.model_key,
                                 is_void ? bank::Money{} : request.interaction.amount, reply);
        }
        break;
      }
      model.fail("protocol", name_, answered());
      break;
    }
    case BankerOp::sleep:
    case BankerOp::pipeline:
      BANK_ASSERT_MSG(false, "not a request");
  }
  if (log_.enabled(bank::LogLevel::debug)) {
    log_.debug("done {} -> {}", describe_interaction(request.interaction), short_reply(reply));
  }
  ++context_.stats.interactions_done;
  context_.progress_at_ms = context_.world.now_ms();
  settle();
}

// A keyed write goes again with its key (the whole batch, on a new
// connection); false for an unkeyed one, which is never sent twice.
bool Banker::retry_with_key(Request& request, std::string_view reason) {
  if (request.key.empty()) return false;
  request.done = false;
  request.sent = false;
  retry_batch(reason);
  return true;
}

// Drops the answered requests at the front; when none is left the batch is done.
void Banker::settle() {
  while (!batch_.empty() && batch_.front().done) batch_.pop_front();
  if (!batch_.empty()) return;
  complete_batch();
}

void Banker::complete_batch() {
  const std::int64_t now_ms = context_.world.now_ms();
  if (context_.healed_at_ms && !first_completion_after_heal_ms_ && now_ms >= *context_.healed_at_ms) {
    first_completion_after_heal_ms_ = now_ms;
  }
  if (timer_ != 0) context_.world.cancel(timer_);
  timer_ = context_.world.schedule_after(0, "banker next", [this] { next(); });
}

void Banker::drop_connection() {
  client_.drop();
  if (resume_event_ != 0) context_.world.cancel(resume_event_);
  resume_event_ = 0;
}

void Banker::retry_batch(std::string_view reason_view) {
  const std::string reason(reason_view);  // It may point into a reply that is cleared below.
  context_.events.request_lost(name_, reason);
  drop_connection();
  for (Request& request : batch_) {
    if (request.done || !request.sent) continue;
    request.sent = false;
    request.replies = 0;
    if (request.closes_connection) {
      request.done = true;  // The close (or a reset) was its answer.
    } else if (is_write(request.interaction.op) && request.key.empty()) {
      // An unkeyed write cannot be retried safely: its outcome stays unknown.
      request.done = true;
      if (log_.enabled(bank::LogLevel::debug)) {
        log_.debug("gave up on {}: {}", describe_interaction(request.interaction), reason);
      }
    }
  }
  while (!batch_.empty() && batch_.front().done) batch_.pop_front();
  if (batch_.empty()) {
    complete_batch();
    return;
  }
  ++attempts_;
  ++context_.stats.retries;
  ++retries_;
  // Exponential backoff with jitter, capped; at least one step.
  const std::int64_t base_ms = std::min<std::int64_t>(2'000, 10LL << std::min<std::uint32_t>(attempts_, 8));
  const std::int64_t delay_ms = base_ms / 2 + backoff_rng_.at(context_.world.now_ms()).range(0, base_ms / 2);
  if (log_.enabled(bank::LogLevel::debug))
    log_.debug("retry {} request(s) in {} ms: {}", batch_.size(), delay_ms, reason);
  if (timer_ != 0) context_.world.cancel(timer_);
  timer_ = context_.world.schedule_after(delay_ms, "banker retry", [this] { send_batch(); });
}

void Banker::on_closed(bank::CloseReason reason) {
  const bool waiting =
      std::any_of(batch_.begin(), batch_.end(), [](const Request& r) { return r.awaiting(); });
  const bool closed_after_close = polite_close_sent_ && reason == bank::CloseReason::peer_closed;
  polite_close_sent_ = false;
  // A server stopping gracefully stops reading: what it had not read yet,
  // the CLOSE among it, goes unanswered.
  const bool stop_since = std::any_of(batch_.begin(), batch_.end(), [this](const Request& r) {
    return r.awaiting() && r.stops_at_send != host_.stops_begun();
  });
  if (closed_after_close && waiting && !stop_since) {
    // Frames are handled in order: the write before the CLOSE (or the
    // half-close) is answered before the connection closes (a crash resets it instead).
    context_.model.fail(
        "protocol", name_,
        "the server closed the connection after CLOSE (or a half-close) without answering the "
        "write sent before it");
    return;
  }
  if (waiting && reason == bank::CloseReason::peer_closed && host_.stopping()) {
    // A stopping server answers every write it has read, or never applies
    // it. It closed this connection having read all of it (so no reset took
    // replies in flight): a write still unanswered here was read and must
    // never appear. An unkeyed one is held to that; a keyed one is retried
    // with its key, as an earlier attempt may have been recorded.
    const bank::Connection* closed = client_.closed_connection();
    const auto view = closed == nullptr ? std::nullopt : context_.network.peer_close_view(*closed);
    if (view && view->read_everything) {
      for (const Request& request : batch_) {
        const bool is_write =
            request.interaction.op == BankerOp::create || request.interaction.op == BankerOp::void_;
        if (request.awaiting() && is_write && request.key.empty()) {
          context_.model.write_refused(
              request.model_key, "a graceful stop answers every write it read, or never applies it",
              fmt::format("{} went unanswered: the server, stopping gracefully, closed the connection at "
                          "+{} ms having read everything sent on it",
                          frames_text(request.frames), view->closed_at_ms - context_.world.start_ms()));
        }
      }
    }
  }
  if (waiting) retry_batch(fmt::format("connection {}", bank::describe(reason)));
}

}  // namespace bank_sim
