#include "bank/coverage.hpp"

namespace bank {

namespace {
thread_local MarkCounts counts{};
}  // namespace

std::string_view describe(Mark mark) {
  switch (mark) {
    case Mark::torn_tail_cut:
      return "torn_tail_cut";
    case Mark::damaged_journal_refused:
      return "damaged_journal_refused";
    case Mark::damage_before_valid_record:
      return "damage_before_valid_record";
    case Mark::writeback_out_of_order:
      return "writeback_out_of_order";
    case Mark::torn_trailer_kept:
      return "torn_trailer_kept";
    case Mark::group_commit_shared:
      return "group_commit_shared";
    case Mark::group_commit_held:
      return "group_commit_held";
    case Mark::group_commit_hold_expired:
      return "group_commit_hold_expired";
    case Mark::key_replayed_while_syncing:
      return "key_replayed_while_syncing";
    case Mark::reply_to_gone_client:
      return "reply_to_gone_client";
    case Mark::reading_paused_for_backpressure:
      return "reading_paused_for_backpressure";
    case Mark::idle_check_deferred:
      return "idle_check_deferred";
    case Mark::idle_close:
      return "idle_close";
    case Mark::disk_failure:
      return "disk_failure";
    case Mark::failed_write_cut_back:
      return "failed_write_cut_back";
    case Mark::write_refused_writes_disabled:
      return "write_refused_writes_disabled";
    case Mark::refusal_waits_for_sync:
      return "refusal_waits_for_sync";
    case Mark::write_refused_by_rules:
      return "write_refused_by_rules";
    case Mark::frame_too_large:
      return "frame_too_large";
    case Mark::write_pipelined:
      return "write_pipelined";
    case Mark::request_waits_for_own_write:
      return "request_waits_for_own_write";
    case Mark::prompt_held_for_answer:
      return "prompt_held_for_answer";
    case Mark::input_ended_closes_after_replies:
      return "input_ended_closes_after_replies";
    case Mark::connection_refused_at_limit:
      return "connection_refused_at_limit";
    case Mark::count_:
      break;
  }
  return "?";
}

void mark(Mark mark) {
  ++counts[static_cast<std::size_t>(mark)];
}

MarkCounts take_marks_for_this_thread() {
  const MarkCounts taken = counts;
  counts = MarkCounts{};
  return taken;
}

}  // namespace bank
