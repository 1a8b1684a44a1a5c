#pragma once
// Always-on assertions. A failed BANK_ASSERT is a bug in this program, never an
// operating error: it prints where and why, then aborts. Unlike assert(), it is
// not compiled out by NDEBUG, so release builds check the same invariants.

namespace bank {
[[noreturn]] void assert_fail(const char* condition, const char* file, int line, const char* message);

// A broken assertion aborts the process. A simulator that runs many simulated
// servers in one process may install, on the thread running one of them and
// for that run only, a handler that throws to end that run alone and report
// it. The handler must not return; it is removed before it is called, so an
// assertion broken while unwinding aborts as usual.
using AssertHandler = void (*)(const char* condition, const char* file, int line, const char* message);
// Returns the handler it replaces.
AssertHandler set_assert_handler_for_this_thread(AssertHandler handler);
}  // namespace bank

#define BANK_ASSERT(condition) \
  ((condition) ? static_cast<void>(0) : ::bank::assert_fail(#condition, __FILE__, __LINE__, nullptr))

#define BANK_ASSERT_MSG(condition, message) \
  ((condition) ? static_cast<void>(0) : ::bank::assert_fail(#condition, __FILE__, __LINE__, (message)))
