#pragma once
// A small logging seam. The real server forwards to spdlog; the simulator
// prefixes simulated time and the actor's name. Formatting happens only when
// the level is enabled.

#include <fmt/format.h>

#include <initializer_list>
#include <string_view>

namespace bank {

enum class LogLevel { trace = 0, debug, info, warn, error, off };

std::string_view describe(LogLevel level);
// Accepts trace, debug, info, warn(ing), error, off (any case), and the
// RUST_LOG form "target=level,..." (the last level named wins).
bool parse_log_level(std::string_view text, LogLevel& level);

// A log level setting, from the first of its sources that is set (a flag,
// then SPDLOG_LEVEL, then RUST_LOG, as the binaries read them), else fallback.
struct LogLevelSource {
  const char* name;   // For the error message: "--log-level", "RUST_LOG", ...
  const char* value;  // nullptr or empty: not set.
};
struct ResolvedLogLevel {
  bool ok = true;
  LogLevel level = LogLevel::info;
  const char* source = nullptr;  // The source used; on failure, the one that could not be read.
};
ResolvedLogLevel resolve_log_level(std::initializer_list<LogLevelSource> sources, LogLevel fallback);

class Logger {
 public:
  explicit Logger(LogLevel level) : level_(level) {}
  virtual ~Logger() = default;

  bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::off; }
  LogLevel level() const { return level_; }
  void set_level(LogLevel level) { level_ = level; }

  template <class... Args>
  void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (!enabled(level)) return;
    write(level, fmt::vformat(format, fmt::make_format_args(args...)));
  }
  template <class... Args>
  void trace(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::trace, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::debug, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::info, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::warn, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::error, format, std::forward<Args>(args)...);
  }

 protected:
  virtual void write(LogLevel level, std::string_view message) = 0;

 private:
  LogLevel level_;
};

}  // namespace bank
