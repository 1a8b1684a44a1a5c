#pragma once
// A small logging seam. The real server forwards to spdlog; the simulator
// prefixes simulated time and the actor's name. Formatting happens only when
// the level is enabled.

#include <fmt/format.h>

#include <string_view>

namespace bank {

enum class LogLevel { trace = 0, debug, info, warn, error, off };

std::string_view describe(LogLevel level);
// Accepts trace, debug, info, warn(ing), error, off (any case), and the
// RUST_LOG form "target=level,..." (the last level named wins).
bool parse_log_level(std::string_view text, LogLevel& level);

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
