#pragma once
// What happens in one run, said once. An actor reports an event here and the
// sink sends it to every channel that wants it: the run's log (when the
// event's level is on), the story (the world's trace, kept for a failure's
// report and the debugger) and the timeline (when the run is recorded for
// Perfetto). No actor tests a channel itself. The determinism hash is not a
// channel: the world folds every event it runs into it, always.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bank/log.hpp"
#include "plan.hpp"
#include "sim/world.hpp"
#include "trace_json.hpp"

namespace bank_sim {

// A reply as the story shows it: a LIST's size and first line, not its all.
std::string short_reply(std::string_view reply);
// Frames as one line: long ones by their size, control characters escaped.
std::string frames_text(const std::vector<std::string>& frames);

class RunEvents {
 public:
  RunEvents(sim::World& world, bank::LogLevel level, std::string& log)
      : world_(world), level_(level), log_(log) {}
  // Records a timeline from now on (json() has it).
  void record_timeline(std::int64_t epoch_ms) { recorder_ = std::make_unique<TraceRecorder>(epoch_ms); }
  std::optional<std::string> timeline_json() const {
    return recorder_ ? std::optional<std::string>(recorder_->json()) : std::nullopt;
  }

  // A banker's request went out (these frames), on attempt `attempt` (0: the first).
  void request_sent(const std::string& actor, const std::vector<std::string>& frames, std::uint32_t attempt);
  // A reply reached a banker.
  void reply_received(const std::string& actor, std::string_view reply);
  // The request ended: answered with reply, or lost for reason (to be retried or given up).
  void request_answered(const std::string& actor, std::string_view reply);
  void request_lost(const std::string& actor, std::string_view reason);
  // A step of the story with no other channel (a banker hanging up mid-write).
  void story(const std::string& actor, std::string_view what);
  void fault(const Fault& fault);
  void heal(std::int64_t liveness_deadline_ms);
  void host_up(std::uint64_t transactions, std::optional<std::int64_t> down_since_ms);
  void host_refused_after_corruption();
  // unsynced_bytes: what the page cache still holds unwritten (a restart reads it back).
  void host_crash(std::int64_t restart_after_ms, std::int64_t down_since_ms, std::uint64_t unsynced_bytes);
  void host_power_loss(std::uint64_t lost_bytes, bool was_up, std::int64_t restart_after_ms);
  void host_stop_begins();
  void host_stopped(std::int64_t restart_after_ms, std::int64_t began_ms);
  // The checker's verdict, at the end.
  void verdict_failed(const std::string& invariant, std::int64_t at_ms, const std::string& detail);
  void verdict_passed();

 private:
  void log(bank::LogLevel level, std::string_view actor, std::string_view message);
  bool logs(bank::LogLevel level) const { return level >= level_ && level_ != bank::LogLevel::off; }

  sim::World& world_;
  bank::LogLevel level_;
  std::string& log_;
  std::unique_ptr<TraceRecorder> recorder_;
};

}  // namespace bank_sim
