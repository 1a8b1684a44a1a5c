#pragma once
// Always-on assertions. A failed BANK_ASSERT is a bug in this program, never an
// operating error: it prints where and why, then aborts. Unlike assert(), it is
// not compiled out by NDEBUG, so release builds check the same invariants.

namespace bank {
[[noreturn]] void assert_fail(const char* condition, const char* file, int line, const char* message);
}  // namespace bank

#define BANK_ASSERT(condition) \
  ((condition) ? static_cast<void>(0) : ::bank::assert_fail(#condition, __FILE__, __LINE__, nullptr))

#define BANK_ASSERT_MSG(condition, message) \
  ((condition) ? static_cast<void>(0) : ::bank::assert_fail(#condition, __FILE__, __LINE__, (message)))
