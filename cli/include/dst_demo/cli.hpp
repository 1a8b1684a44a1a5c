#pragma once
// Command-line parsing shared by the three binaries' mains. One exit code for
// every usage error, and an error names what the user typed: the environment
// variable when the bad value came from one, the flag otherwise.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace dst_demo::cli {

// The exit code of every binary for a usage error (a bad flag, value or
// environment variable); --help says so.
inline constexpr int usage_error_exit = 2;

// Whether `option` was set on the command line (not from its environment variable).
inline bool given_on_command_line(const CLI::Option& option, int argc, char** argv) {
  for (const std::string& name : option.get_lnames()) {
    const std::string flag = "--" + name;
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == flag || arg.starts_with(flag + "=")) return true;
    }
  }
  for (const std::string& name : option.get_snames()) {
    const std::string flag = "-" + name;
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]).starts_with(flag)) return true;
    }
  }
  return false;
}

namespace detail {
inline void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}
}  // namespace detail

// Parses argv. Returns the exit code when main should stop now (after --help:
// 0; after a usage error, printed on stderr: usage_error_exit), nullopt to go on.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    // A value from the environment is named as the user set it.
    for (const CLI::Option* option : app.get_options()) {
      const std::string env = option->get_envname();
      if (env.empty() || given_on_command_line(*option, argc, argv)) continue;
      const char* value = std::getenv(env.c_str());
      if (value == nullptr) continue;
      for (const std::string& name : option->get_lnames()) {
        detail::replace_all(message, "--" + name, env + "=" + value);
      }
    }
    std::fprintf(stderr, "%s: %s\nRun with --help for the flags and environment variables.\n",
                 app.get_name().c_str(), message.c_str());
    return usage_error_exit;
  }
}

}  // namespace dst_demo::cli
