#pragma once
// The bug zoo: compile-time switches, each planting one known defect in exactly
// one place marked "PLANTED BUG". They exist so the simulator can prove that it
// finds real bugs. All are off in a normal build (see CMakeLists.txt options).

namespace bank::planted_bugs {

#ifdef DST_DEMO_BUG_EPOCHALYPSE
// The original's bug: created_at held in a signed 32-bit integer, which wraps
// at 2038-01-19T03:14:08Z.
inline constexpr bool epochalypse = true;
#else
inline constexpr bool epochalypse = false;
#endif

inline constexpr bool any = epochalypse;

// The bugs planted in the bank_core this program links, as a comma-separated
// list of names; empty in a normal build. Defined in a .cpp so that it reports
// the library's switches, not the caller's.
const char* names();

}  // namespace bank::planted_bugs
