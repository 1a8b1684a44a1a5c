#pragma once
// A run as a Chrome/Perfetto trace (JSON "traceEvents"): one track per actor
// and for the host, each request a span from send to reply with a flow to the
// host, faults as spans, crashes as the host's "down" spans, and the checker's
// failure as an instant. Open it in ui.perfetto.dev or chrome://tracing.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bank_sim {

class TraceRecorder {
 public:
  explicit TraceRecorder(std::int64_t start_ms) : start_ms_(start_ms) {}

  void begin_request(const std::string& actor, std::string name, std::int64_t now_ms);
  // Ends the actor's open request span, with a flow to the host at now_ms.
  void end_request(const std::string& actor, const std::string& outcome, std::int64_t now_ms);
  void span(const std::string& track, std::string name, std::int64_t begin_ms, std::int64_t end_ms,
            const std::string& detail = {});
  void instant(const std::string& track, std::string name, std::int64_t now_ms,
               const std::string& detail = {});

  std::string json() const;

 private:
  struct Open {
    std::string name;
    std::int64_t begin_ms;
  };
  int track(const std::string& name);
  std::int64_t micros(std::int64_t ms) const { return (ms - start_ms_) * 1000; }

  std::int64_t start_ms_;
  std::map<std::string, int> tracks_;
  std::vector<std::string> track_order_;
  std::map<std::string, Open> open_;
  std::vector<std::string> events_;
  std::uint64_t flow_id_next_ = 1;
};

}  // namespace bank_sim
