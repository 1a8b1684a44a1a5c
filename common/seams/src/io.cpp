#include "bank/io.hpp"

#include <fmt/format.h>

#include <cstring>

#include "bank/log.hpp"

namespace bank {

std::string_view describe(CloseReason reason) {
  switch (reason) {
    case CloseReason::peer_closed:
      return "closed by peer";
    case CloseReason::reset:
      return "connection reset";
    case CloseReason::local_close:
      return "closed locally";
    case CloseReason::timed_out:
      return "timed out";
  }
  return "unknown";
}

std::string describe(IoStatus status) {
  if (status.ok()) return "ok";
  // strerror's text for the common values, fixed here so that output does not
  // depend on the C library's locale or version.
  switch (status.error_code) {
    case EIO:
      return "EIO (input/output error)";
    case ENOSPC:
      return "ENOSPC (no space left on device)";
    case EDQUOT:
      return "EDQUOT (disk quota exceeded)";
    case EROFS:
      return "EROFS (read-only file system)";
    case EACCES:
      return "EACCES (permission denied)";
    case ENOENT:
      return "ENOENT (no such file or directory)";
    default:
      return fmt::format("errno {}", status.error_code);
  }
}

std::string_view describe(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return "trace";
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
    case LogLevel::off:
      return "off";
  }
  return "unknown";
}

namespace {
bool parse_one_level(std::string_view text, LogLevel& level) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "trace")
    level = LogLevel::trace;
  else if (lower == "debug")
    level = LogLevel::debug;
  else if (lower == "info")
    level = LogLevel::info;
  else if (lower == "warn" || lower == "warning")
    level = LogLevel::warn;
  else if (lower == "error" || lower == "err")
    level = LogLevel::error;
  else if (lower == "off" || lower == "critical")
    level = LogLevel::off;
  else
    return false;
  return true;
}
}  // namespace

bool parse_log_level(std::string_view text, LogLevel& level) {
  bool found = false;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (const auto equals = part.find('='); equals != std::string_view::npos) part = part.substr(equals + 1);
    LogLevel parsed{};
    if (!parse_one_level(part, parsed)) return false;
    level = parsed;
    found = true;
  }
  return found;
}

ResolvedLogLevel resolve_log_level(std::initializer_list<LogLevelSource> sources, LogLevel fallback) {
  ResolvedLogLevel resolved;
  resolved.level = fallback;
  for (const LogLevelSource& source : sources) {
    if (source.value == nullptr || *source.value == '\0') continue;
    resolved.source = source.name;
    resolved.ok = parse_log_level(source.value, resolved.level);
    return resolved;
  }
  return resolved;
}

}  // namespace bank
