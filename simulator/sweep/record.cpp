#include "record.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace bank_sim::sweep {

namespace {

using json = nlohmann::ordered_json;

json marks_json(const bank::MarkCounts& marks) {
  json out = json::object();
  for (std::size_t m = 0; m < bank::mark_count; ++m) {
    out[std::string(bank::describe(static_cast<bank::Mark>(m)))] = marks[m];
  }
  return out;
}

json record_json(const RunRecord& r) {
  json out = {{"type", "run"},
              {"index", r.index},
              {"seed", r.seed},
              {"planted_bug", r.planted_bug},
              {"knobs",
               {{"duration_steps", r.duration_steps},
                {"step_ms", r.step_ms},
                {"epoch_offset_ms", r.epoch_offset_ms},
                {"bankers", r.bankers},
                {"interactions_per_banker", r.interactions_per_banker}}},
              {"fault_kinds", r.fault_kinds},
              {"verdict", r.passed ? "pass" : "fail"},
              {"steps", r.steps},
              {"simulated_ms", r.simulated_ms},
              {"wall_s", r.wall_s},
              {"interactions", r.interactions},
              {"faults", r.faults},
              {"recovery_ms", r.recovery_ms ? json(*r.recovery_ms) : json(nullptr)},
              {"marks", marks_json(r.marks)},
              {"trace_hash", r.trace_hash},
              {"replay", r.replay}};
  if (!r.passed) {
    out["invariant"] = r.invariant;
    out["evidence"] = r.evidence;
    out["failed_at_ms"] = r.failed_at_ms;
    if (!r.shape.empty()) {
      out["shrunk"] = {
          {"shape", r.shape}, {"size", r.shrunk_size}, {"story", r.story}, {"plan", r.minimal_plan}};
    }
  }
  return out;
}

// Reads `key` of `object` into `value`; a missing key or a value of another
// type throws json's own exceptions, which the caller turns into a message.
template <typename T>
void read(const json& object, const char* key, T& value) {
  object.at(key).get_to(value);
}

RunRecord record_from(const json& in) {
  RunRecord r;
  read(in, "index", r.index);
  read(in, "seed", r.seed);
  read(in, "planted_bug", r.planted_bug);
  const json& knobs = in.at("knobs");
  read(knobs, "duration_steps", r.duration_steps);
  read(knobs, "step_ms", r.step_ms);
  read(knobs, "epoch_offset_ms", r.epoch_offset_ms);
  read(knobs, "bankers", r.bankers);
  read(knobs, "interactions_per_banker", r.interactions_per_banker);
  read(in, "fault_kinds", r.fault_kinds);
  const std::string verdict = in.at("verdict").get<std::string>();
  if (verdict != "pass" && verdict != "fail") {
    throw std::invalid_argument(fmt::format("verdict '{}' is neither pass nor fail", verdict));
  }
  r.passed = verdict == "pass";
  read(in, "steps", r.steps);
  read(in, "simulated_ms", r.simulated_ms);
  read(in, "wall_s", r.wall_s);
  read(in, "interactions", r.interactions);
  read(in, "faults", r.faults);
  if (!in.at("recovery_ms").is_null()) r.recovery_ms = in.at("recovery_ms").get<std::int64_t>();
  const json& marks = in.at("marks");
  for (std::size_t m = 0; m < bank::mark_count; ++m) {
    // A record from an older build may lack a newer mark: it counts as not reached.
    const auto found = marks.find(std::string(bank::describe(static_cast<bank::Mark>(m))));
    if (found != marks.end()) found->get_to(r.marks[m]);
  }
  // Records from a build before the hash was written lack it.
  if (const auto hash = in.find("trace_hash"); hash != in.end()) hash->get_to(r.trace_hash);
  read(in, "replay", r.replay);
  if (!r.passed) {
    read(in, "invariant", r.invariant);
    read(in, "evidence", r.evidence);
    read(in, "failed_at_ms", r.failed_at_ms);
    if (const auto shrunk = in.find("shrunk"); shrunk != in.end()) {
      read(*shrunk, "shape", r.shape);
      read(*shrunk, "size", r.shrunk_size);
      read(*shrunk, "story", r.story);
      read(*shrunk, "plan", r.minimal_plan);
    }
  }
  return r;
}

}  // namespace

// Evidence and reports may hold any byte a server wrote: what is not UTF-8 is replaced.
std::string to_json_line(const RunRecord& record) {
  return record_json(record).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string to_child_message(const RunRecord& record, const std::string& report) {
  const json message = {
      {"record", record_json(record)}, {"report", report}, {"output_failed", record.output_failed}};
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool from_child_message(const std::string& message, RunRecord& record, std::string& report) {
  try {
    const json in = json::parse(message);
    record = record_from(in.at("record"));
    read(in, "report", report);
    read(in, "output_failed", record.output_failed);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<ParsedLine> parse_json_line(const std::string& line, ParseError& error) {
  try {
    const json in = json::parse(line);
    if (!in.is_object()) {
      error.message = "not a JSON object";
      return std::nullopt;
    }
    const std::string type = in.at("type").get<std::string>();
    ParsedLine parsed;
    if (type == "summary") {
      parsed.kind = ParsedLine::Kind::summary;
      read(in, "wall_s", parsed.summary_wall_s);
      return parsed;
    }
    if (type != "run") {
      error.message = fmt::format("a record of unknown type '{}' (expected run or summary)", type);
      return std::nullopt;
    }
    parsed.run = record_from(in);
    return parsed;
  } catch (const json::parse_error& e) {
    error.message = fmt::format("not JSON ({})", e.what());
  } catch (const json::out_of_range& e) {
    error.message = fmt::format("a field is missing ({})", e.what());
  } catch (const json::type_error& e) {
    error.message = fmt::format("a field has the wrong type ({})", e.what());
  } catch (const std::exception& e) {
    error.message = e.what();
  }
  return std::nullopt;
}

}  // namespace bank_sim::sweep
