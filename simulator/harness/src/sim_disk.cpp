#include "sim/sim_disk.hpp"

#include <cerrno>
#include <deque>

namespace sim {

namespace {

// Operations on one open file complete one at a time, in issue order.
class SimFile final : public bank::DiskFile {
 public:
  SimFile(SimDisk& disk, SimFileState& state) : disk_(disk), state_(state) {}
  ~SimFile() override {
    if (event_ != 0) disk_.world().cancel(event_);
  }

  void append(std::string bytes, bank::IoCallback done) override {
    ops_.push_back(Op{true, std::move(bytes), std::move(done)});
    schedule();
  }
  void sync(bank::IoCallback done) override {
    ops_.push_back(Op{false, {}, std::move(done)});
    schedule();
  }
  bank::IoStatus sync_now() override {
    BANK_ASSERT(ops_.empty());
    return sync_state(disk_.next_operation_error());
  }
  bank::IoStatus truncate_now(std::uint64_t size_bytes) override {
    BANK_ASSERT(ops_.empty());
    BANK_ASSERT(size_bytes <= state_.cached.size());
    // ftruncate and then a sync: the file is exactly this long, durably.
    state_.cached.resize(size_bytes);
    state_.durable = state_.cached;
    state_.dirty_from = state_.cached.size();
    return {};
  }

 private:
  struct Op {
    bool is_append;
    std::string bytes;
    bank::IoCallback done;
  };

  void schedule() {
    if (event_ != 0 || ops_.empty()) return;
    World& world = disk_.world();
    const DiskConfig& config = disk_.config();
    std::int64_t delay_ms = 0;
    if (ops_.front().is_append) {
      delay_ms = world.rng().range(0, config.append_latency_ms_max);
    } else {
      delay_ms = world.rng().range(config.sync_latency_ms_min, config.sync_latency_ms_max);
      if (disk_.faults().slow_syncs_until_ms > world.now_ms()) delay_ms += disk_.faults().slow_sync_extra_ms;
    }
    event_ = world.schedule_after(delay_ms, [this] {
      event_ = 0;
      complete_front();
    });
  }

  bank::IoStatus sync_state(int nth_error) {
    const DiskFaults& faults = disk_.faults();
    bank::IoStatus status;
    if (nth_error != 0 || faults.fail_syncs_until_ms > disk_.world().now_ms()) {
      status.error_code = nth_error != 0 ? nth_error : faults.error_code;
      ++disk_.syncs_failed;
      disk_.sync_failed(state_);
    } else {
      SimDisk::sync_succeeded(state_);
      ++disk_.syncs_done;
    }
    return status;
  }

  void complete_front() {
    Op op = std::move(ops_.front());
    ops_.pop_front();
    World& world = disk_.world();
    const DiskFaults& faults = disk_.faults();
    bank::IoStatus status;
    const int nth_error = disk_.next_operation_error();
    if (op.is_append) {
      if (nth_error != 0 || faults.fail_appends_until_ms > world.now_ms()) {
        status.error_code = nth_error != 0 ? nth_error : faults.error_code;
        ++disk_.appends_failed;
        // Part of a failed write may have reached the page cache.
        state_.cached += op.bytes.substr(0, world.rng().below(op.bytes.size() + 1));
      } else {
        state_.cached += op.bytes;
      }
    } else {
      status = sync_state(nth_error);
    }
    schedule();
    op.done(status);  // May destroy this file: nothing may follow.
  }

  SimDisk& disk_;
  SimFileState& state_;
  std::deque<Op> ops_;
  EventId event_ = 0;
};

// What the disk holds past the durable bytes once the dirty ones are written:
// zeros where a failed sync left pages marked clean, then the dirty bytes.
std::string disk_tail(const SimFileState& state) {
  BANK_ASSERT(state.dirty_from >= state.durable.size());
  BANK_ASSERT(state.dirty_from <= state.cached.size());
  std::string tail(state.dirty_from - state.durable.size(), '\0');
  tail.append(state.cached, state.dirty_from, std::string::npos);
  return tail;
}

}  // namespace

int SimDisk::next_operation_error() {
  ++operations_;
  return operations_ == fail_operation_number_ ? fail_operation_error_ : 0;
}

void SimDisk::sync_succeeded(SimFileState& state) {
  state.durable += disk_tail(state);
  state.dirty_from = state.cached.size();
  BANK_ASSERT(state.durable.size() == state.cached.size());
}

void SimDisk::sync_failed(SimFileState& state) {
  // Linux marks the pages of a failed writeback clean: no later sync writes
  // them. Whether reads still see them depends on the file system.
  if (state.dirty_from < state.cached.size()) {
    if (world_.rng().chance(1, 2)) {
      ++failed_ranges_kept;
    } else {
      ++failed_ranges_dropped;
      std::fill(state.cached.begin() + static_cast<std::ptrdiff_t>(state.dirty_from), state.cached.end(), '\0');
    }
  }
  state.dirty_from = state.cached.size();
}

bank::Result<bank::OpenedFile> SimDisk::open(const std::string& name) {
  SimFileState& state = files_[name];
  if (!state.exists) {
    state = SimFileState{};
    state.exists = true;  // Created, in the cache; its entry is not durable yet.
  }
  bank::OpenedFile opened;
  opened.contents = state.cached;
  opened.file = std::make_unique<SimFile>(*this, state);
  return opened;
}

bank::IoStatus SimDisk::sync_directory() {
  const int nth_error = next_operation_error();
  if (nth_error != 0 || faults_.fail_syncs_until_ms > world_.now_ms()) {
    ++syncs_failed;
    return bank::IoStatus{nth_error != 0 ? nth_error : faults_.error_code};
  }
  for (auto& [name, state] : files_) state.entry_durable = state.entry_durable || state.exists;
  return {};
}

std::uint64_t SimDisk::power_loss() {
  std::uint64_t lost = 0;
  for (auto& [name, state] : files_) {
    if (!state.exists) continue;
    if (!state.entry_durable) {
      lost += state.cached.size();
      state = SimFileState{};
      continue;
    }
    // The kernel may have written back any prefix of the dirty bytes.
    const std::string tail = disk_tail(state);
    const std::size_t kept = world_.rng().below(tail.size() + 1);
    lost += state.cached.size() - state.durable.size() - kept;
    state.durable.append(tail, 0, kept);
    state.cached = state.durable;
    state.dirty_from = state.cached.size();
  }
  return lost;
}

const SimFileState* SimDisk::file(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

bool SimDisk::holds_unsynced_bytes() const {
  for (const auto& [name, state] : files_) {
    if (state.cached.size() > state.durable.size() || (state.exists && !state.entry_durable)) return true;
  }
  return false;
}

void SimDisk::put_file_for_test(const std::string& name, std::string bytes) {
  SimFileState& state = files_[name];
  state.durable = bytes;
  state.cached = std::move(bytes);
  state.dirty_from = state.cached.size();
  state.exists = true;
  state.entry_durable = true;
}

}  // namespace sim
