#include "trace_json.hpp"

#include <nlohmann/json.hpp>

namespace bank_sim {

namespace {

using json = nlohmann::ordered_json;

constexpr int process_id = 1;

// One event a line; text an actor or a reply carried that is not UTF-8 is replaced, not passed on.
std::string dump(const json& event) {
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

int TraceRecorder::track(const std::string& name) {
  auto [it, inserted] = tracks_.emplace(name, static_cast<int>(tracks_.size()) + 1);
  if (inserted) track_order_.push_back(name);
  return it->second;
}

void TraceRecorder::begin_request(const std::string& actor, std::string name, std::int64_t now_ms) {
  open_[actor] = Open{std::move(name), now_ms};
}

void TraceRecorder::end_request(const std::string& actor, const std::string& outcome, std::int64_t now_ms) {
  auto it = open_.find(actor);
  if (it == open_.end()) return;
  const Open open = it->second;
  open_.erase(it);
  span(actor, open.name, open.begin_ms, now_ms, outcome);
  // The request travels to the host and its answer is what ended the span.
  const std::uint64_t id = flow_id_next_++;
  const int from = track(actor);
  const int to = track("host");
  events_.push_back(dump({{"ph", "s"},
                          {"id", id},
                          {"pid", process_id},
                          {"tid", from},
                          {"ts", micros(open.begin_ms)},
                          {"name", "request"},
                          {"cat", "net"}}));
  events_.push_back(dump({{"ph", "X"},
                          {"pid", process_id},
                          {"tid", to},
                          {"ts", micros(now_ms)},
                          {"dur", 1},
                          {"name", "served " + open.name}}));
  events_.push_back(dump({{"ph", "f"},
                          {"bp", "e"},
                          {"id", id},
                          {"pid", process_id},
                          {"tid", to},
                          {"ts", micros(now_ms)},
                          {"name", "request"},
                          {"cat", "net"}}));
}

void TraceRecorder::span(const std::string& track_name, std::string name, std::int64_t begin_ms,
                         std::int64_t end_ms, const std::string& detail) {
  const int tid = track(track_name);
  // A zero-length span still shows: at least one microsecond.
  const std::int64_t duration_us = std::max<std::int64_t>(1, micros(end_ms) - micros(begin_ms));
  events_.push_back(dump({{"ph", "X"},
                          {"pid", process_id},
                          {"tid", tid},
                          {"ts", micros(begin_ms)},
                          {"dur", duration_us},
                          {"name", name},
                          {"args", {{"detail", detail}}}}));
}

void TraceRecorder::instant(const std::string& track_name, std::string name, std::int64_t now_ms,
                            const std::string& detail) {
  const int tid = track(track_name);
  events_.push_back(dump({{"ph", "i"},
                          {"s", "t"},
                          {"pid", process_id},
                          {"tid", tid},
                          {"ts", micros(now_ms)},
                          {"name", name},
                          {"args", {{"detail", detail}}}}));
}

std::string TraceRecorder::json() const {
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  out += dump({{"ph", "M"},
               {"pid", process_id},
               {"name", "process_name"},
               {"args", {{"name", "dst_demo simulation"}}}});
  for (const auto& name : track_order_) {
    const int tid = tracks_.at(name);
    out += ",\n" + dump({{"ph", "M"},
                         {"pid", process_id},
                         {"tid", tid},
                         {"name", "thread_name"},
                         {"args", {{"name", name}}}});
    out += ",\n" + dump({{"ph", "M"},
                         {"pid", process_id},
                         {"tid", tid},
                         {"name", "thread_sort_index"},
                         {"args", {{"sort_index", tid}}}});
  }
  for (const auto& event : events_) {
    out += ",\n";
    out += event;
  }
  out += "\n]}\n";
  return out;
}

}  // namespace bank_sim
