#pragma once
// A Banker: a client of the bank that runs its interaction plan and checks
// every reply against the model. It walks the server's corners as well as its
// well-lit paths: requests pipelined on one connection (replies checked in
// order), writes with and without idempotency keys, a keyed write sent again
// on a second connection while the first still waits for its sync, hang-ups
// right after a write, slow reading (backpressure), ids just past the highest
// known, amounts written in non-canonical but valid ways, malformed and
// oversized frames. Lost replies are retried with the same key; an unkeyed
// write whose reply is lost is left to the model as "maybe".

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors.hpp"
#include "framed_client.hpp"

namespace bank_sim {

class Banker {
 public:
  Banker(RunContext& context, Host& host, std::uint32_t index, const BankerPlan& plan,
         std::int64_t idle_timeout_ms);
  ~Banker();
  void start();
  // Finish the requests in progress (retrying as needed), then stop.
  void stop_after_current();
  bool finished() const { return finished_; }
  // What it is waiting for, for a report.
  std::string describe_state() const;
  // Where it is in its plan, and what it waits for (for the debugger).
  std::string describe_position() const;
  const std::string& name() const { return name_; }
  std::optional<std::int64_t> first_completion_after_heal_ms() const {
    return first_completion_after_heal_ms_;
  }
  // When each entry of the plan began (world time), or -1 for one that never
  // did: the shrinker replaces entries by sleeps that keep the rest on time.
  const std::vector<std::int64_t>& entry_started_ms() const { return entry_started_ms_; }

 private:
  struct Request {
    Interaction interaction;
    std::vector<std::string> frames;
    std::size_t replies_expected = 1;
    std::string_view prompt;  // The first reply, when two are expected (one of session.hpp's prompts).
    std::string key;          // Sent with the write; empty when it has none.
    std::string model_key;    // How the model knows the write (keyless ones too).
    std::uint64_t id = 0;
    std::size_t replies = 0;  // How many have come (the last is handed to finish_request).
    std::uint64_t generation = 0;
    ClockWindow clock;
    bool clock_opened = false;  // The clock window opens at the first real send.
    std::uint64_t clock_steps_at_send = 0;
    std::uint64_t disk_failures_at_send = 0;
    std::uint64_t host_starts_at_send = 0;  // Which process of the server heard it.
    // Graceful stops begun before it was sent, one in progress not counted:
    // an ERROR "shutting down", or a close without its answer, needs one more.
    std::uint64_t stops_at_send = 0;
    bool sent = false;
    std::int64_t sent_at_ms = 0;
    bool done = false;
    bool awaiting() const { return sent && !done; }  // Sent, and its answer still to come.
    bool closes_connection = false;                  // An oversized frame: the server answers, then closes.
    bool hang_up_armed = false;            // Hang up when the prompt comes: the write is then syncing.
    bool argument_waits = false;           // The argument frame goes out when the prompt comes.
    std::int64_t argument_sent_at_ms = 0;  // When its last frame went out (sent_at_ms unless it waited).
    // Sent on a connection whose sending side this banker had shut: its bytes
    // went nowhere (a real socket fails such a send with EPIPE), so the server
    // cannot have heard it; the banker learns of it when the server closes.
    bool sent_into_shut_side = false;
  };

  class Echo;

  void next();
  void begin_batch(const std::vector<Interaction>& interactions);
  Request build(const Interaction& interaction);
  void build_garbage(Request& request, Garbage garbage);
  void check_garbage_reply(const Request& request, std::string_view reply);
  static std::string amount_text(bank::Money amount, AmountText text);
  void connect();
  void on_closed(bank::CloseReason reason);
  void send_batch();
  void handle_reply(std::string_view reply);
  void finish_request(Request& request, std::string_view reply);
  void check_idle_notice(std::string_view reply);
  void check_idle_close_came();
  std::optional<std::int64_t> idle_heard_by_ms() const;
  bool retry_with_key(Request& request, std::string_view reason);
  void settle();
  void retry_batch(std::string_view reason);
  void arm_watchdog(std::int64_t delay_ms);
  void drop_connection();
  void complete_batch();
  std::uint64_t resolve(const IdPick& pick) const;

  RunContext& context_;
  Host& host_;
  std::uint32_t index_;
  std::string name_;
  const BankerPlan& plan_;
  std::int64_t idle_timeout_ms_;
  SimLogger log_;
  std::size_t next_interaction_ = 0;
  std::uint64_t retries_ = 0;   // Requests this banker sent again (for the debugger).
  std::uint64_t sequence_ = 0;  // Numbers keys and picks the text of amounts.
  std::deque<Request> batch_;   // Requests in flight together, in the order they were sent.
  std::uint32_t attempts_ = 0;
  std::int64_t sent_at_ms_ = 0;
  std::string send_bytes_;  // The batch's frames being sent: reused, so a send allocates nothing once grown.
  std::int64_t last_send_ms_ = 0;   // On the current connection (its connect counts as a send).
  std::int64_t last_reply_ms_ = 0;  // Any frame received, on any connection.
  bool idle_notice_seen_ = false;   // On the current connection.
  FramedClient client_;
  std::vector<std::int64_t> entry_started_ms_;
  std::uint64_t own_acked_high_id_ = 0;  // The highest id this batch's own writes were acknowledged with.
  bool polite_close_sent_ = false;       // On the current connection, behind a write still unanswered.
  sim::MomentRng backoff_rng_;           // This banker's own stream: its retries' jitter.
  std::vector<std::unique_ptr<Echo>> echoes_;
  std::vector<Interaction> next_batch_;  // The interactions next() sends together (kept for its capacity).
  sim::EventId timer_ = 0;
  sim::EventId watchdog_ = 0;
  sim::EventId resume_event_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  std::optional<std::int64_t> first_completion_after_heal_ms_;
};

}  // namespace bank_sim
