#include "sim/sim_disk.hpp"

#include <cerrno>
#include <deque>

namespace sim {

namespace {
// The most zeros a power loss leaves past the last bytes that reached the disk
// (space the real server set aside ahead of its appends).
constexpr std::uint64_t zeros_set_aside_max = 4096;
// What writeback moves to the disk whole or not at all.
constexpr std::size_t page_bytes = 4096;
constexpr std::size_t sector_bytes = 512;
// One power loss in this many writes the unsynced bytes back out of order.
constexpr std::uint64_t out_of_order_one_in = 3;

// What reaches the disk of `tail`, the bytes writeback would write at file
// offset `base`, when it writes them out of order: each `unit`-aligned piece
// whole or not at all (zeros), and the file's size grown to its end or only
// as far as the last piece that reached the disk. Half the time the pieces
// are drawn one by one; else the later pieces reached the disk and the
// earlier ones did not (the state that tells a careful recovery from one that
// expects a prefix). Returns the bytes of the tail that reached the disk.
std::uint64_t write_back_out_of_order(std::string& out, std::size_t base, std::string_view tail, Rng& order) {
  BANK_ASSERT(out.size() == base);
  const std::size_t unit = order.chance(1, 4) ? page_bytes : sector_bytes;
  const bool size_reached = order.chance(1, 2);
  const std::size_t pieces = tail.empty() ? 0 : (base + tail.size() - 1) / unit - base / unit + 1;
  const bool later_first = pieces >= 2 && order.chance(1, 2);
  const std::size_t first_reached = later_first ? static_cast<std::size_t>(order.range(1, pieces - 1)) : 0;
  std::size_t end = base;  // The end of the last piece that reached the disk.
  std::uint64_t reached_bytes = 0;
  std::size_t piece = 0;
  for (std::size_t from = base; from < base + tail.size(); from = (from / unit + 1) * unit, ++piece) {
    const std::size_t to = std::min(base + tail.size(), (from / unit + 1) * unit);
    const bool reached = later_first ? piece >= first_reached : order.chance(1, 2);
    if (reached) {
      out.resize(from, '\0');
      out.append(tail.substr(from - base, to - from));
      end = to;
      reached_bytes += to - from;
    }
  }
  BANK_ASSERT(piece == pieces);
  out.resize(size_reached ? base + tail.size() : end, '\0');
  return reached_bytes;
}
}  // namespace

namespace {

// Operations on one open file complete one at a time, in issue order.
class SimFile final : public bank::DiskFile {
 public:
  SimFile(SimDisk& disk, std::string name, SimFileState& state)
      : disk_(disk), name_(std::move(name)), state_(state) {}
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
    disk_.forget_damage_past(name_, size_bytes);
    return {};
  }
  bank::IoStatus overwrite_now(std::uint64_t offset, std::string_view bytes) override {
    BANK_ASSERT(ops_.empty());
    BANK_ASSERT(offset + bytes.size() <= state_.cached.size());
    if (const int error = disk_.next_operation_error(); error != 0) return bank::IoStatus{error};
    // A write and a sync: the bytes are in the cache and, once the sync
    // succeeds, on the disk (below the durable end, a sync writes the
    // overwritten pages; past it, the dirty bytes as ever).
    state_.cached.replace(offset, bytes.size(), bytes);
    const bank::IoStatus status = sync_state(0);
    if (status.ok() && offset < state_.durable.size()) {
      const std::size_t below = std::min(bytes.size(), state_.durable.size() - offset);
      state_.durable.replace(offset, below, bytes.substr(0, below));
    }
    return status;
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
      delay_ms = disk_.rng().range(0, config.append_latency_ms_max);
      if (disk_.faults().slow_syncs_until_ms > world.now_ms())
        delay_ms += disk_.faults().slow_sync_extra_ms / 4;
    } else {
      delay_ms = disk_.rng().range(config.sync_latency_ms_min, config.sync_latency_ms_max);
      if (disk_.faults().slow_syncs_until_ms > world.now_ms()) delay_ms += disk_.faults().slow_sync_extra_ms;
    }
    event_ = world.schedule_after(delay_ms, "disk op", [this] {
      event_ = 0;
      complete_front();
    });
  }

  bank::IoStatus sync_state(int nth_error) {
    const DiskFaults& faults = disk_.faults();
    bank::IoStatus status;
    World& world = disk_.world();
    if (nth_error != 0 || faults.fail_syncs_until_ms > world.now_ms()) {
      status.error_code = nth_error != 0 ? nth_error : faults.error_code;
      ++disk_.syncs_failed;
      const std::string what = disk_.sync_failed(state_);
      if (world.tracing_storage())
        world.trace("disk sync " + name_ + " failed (" + bank::describe(status) + "): " + what);
    } else {
      const std::size_t before = state_.durable.size();
      const std::size_t zeros = state_.dirty_from - before;
      SimDisk::sync_succeeded(state_);
      ++disk_.syncs_done;
      const std::size_t written = state_.durable.size() - before;
      if (world.tracing_storage() && written > 0) {
        world.trace("disk sync " + name_ + " ok: " + std::to_string(written) + " bytes written" +
                    (zeros > 0 ? " (" + std::to_string(zeros) +
                                     " of them zeros, where a failed sync left pages marked clean)"
                               : std::string()) +
                    ", " + std::to_string(state_.durable.size()) + " durable");
      }
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
        const std::size_t reached = disk_.rng().below(op.bytes.size() + 1);
        state_.cached += op.bytes.substr(0, reached);
        if (world.tracing_storage()) {
          world.trace("disk append to " + name_ + " failed (" + bank::describe(status) +
                      "): " + std::to_string(reached) + " of " + std::to_string(op.bytes.size()) +
                      " bytes reached the page cache");
        }
      } else if (!disk_.take_misdirected_append(state_, op.bytes)) {
        state_.cached += op.bytes;
      }
    } else {
      status = sync_state(nth_error);
    }
    schedule();
    op.done(status);  // May destroy this file: nothing may follow.
  }

  SimDisk& disk_;
  std::string name_;
  SimFileState& state_;
  std::deque<Op> ops_;
  EventId event_ = 0;
};

// Appends what the disk holds past the durable bytes once the dirty ones are
// written: zeros where a failed sync left pages marked clean, then the dirty
// bytes. `out` may be state.durable itself.
void append_disk_tail(std::string& out, const SimFileState& state) {
  BANK_ASSERT(state.dirty_from >= state.durable.size());
  BANK_ASSERT(state.dirty_from <= state.cached.size());
  const std::size_t zeros = state.dirty_from - state.durable.size();
  out.append(zeros, '\0');
  out.append(state.cached, state.dirty_from, std::string::npos);
}

}  // namespace

int SimDisk::next_operation_error() {
  ++operations_;
  return operations_ == fail_operation_number_ ? fail_operation_error_ : 0;
}

void SimDisk::sync_succeeded(SimFileState& state) {
  append_disk_tail(state.durable, state);
  state.dirty_from = state.cached.size();
  BANK_ASSERT(state.durable.size() == state.cached.size());
}

std::string SimDisk::sync_failed(SimFileState& state) {
  // Linux marks the pages of a failed writeback clean: no later sync writes
  // them. Whether reads still see them depends on the file system.
  std::string what = "nothing was unsynced";
  if (state.dirty_from < state.cached.size()) {
    const std::size_t bytes = state.cached.size() - state.dirty_from;
    if (rng().chance(1, 2)) {
      ++failed_ranges_kept;
      what = std::to_string(bytes) +
             " unsynced bytes marked clean and kept in the page cache (reads see them; no sync will write "
             "them; a power loss takes them)";
    } else {
      ++failed_ranges_dropped;
      std::fill(state.cached.begin() + static_cast<std::ptrdiff_t>(state.dirty_from), state.cached.end(),
                '\0');
      what = std::to_string(bytes) + " unsynced bytes dropped from the page cache (reads see zeros)";
    }
  }
  state.dirty_from = state.cached.size();
  return what;
}

std::uint64_t SimDisk::unsynced_bytes() const {
  std::uint64_t bytes = 0;
  for (const auto& [name, state] : files_) bytes += state.cached.size() - state.durable.size();
  return bytes;
}

bank::Result<bank::OpenedFile> SimDisk::open(const std::string& name) {
  if (faults_.fail_reads_until_ms > world_.now_ms()) {
    return bank::Error{"cannot read " + name + ": " + bank::describe(bank::IoStatus{EIO})};
  }
  directory_exists_ = true;
  SimFileState& state = files_[name];
  if (!state.exists) {
    state = SimFileState{};
    state.exists = true;  // Created, in the cache; its entry is not durable yet.
  }
  bank::OpenedFile opened;
  opened.contents = state.cached;
  opened.file = std::make_unique<SimFile>(*this, name, state);
  return opened;
}

bank::IoStatus SimDisk::sync_directory() {
  const int nth_error = next_operation_error();
  if (nth_error != 0 || faults_.fail_syncs_until_ms > world_.now_ms()) {
    ++syncs_failed;
    return bank::IoStatus{nth_error != 0 ? nth_error : faults_.error_code};
  }
  for (auto& [name, state] : files_) {
    if (state.exists && !state.entry_durable && world_.tracing_storage())
      world_.trace("disk sync directory: the entry of " + name + " is durable");
    state.entry_durable = state.entry_durable || state.exists;
  }
  return {};
}

bank::IoStatus SimDisk::sync_directory_in_parent() {
  const int nth_error = next_operation_error();
  if (nth_error != 0 || faults_.fail_syncs_until_ms > world_.now_ms()) {
    ++syncs_failed;
    return bank::IoStatus{nth_error != 0 ? nth_error : faults_.error_code};
  }
  if (directory_exists_ && !directory_entry_durable_ && world_.tracing_storage())
    world_.trace("disk sync parent directory: the data directory's entry is durable");
  directory_entry_durable_ = directory_entry_durable_ || directory_exists_;
  return {};
}

std::uint64_t SimDisk::power_loss() {
  ++power_losses_;
  std::uint64_t lost = 0;
  if (directory_exists_ && !directory_entry_durable_) {
    // The directory was never synced in its parent: it is gone, files and all.
    for (auto& [name, state] : files_) {
      lost += state.cached.size();
      state = SimFileState{};
      forget_damage_past(name, 0);
    }
    directory_exists_ = false;
    ++directories_lost_;
    return lost;
  }
  // Whether writeback went out of order, and which pieces it got to, is drawn
  // from a stream of its own, so that every other draw of this disk is kept.
  Rng order(mix64(world_.stream_seed("writeback order") ^ *world_.salt_source() ^ power_losses_));
  const bool out_of_order = order.chance(1, out_of_order_one_in);
  power_losses_out_of_order_ += out_of_order;
  for (auto& [name, state] : files_) {
    if (!state.exists) continue;
    if (!state.entry_durable) {
      lost += state.cached.size();
      state = SimFileState{};
      forget_damage_past(name, 0);
      continue;
    }
    // The kernel may have written back any prefix of the dirty bytes, or
    // pieces of them in any order.
    std::string tail;
    append_disk_tail(tail, state);
    const std::size_t kept = rng().below(tail.size() + 1);
    if (out_of_order) {
      lost += tail.size() - write_back_out_of_order(state.durable, state.durable.size(), tail, order);
    } else {
      lost += tail.size() - kept;
      state.durable.append(tail, 0, kept);
    }
    // The real server sets space aside ahead of its appends (the file holds
    // zeros there): in one power loss in three the file ends in such zeros,
    // after the last bytes that reached the disk. Decided without a draw, so
    // that every other draw of this disk is kept.
    const std::uint64_t pick = mix64(0x7a65726f73ULL ^ (std::uint64_t{state.durable.size()} << 20) ^ kept);
    if (pick % 3 == 0) state.durable.append(1 + (pick >> 8) % zeros_set_aside_max, '\0');
    state.cached = state.durable;
    state.dirty_from = state.cached.size();
    forget_damage_past(name, state.cached.size());
  }
  return lost;
}

const SimFileState* SimDisk::file(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

std::int64_t SimDisk::flip_bit(const std::string& name, std::uint64_t from_end, unsigned bit) {
  auto it = files_.find(name);
  if (it == files_.end() || it->second.durable.empty()) return -1;
  SimFileState& state = it->second;
  const std::size_t offset = state.durable.size() - 1 - from_end % state.durable.size();
  patches_.push_back(Patch{name, offset, state.durable.substr(offset, 1)});
  const char mask = static_cast<char>(1u << (bit % 8));
  state.durable[offset] = static_cast<char>(state.durable[offset] ^ mask);
  // The page cache is evicted and reads the damaged sector again.
  if (offset < state.cached.size()) state.cached[offset] = state.durable[offset];
  return static_cast<std::int64_t>(offset);
}

void SimDisk::misdirect_next_append(const std::string& name, std::uint64_t pick) {
  misdirect_file_ = name;
  misdirect_pick_ = pick;
  misdirect_armed_ = true;
}

bool SimDisk::take_misdirected_append(SimFileState& state, const std::string& bytes) {
  if (!misdirect_armed_ || bytes.empty()) return false;
  auto it = files_.find(misdirect_file_);
  if (it == files_.end() || &it->second != &state || state.cached.empty()) return false;
  misdirect_armed_ = false;
  const std::size_t end = state.cached.size();
  const std::size_t offset = misdirect_pick_ % end;
  const std::size_t overwritten = std::min(bytes.size(), end - offset);
  // What belongs where: the old bytes at the wrong place, the new ones at the end.
  patches_.push_back(Patch{misdirect_file_, offset, state.cached.substr(offset, overwritten)});
  patches_.push_back(Patch{misdirect_file_, end, bytes});
  state.cached.replace(offset, overwritten, bytes.substr(0, overwritten));
  state.cached.resize(end + bytes.size(), '\0');
  if (overwritten < bytes.size())
    state.cached.replace(end, bytes.size() - overwritten, bytes.substr(overwritten));
  // The damage below the durable end is on the disk already; the rest is dirty.
  state.dirty_from = std::min(state.dirty_from, std::max(offset, state.durable.size()));
  if (offset < state.durable.size()) {
    const std::size_t on_disk = std::min(overwritten, state.durable.size() - offset);
    state.durable.replace(offset, on_disk, state.cached.substr(offset, on_disk));
  }
  return true;
}

void SimDisk::cut(const std::string& name, std::size_t size_bytes) {
  auto it = files_.find(name);
  if (it == files_.end()) return;
  SimFileState& state = it->second;
  if (state.durable.size() > size_bytes) state.durable.resize(size_bytes);
  if (state.cached.size() > size_bytes) state.cached.resize(size_bytes);
  state.dirty_from = std::min(state.dirty_from, state.cached.size());
  forget_damage_past(name, size_bytes);
}

void SimDisk::forget_damage_past(const std::string& name, std::size_t size_bytes) {
  // Bytes past the file's end are gone: there is nothing left to restore there.
  std::vector<Patch> kept;
  for (Patch& patch : patches_) {
    if (patch.file == name) {
      if (patch.offset >= size_bytes) continue;
      patch.correct.resize(std::min(patch.correct.size(), size_bytes - patch.offset));
    }
    kept.push_back(std::move(patch));
  }
  patches_ = std::move(kept);
}

std::size_t SimDisk::repair() {
  const std::size_t count = patches_.size();
  // Newest first, so that overlapping patches leave the oldest truth.
  for (auto patch = patches_.rbegin(); patch != patches_.rend(); ++patch) {
    SimFileState& state = files_[patch->file];
    for (std::string* bytes : {&state.durable, &state.cached}) {
      if (patch->offset >= bytes->size()) continue;
      const std::size_t length = std::min(patch->correct.size(), bytes->size() - patch->offset);
      bytes->replace(patch->offset, length, patch->correct.substr(0, length));
    }
  }
  patches_.clear();
  misdirect_armed_ = false;
  return count;
}

bool SimDisk::holds_unsynced_bytes() const {
  if (directory_exists_ && !directory_entry_durable_) return true;
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
  directory_exists_ = true;
  directory_entry_durable_ = true;
}

}  // namespace sim
