#pragma once
// The bug zoo's one trace in the bank: its name. Each planted bug is a patch
// (common/zoo/NAME.patch) that the build applies to a copy of one source, so
// the sources here carry no bug and no switch; the simulator proves it finds
// each one. Never link a zoo build into a server that serves real traffic.

namespace bank::planted_bugs {

// The bug planted in the bank_core this program links; empty in a normal
// build. Defined in a .cpp so that it reports the library's build, not the caller's.
const char* names();

}  // namespace bank::planted_bugs
