#include "trace_json.hpp"

#include <fmt/format.h>

namespace bank_sim {

namespace {

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

constexpr int process_id = 1;

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
  events_.push_back(
      fmt::format(R"({{"ph":"s","id":{},"pid":{},"tid":{},"ts":{},"name":"request","cat":"net"}})", id,
                  process_id, from, micros(open.begin_ms)));
  events_.push_back(fmt::format(R"({{"ph":"X","pid":{},"tid":{},"ts":{},"dur":1,"name":"{}"}})", process_id,
                                to, micros(now_ms), escape("served " + open.name)));
  events_.push_back(
      fmt::format(R"({{"ph":"f","bp":"e","id":{},"pid":{},"tid":{},"ts":{},"name":"request","cat":"net"}})",
                  id, process_id, to, micros(now_ms)));
}

void TraceRecorder::span(const std::string& track_name, std::string name, std::int64_t begin_ms,
                         std::int64_t end_ms, const std::string& detail) {
  const int tid = track(track_name);
  // A zero-length span still shows: at least one microsecond.
  const std::int64_t duration_us = std::max<std::int64_t>(1, micros(end_ms) - micros(begin_ms));
  events_.push_back(
      fmt::format(R"({{"ph":"X","pid":{},"tid":{},"ts":{},"dur":{},"name":"{}","args":{{"detail":"{}"}}}})",
                  process_id, tid, micros(begin_ms), duration_us, escape(name), escape(detail)));
}

void TraceRecorder::instant(const std::string& track_name, std::string name, std::int64_t now_ms,
                            const std::string& detail) {
  const int tid = track(track_name);
  events_.push_back(
      fmt::format(R"({{"ph":"i","s":"t","pid":{},"tid":{},"ts":{},"name":"{}","args":{{"detail":"{}"}}}})",
                  process_id, tid, micros(now_ms), escape(name), escape(detail)));
}

std::string TraceRecorder::json() const {
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  out += fmt::format(R"({{"ph":"M","pid":{},"name":"process_name","args":{{"name":"dst_demo simulation"}}}})",
                     process_id);
  for (const auto& name : track_order_) {
    const int tid = tracks_.at(name);
    out += fmt::format(
        ",\n{{\"ph\":\"M\",\"pid\":{},\"tid\":{},\"name\":\"thread_name\",\"args\":{{\"name\":\"{}\"}}}}",
        process_id, tid, escape(name));
    out += fmt::format(
        ",\n{{\"ph\":\"M\",\"pid\":{},\"tid\":{},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{}}"
        "}}}",
        process_id, tid, tid);
  }
  for (const auto& event : events_) {
    out += ",\n";
    out += event;
  }
  out += "\n]}\n";
  return out;
}

}  // namespace bank_sim
