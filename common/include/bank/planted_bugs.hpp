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

#ifdef DST_DEMO_BUG_BALANCE_NOT_REBUILT
// The original's restart bug: the ledger comes back from the journal, but the
// balance starts again from zero.
inline constexpr bool balance_not_rebuilt = true;
#else
inline constexpr bool balance_not_rebuilt = false;
#endif

#ifdef DST_DEMO_BUG_REPLY_BEFORE_SYNC
// A write is acknowledged once it reached the page cache, before fdatasync.
inline constexpr bool reply_before_sync = true;
#else
inline constexpr bool reply_before_sync = false;
#endif

#ifdef DST_DEMO_BUG_KEYS_IGNORED
// Idempotency keys are read and then ignored: a retry applies again.
inline constexpr bool keys_ignored = true;
#else
inline constexpr bool keys_ignored = false;
#endif

#ifdef DST_DEMO_BUG_VOID_TWICE
// A transaction can be voided twice, refunding the same money twice (the
// original allowed this).
inline constexpr bool void_twice = true;
#else
inline constexpr bool void_twice = false;
#endif

#ifdef DST_DEMO_BUG_RECOVERY_TRUSTS_PAGE_CACHE
// Recovery replays what it read without syncing it first: after a process
// crash that includes appends only the page cache holds, which a power loss
// then takes away although they were served (and keyed retries acknowledged).
inline constexpr bool recovery_trusts_page_cache = true;
#else
inline constexpr bool recovery_trusts_page_cache = false;
#endif

#ifdef DST_DEMO_BUG_SKIPS_DIRECTORY_SYNC
// The journal's directory entry is never synced: a power loss can take the
// whole file, every acknowledged transaction with it.
inline constexpr bool skips_directory_sync = true;
#else
inline constexpr bool skips_directory_sync = false;
#endif

#ifdef DST_DEMO_BUG_KEEPS_FAILED_WRITES
// After a failed append or sync the journal keeps what it left in the page
// cache; Linux reports later syncs as successful without writing it, so a
// restart serves transactions that a power loss then takes away.
inline constexpr bool keeps_failed_writes = true;
#else
inline constexpr bool keeps_failed_writes = false;
#endif

#ifdef DST_DEMO_BUG_CUTS_ROTTEN_RECORDS
// Recovery takes a damaged record with nothing valid after it for a torn write
// and cuts it: a bit flip in the last acknowledged transaction loses it silently.
inline constexpr bool cuts_rotten_records = true;
#else
inline constexpr bool cuts_rotten_records = false;
#endif

inline constexpr bool any = epochalypse || balance_not_rebuilt || reply_before_sync || keys_ignored ||
                            void_twice || recovery_trusts_page_cache || skips_directory_sync ||
                            keeps_failed_writes || cuts_rotten_records;

// The bugs planted in the bank_core this program links, as a comma-separated
// list of names; empty in a normal build. Defined in a .cpp so that it reports
// the library's switches, not the caller's.
const char* names();

}  // namespace bank::planted_bugs
