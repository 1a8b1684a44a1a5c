#pragma once
// Reading a person's commands, for the client's and the debugger's prompts:
// line editing and history (libedit) on a terminal, plain lines from a pipe.
// Link dst_demo_prompt to use it.

#include <editline/readline.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace dst_demo {

// The next line typed (shown after `prompt` on a terminal), or nullopt at the end of the input.
inline std::optional<std::string> read_prompt_line(const char* prompt, bool interactive) {
  if (interactive) {
    char* raw = ::readline(prompt);
    if (raw == nullptr) return std::nullopt;
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t\r\n") != std::string::npos) ::add_history(line.c_str());
    return line;
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  return line;
}

}  // namespace dst_demo
