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
  bank::IoStatus truncate_now(std::uint64_t size_bytes) override {
    BANK_ASSERT(ops_.empty());
    std::string all = state_.durable + state_.unsynced;
    BANK_ASSERT(size_bytes <= all.size());
    all.resize(size_bytes);
    state_.durable = std::move(all);
    state_.unsynced.clear();
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
        // Part of a failed write may have reached the file.
        state_.unsynced += op.bytes.substr(0, world.rng().below(op.bytes.size() + 1));
      } else {
        state_.unsynced += op.bytes;
      }
    } else {
      if (nth_error != 0 || faults.fail_syncs_until_ms > world.now_ms()) {
        status.error_code = nth_error != 0 ? nth_error : faults.error_code;
        ++disk_.syncs_failed;
      } else {
        state_.durable += state_.unsynced;
        state_.unsynced.clear();
        ++disk_.syncs_done;
      }
    }
    schedule();
    op.done(status);  // May destroy this file: nothing may follow.
  }

  SimDisk& disk_;
  SimFileState& state_;
  std::deque<Op> ops_;
  EventId event_ = 0;
};

}  // namespace

bank::Result<bank::OpenedFile> SimDisk::open(const std::string& name) {
  SimFileState& state = files_[name];
  bank::OpenedFile opened;
  opened.contents = state.durable + state.unsynced;
  opened.file = std::make_unique<SimFile>(*this, state);
  return opened;
}

std::uint64_t SimDisk::crash() {
  std::uint64_t lost = 0;
  for (auto& [name, state] : files_) {
    const std::size_t kept = world_.rng().below(state.unsynced.size() + 1);
    lost += state.unsynced.size() - kept;
    state.durable += state.unsynced.substr(0, kept);
    state.unsynced.clear();
  }
  return lost;
}

const SimFileState* SimDisk::file(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace sim
