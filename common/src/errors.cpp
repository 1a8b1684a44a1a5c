#include "bank/errors.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "bank/session.hpp"

namespace bank {

namespace {

constexpr std::string_view error_prefix = "ERROR ";
// The stems: each text below begins with its kind's stem, and error_kind()
// reads nothing else.
constexpr std::string_view stem_void_target = "transaction ";  // Then "<id>" and one of the two below.
constexpr std::string_view stem_already_voided = " is already voided by transaction ";
constexpr std::string_view stem_reversal = " is a reversal of ";
constexpr std::string_view stem_create_overflow = "creating ";
constexpr std::string_view stem_void_overflow = "voiding transaction ";
constexpr std::string_view overflow_ending = " would overflow the balance";
constexpr std::string_view stem_frame_too_large = "frame too large";
constexpr std::string_view stem_disk = "journal ";
constexpr std::string_view stem_writes_disabled = "writes are disabled";
constexpr std::string_view stem_shutting_down = "server is shutting down";
constexpr std::string_view stem_exit_disabled = "remote shutdown is disabled";
// A malformed request: the reasons that session.cpp, money.cpp and ledger.cpp
// (keys) give.
constexpr std::array<std::string_view, 6> stems_request = {
    "unknown action ", "empty frame", "amount ", "transaction id ", "idempotency key ", "expected a value"};

// Reads "<digits>" off the front of text.
bool take_id(std::string_view& text, std::uint64_t& id) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc{} || end == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return true;
}

}  // namespace

std::string_view error_kind_word(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::none:
      return "none";
    case ErrorKind::request:
      return "request";
    case ErrorKind::frame_too_large:
      return "frame-too-large";
    case ErrorKind::already_voided:
      return "already-voided";
    case ErrorKind::reversal:
      return "reversal";
    case ErrorKind::overflow:
      return "overflow";
    case ErrorKind::disk:
      return "disk";
    case ErrorKind::writes_disabled:
      return "writes-disabled";
    case ErrorKind::shutting_down:
      return "shutting-down";
    case ErrorKind::exit_disabled:
      return "exit-disabled";
    case ErrorKind::idle_timeout:
      return "idle-timeout";
    case ErrorKind::too_many_connections:
      return "too-many-connections";
    case ErrorKind::unknown:
      return "unknown";
  }
  return "unknown";
}

ErrorKind error_kind(std::string_view reply) {
  if (!reply.starts_with(error_prefix)) return ErrorKind::none;
  if (reply.starts_with(notice_idle_timeout)) return ErrorKind::idle_timeout;
  if (reply.starts_with(notice_too_many_connections)) return ErrorKind::too_many_connections;
  if (const auto refusal = parse_void_refusal(reply)) return refusal->kind;
  const std::string_view reason = reply.substr(error_prefix.size());
  const auto starts = [reason](std::string_view stem) { return reason.starts_with(stem); };
  if ((starts(stem_create_overflow) || starts(stem_void_overflow)) && reason.ends_with(overflow_ending))
    return ErrorKind::overflow;
  if (starts(stem_frame_too_large)) return ErrorKind::frame_too_large;
  if (starts(stem_disk)) return ErrorKind::disk;
  if (starts(stem_writes_disabled)) return ErrorKind::writes_disabled;
  if (starts(stem_shutting_down)) return ErrorKind::shutting_down;
  if (starts(stem_exit_disabled)) return ErrorKind::exit_disabled;
  for (const std::string_view stem : stems_request) {
    if (starts(stem)) return ErrorKind::request;
  }
  return ErrorKind::unknown;
}

std::optional<VoidRefusal> parse_void_refusal(std::string_view reply) {
  if (!reply.starts_with(error_prefix)) return std::nullopt;
  std::string_view rest = reply.substr(error_prefix.size());
  if (!rest.starts_with(stem_void_target)) return std::nullopt;
  rest.remove_prefix(stem_void_target.size());
  VoidRefusal refusal;
  if (!take_id(rest, refusal.target_id)) return std::nullopt;
  if (rest.starts_with(stem_already_voided)) {
    refusal.kind = ErrorKind::already_voided;
    rest.remove_prefix(stem_already_voided.size());
  } else if (rest.starts_with(stem_reversal)) {
    refusal.kind = ErrorKind::reversal;
    rest.remove_prefix(stem_reversal.size());
  } else {
    return std::nullopt;
  }
  if (!take_id(rest, refusal.other_id)) return std::nullopt;
  return refusal;
}

namespace error_text {

std::string already_voided(std::uint64_t target_id, std::uint64_t by_id) {
  return fmt::format("{}{}{}{}", stem_void_target, target_id, stem_already_voided, by_id);
}
std::string reversal(std::uint64_t target_id, std::uint64_t original_id) {
  return fmt::format("{}{}{}{} and cannot be voided", stem_void_target, target_id, stem_reversal,
                     original_id);
}
std::string create_overflow(std::string_view amount) {
  return fmt::format("{}{}{}", stem_create_overflow, amount, overflow_ending);
}
std::string void_overflow(std::uint64_t target_id) {
  return fmt::format("{}{}{}", stem_void_overflow, target_id, overflow_ending);
}
std::string frame_too_large(std::size_t limit_bytes) {
  return fmt::format("{} (the limit is {} bytes)", stem_frame_too_large, limit_bytes);
}
std::string disk_failed(std::string_view operation, std::string_view cause) {
  return fmt::format(
      "{}{} failed ({}): the outcome of this request is unknown; the server refuses writes "
      "until it restarts",
      stem_disk, operation, cause);
}
std::string writes_disabled() {
  return fmt::format("{} after a disk failure until the server restarts; nothing was recorded",
                     stem_writes_disabled);
}
std::string shutting_down() {
  return std::string(stem_shutting_down);
}
std::string shutting_down_nothing_recorded() {
  return fmt::format("{}; nothing was recorded", stem_shutting_down);
}
std::string exit_disabled() {
  return fmt::format("{} (start the server with --allow-remote-exit)", stem_exit_disabled);
}

}  // namespace error_text

}  // namespace bank
