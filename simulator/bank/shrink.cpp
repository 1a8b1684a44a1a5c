#include "shrink.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace bank_sim {

std::size_t plan_size(const Plans& plans) {
  return count_interactions(plans) + count_faults(plans);
}

namespace {

// How many universes a shrink candidate is tried in before it counts as passing.
constexpr std::uint64_t universes_per_candidate = 3;
// cut_all_tails keeps k/fraction_steps of every list.
constexpr std::size_t fraction_steps = 64;

// The least queue sizes shrink_queues tries (what generate_plans draws at least).
constexpr std::int64_t send_queue_bytes_least = 64;
constexpr std::int64_t window_bytes_least = 16;

// Which list of a plan ddmin_on_time works on: a banker's index, or this.
constexpr std::size_t fault_list = SIZE_MAX;

// Plan entries that count toward a plan's size, and sleeps, which hold time.
bool counts(const Interaction& x) {
  return x.op != BankerOp::sleep && x.op != BankerOp::pipeline;
}
bool counts(const Fault& x) {
  return x.op != FaultOp::sleep;
}
bool is_sleep(const Interaction& x) {
  return x.op == BankerOp::sleep;
}
bool is_sleep(const Fault& x) {
  return x.op == FaultOp::sleep;
}
void add_sleep(Interaction& x, std::int64_t ms) {
  x.sleep_ms += ms;
}
void add_sleep(Fault& x, std::int64_t ms) {
  x.duration_ms += ms;
}

// The entries ddmin_on_time removes together: [begin, end) of a list. A
// fault is a unit, a banker's interaction too, and so is a pipelined batch
// (its mark, its requests and the sleeps the batch skips), so that removing a
// unit never regroups the requests after it.
struct Unit {
  std::size_t begin;
  std::size_t end;
};
std::vector<Unit> units_of(const std::vector<Fault>& faults) {
  std::vector<Unit> units;
  for (std::size_t i = 0; i < faults.size(); ++i)
    if (counts(faults[i])) units.push_back({i, i + 1});
  return units;
}
std::vector<Unit> units_of(const std::vector<Interaction>& items) {
  std::vector<Unit> units;
  for (std::size_t i = 0; i < items.size();) {
    if (items[i].op == BankerOp::pipeline) {
      std::vector<std::size_t> members;
      const std::size_t end = pipeline_batch_end(items, i, members);
      if (!members.empty()) units.push_back({i, end});
      i = end;
    } else {
      if (counts(items[i])) units.push_back({i, i + 1});
      ++i;
    }
  }
  return units;
}
template <class Item>
Item sleep_for(std::int64_t ms) {
  Item item;
  add_sleep(item, ms);  // A default entry is a sleep of 0 ms.
  return item;
}

template <class Item>
std::vector<Item> replace_by_sleep(const std::vector<Item>& items, std::size_t begin, std::size_t end,
                                   const std::vector<std::int64_t>& started, std::int64_t failed_at_ms) {
  BANK_ASSERT(begin <= end && end <= items.size());
  while (end < items.size() && is_sleep(items[end])) ++end;
  std::int64_t took_ms = 0;
  if (end < items.size() && started.size() == items.size() && started[begin] >= 0) {
    // What follows never began in the failing run: it must not begin before the failure now.
    took_ms = started[end] >= 0 ? started[end] - started[begin] : failed_at_ms + 1 - started[begin];
  }
  std::vector<Item> out(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(begin));
  if (took_ms > 0) {
    if (!out.empty() && is_sleep(out.back())) {
      add_sleep(out.back(), took_ms);
    } else {
      out.push_back(sleep_for<Item>(took_ms));
    }
  }
  out.insert(out.end(), items.begin() + static_cast<std::ptrdiff_t>(end), items.end());
  return out;
}

}  // namespace

std::vector<Interaction> replaced_by_sleep(const std::vector<Interaction>& items, std::size_t begin,
                                           std::size_t end, const std::vector<std::int64_t>& started,
                                           std::int64_t failed_at_ms) {
  return replace_by_sleep(items, begin, end, started, failed_at_ms);
}

std::vector<Fault> replaced_by_sleep(const std::vector<Fault>& faults, std::size_t begin, std::size_t end,
                                     const std::vector<std::int64_t>& started, std::int64_t failed_at_ms) {
  return replace_by_sleep(faults, begin, end, started, failed_at_ms);
}

namespace {

class Shrinker {
 public:
  Shrinker(const std::string& invariant, std::size_t runs_max) : invariant_(invariant), runs_max_(runs_max) {}

  // True when the plans still fail with the same invariant. Removing one
  // interaction shifts every random draw after it (latencies, event order), so
  // a smaller plan that would fail often misses by luck alone: a candidate
  // also gets a few other universes (seeds for the world's randomness, the
  // plans unchanged), and keeps the seed of the first one that fails. The
  // timing of that failing run becomes the current plan's (every candidate
  // that fails is kept).
  bool fails(Plans& plans) {
    const std::uint64_t seed = plans.knobs.seed;
    for (std::uint64_t universe = 0; universe < universes_ && runs_ < runs_max_; ++universe) {
      ++runs_;
      plans.knobs.seed = universe == 0 ? seed : sim::mix64(seed + universe);
      RunOptions options;
      options.log_level = bank::LogLevel::off;
      RunResult result = run_simulation(plans, options);
      if (result.failure && result.failure->invariant == invariant_) {
        timing_.bankers = std::move(result.banker_entry_started_ms);
        timing_.faults = std::move(result.fault_entry_started_ms);
        timing_.failed_at_ms = result.failure->time_ms;
        return true;
      }
    }
    plans.knobs.seed = seed;
    return false;
  }

  // Delta debugging over the units of one list (see Unit), chunks first,
  // then one by one. A removed chunk leaves a
  // sleep as long as it took in the last failing run, so that what follows it
  // keeps its timing: a failure that needs a crash to strike while a write is
  // syncing, or a read to land between a restart and a power loss, survives
  // the removal of everything around it. `list` is a banker's index, or
  // fault_list.
  template <class Item>
  void ddmin_on_time(Plans& plans, std::vector<Item>& items, std::size_t list, std::size_t parts_max) {
    const std::size_t count = units_of(items).size();
    const std::size_t finest = std::max<std::size_t>(1, (count + parts_max - 1) / parts_max);
    std::size_t chunk = (count + 1) / 2;
    while (chunk >= finest && chunk > 0 && runs_ < runs_max_) {
      // One pass at this chunk size; after a removal the pass goes on from
      // where it was (what lies before was tried at this size already).
      for (std::size_t first = 0; runs_ < runs_max_;) {
        const std::vector<Unit> units = units_of(items);
        if (first >= units.size()) break;
        const std::size_t last = std::min(units.size(), first + chunk) - 1;
        std::vector<Item> kept = replaced_by_sleep(items, units[first].begin, units[last].end, list);
        std::swap(items, kept);
        if (!fails(plans)) {
          std::swap(items, kept);
          first += chunk;
        }
      }
      chunk = chunk == finest ? 0 : std::max(finest, (chunk + 1) / 2);
    }
  }

  // Removes requests from pipelined batches one at a time, the rest of each
  // batch still sent together at the same moment.
  void thin_batches(Plans& plans, std::size_t banker) {
    for (std::size_t mark = 0; mark < plans.bankers[banker].interactions.size() && runs_ < runs_max_;
         ++mark) {
      if (plans.bankers[banker].interactions[mark].op != BankerOp::pipeline) continue;
      for (std::size_t nth = 0; runs_ < runs_max_;) {
        if (plans.bankers[banker].interactions[mark].op != BankerOp::pipeline) break;  // Down to one.
        std::vector<std::size_t> members;
        pipeline_batch_end(plans.bankers[banker].interactions, mark, members);
        if (nth >= members.size() || members.size() < 2) break;
        const bool removed = attempt(plans, [banker, mark, at = members[nth]](Plans& p) {
          auto& items = p.bankers[banker].interactions;
          items.erase(items.begin() + static_cast<std::ptrdiff_t>(at));
          // A batch of one is a plain request (and a plan file says so).
          if (--items[mark].count < 2) items.erase(items.begin() + static_cast<std::ptrdiff_t>(mark));
          return true;
        });
        if (!removed) ++nth;
      }
    }
  }

  // Cuts the end of a list at once: what happens after the failure cannot
  // matter to it, yet one by one it would cost a run per item. Binary search
  // for the shortest prefix that still fails.
  template <class Item>
  void cut_tail(Plans& plans, std::vector<Item>& items) {
    std::size_t low = 0;              // Prefixes this long or shorter were not tried, or passed.
    std::size_t high = items.size();  // A prefix this long fails.
    const std::vector<Item> all = items;
    while (low + 1 < high && runs_ < runs_max_) {
      const std::size_t middle = low + (high - low) / 2;
      items.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(middle));
      if (fails(plans)) {
        high = middle;
      } else {
        low = middle;
      }
    }
    items.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(high));
  }

  // cut_tail for every list at once: each keeps the same fraction of itself.
  // One binary search over the fraction instead of one per list.
  void cut_all_tails(Plans& plans) {
    const Plans all = plans;
    std::size_t low = 0;
    std::size_t high = fraction_steps;  // Keeping everything fails.
    auto keep = [&all](Plans& p, std::size_t steps) {
      auto cut = [steps](auto& items, std::size_t size) {
        items.resize((size * steps + fraction_steps - 1) / fraction_steps);
      };
      cut(p.faults.faults, all.faults.faults.size());
      for (std::size_t b = 0; b < p.bankers.size(); ++b)
        cut(p.bankers[b].interactions, all.bankers[b].interactions.size());
    };
    while (low + 1 < high && runs_ < runs_max_) {
      const std::size_t middle = low + (high - low) / 2;
      Plans candidate = all;
      keep(candidate, middle);
      if (plan_size(candidate) == plan_size(plans)) {
        low = middle;  // Too little to cut at this fraction: nothing to try.
        continue;
      }
      if (fails(candidate)) {
        high = middle;
        plans = std::move(candidate);
      } else {
        low = middle;
      }
    }
  }

  // Delta debugging over the busy bankers: whole halves first, then fewer at
  // a time. A banker removed here stays as an idle one (no interactions),
  // so that every other keeps its name, and with it its streams of
  // randomness and the faults aimed at it; drop_idle_bankers removes the
  // idle ones at the end. Faults aimed at it go (they take no time).
  void idle_banker_groups(Plans& plans) {
    std::size_t parts = 2;
    for (;;) {
      std::vector<std::size_t> busy;
      for (std::size_t b = 0; b < plans.bankers.size(); ++b)
        if (!units_of(plans.bankers[b].interactions).empty()) busy.push_back(b);
      if (busy.size() <= 1 || runs_ >= runs_max_) break;
      const std::size_t chunk = (busy.size() + parts - 1) / parts;
      bool removed = false;
      for (std::size_t start = 0; start < busy.size() && runs_ < runs_max_ && !removed; start += chunk) {
        const std::size_t end = std::min(busy.size(), start + chunk);
        if (end - start == busy.size()) continue;  // Keep at least one banker busy.
        const std::vector<std::size_t> idled(busy.begin() + static_cast<std::ptrdiff_t>(start),
                                             busy.begin() + static_cast<std::ptrdiff_t>(end));
        removed = attempt(plans, [&idled](Plans& p) {
          for (const std::size_t b : idled) p.bankers[b].interactions.clear();
          std::erase_if(p.faults.faults, [&idled](const Fault& f) {
            return f.target >= 0 &&
                   std::find(idled.begin(), idled.end(), static_cast<std::size_t>(f.target)) != idled.end();
          });
          return true;
        });
      }
      if (removed) {
        parts = std::max<std::size_t>(parts - 1, 2);
      } else {
        if (parts >= busy.size()) break;
        parts = std::min(busy.size(), parts * 2);
      }
    }
  }

  // Removes the idle bankers, if the failure stays without them (the others
  // renamed draw from other streams).
  void drop_idle_bankers(Plans& plans) {
    attempt(plans, [](Plans& p) {
      std::vector<std::int64_t> new_index(p.bankers.size(), -1);
      std::vector<BankerPlan> kept;
      for (std::size_t b = 0; b < p.bankers.size(); ++b) {
        if (p.bankers[b].interactions.empty()) continue;
        new_index[b] = static_cast<std::int64_t>(kept.size());
        kept.push_back(std::move(p.bankers[b]));
      }
      if (kept.size() == p.bankers.size() || kept.empty()) return false;
      p.bankers = std::move(kept);
      p.knobs.banker_count = static_cast<std::uint32_t>(p.bankers.size());
      for (Fault& f : p.faults.faults)
        if (f.target >= 0) f.target = new_index[static_cast<std::size_t>(f.target)];
      return true;
    });
  }

  // Tries one change to a copy; keeps it if the failure stays.
  bool attempt(Plans& plans, const std::function<bool(Plans&)>& change) {
    Plans candidate = plans;
    if (!change(candidate)) return false;  // Nothing to change.
    if (!fails(candidate)) return false;
    plans = std::move(candidate);
    return true;
  }

  // Smaller queues in the world: a story that needs a full send queue (a
  // slow reader of LIST replies) then needs fewer transactions to fill it.
  void shrink_queues(Plans& plans) {
    attempt(plans, [](Plans& p) {
      std::int64_t& bytes = p.knobs.parameters.send_queue_bytes_max;
      if (bytes <= send_queue_bytes_least) return false;
      bytes = std::max(send_queue_bytes_least, bytes / 4);
      return true;
    });
    attempt(plans, [](Plans& p) {
      std::int64_t& bytes = p.knobs.parameters.window_bytes;
      if (bytes <= window_bytes_least) return false;
      bytes = std::max(window_bytes_least, bytes / 4);
      return true;
    });
  }

  bool simplify(Plans& plans) {
    bool shrunk = false;
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      for (std::size_t i = 0; i < plans.bankers[b].interactions.size(); ++i) {
        shrunk |= attempt(plans, [b, i](Plans& p) {
          Interaction& x = p.bankers[b].interactions[i];
          if (x.op == BankerOp::sleep && x.sleep_ms > 1) {
            x.sleep_ms /= 2;
            return true;
          }
          if (x.op == BankerOp::create && x.amount.cents % 100 != 0) {
            x.amount.cents -= x.amount.cents % 100;  // Whole amounts...
            return true;
          }
          if (x.op == BankerOp::create && (x.amount.cents > 100 || x.amount.cents < -100)) {
            x.amount.cents = x.amount.cents > 0 ? 100 : -100;  // ...then 1.00.
            return true;
          }
          if ((x.op == BankerOp::get || x.op == BankerOp::void_) && x.id.known && x.id.pick != 0) {
            x.id.pick = 0;  // The first id the banker knows.
            return true;
          }
          return false;
        });
      }
    }
    for (std::size_t f = 0; f < plans.faults.faults.size(); ++f) {
      shrunk |= attempt(plans, [f](Plans& p) {
        Fault& x = p.faults.faults[f];
        if (x.duration_ms > 1) {
          x.duration_ms /= 2;
          return true;
        }
        return false;
      });
    }
    return shrunk;
  }

  std::size_t runs() const { return runs_; }
  bool spent() const { return runs_ >= runs_max_; }
  void more_universes() { universes_ *= 4; }
  // The budget's reserve, for one last candidate in the first few universes.
  void last_runs(std::size_t runs_max) {
    runs_max_ = runs_max;
    universes_ = std::min(universes_, runs_max_ - std::min(runs_max_, runs_));
  }

  // The timing of the current plans: run once, at the start.
  void time(Plans& plans) { (void)fails(plans); }

 private:
  template <class Item>
  std::vector<Item> replaced_by_sleep(const std::vector<Item>& items, std::size_t begin, std::size_t end,
                                      std::size_t list) const {
    const std::vector<std::int64_t>& started = list == fault_list              ? timing_.faults
                                               : list < timing_.bankers.size() ? timing_.bankers[list]
                                                                               : timing_.none;
    return bank_sim::replaced_by_sleep(items, begin, end, started, timing_.failed_at_ms);
  }

  struct Timing {
    std::vector<std::vector<std::int64_t>> bankers;
    std::vector<std::int64_t> faults;
    std::int64_t failed_at_ms = 0;
    std::vector<std::int64_t> none;  // A list with no timing: its entries are removed, not replaced.
  };

  std::string invariant_;
  std::size_t runs_max_;
  std::size_t runs_ = 0;
  std::uint64_t universes_ = universes_per_candidate;
  Timing timing_;
};

}  // namespace

ShrinkResult shrink(const Plans& failing, const std::string& invariant, std::size_t runs_max) {
  // The last few runs of the budget are kept for removing idle bankers.
  const std::size_t reserved = runs_max > 2 * universes_per_candidate ? universes_per_candidate : 0;
  Shrinker shrinker(invariant, runs_max - reserved);
  Plans plans = failing;
  shrinker.time(plans);
  // Simplifying (shorter sleeps, rounder amounts) rarely enables a removal:
  // it gets a bounded number of rounds, so the budget goes to removals.
  std::size_t simplify_rounds_left = 2;
  // Coarse to fine over every list: a round cuts each list into at most
  // `parts` chunks, and only a round without progress cuts finer. One by one
  // over the first banker while the others are still large spends the budget
  // on removals the others' later shrinking would have made cheap.
  std::size_t parts = 8;
  std::size_t escalations_left = 2;
  for (bool progress = true; progress && !shrinker.spent();) {
    // A round counts as progress when the plans got smaller (a cut that
    // takes only sleeps does not): rounds that only shuffle spend the budget.
    const std::size_t before = plan_size(plans);
    shrinker.shrink_queues(plans);
    shrinker.cut_all_tails(plans);
    shrinker.idle_banker_groups(plans);
    shrinker.cut_tail(plans, plans.faults.faults);
    for (std::size_t b = 0; b < plans.bankers.size(); ++b)
      shrinker.cut_tail(plans, plans.bankers[b].interactions);
    shrinker.ddmin_on_time(plans, plans.faults.faults, fault_list, parts);
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      shrinker.ddmin_on_time(plans, plans.bankers[b].interactions, b, parts);
      shrinker.thin_batches(plans, b);
    }
    progress = plan_size(plans) < before;
    if (!progress && parts < plan_size(plans)) {
      parts *= 4;
      progress = true;
      continue;
    }
    if (!progress && simplify_rounds_left > 0) {
      --simplify_rounds_left;
      progress = shrinker.simplify(plans);
    }
    if (!progress && escalations_left > 0) {
      // A fixed point in a few universes: what is left is timing-bound, and
      // a removal that keeps the failure in one universe of ten is still a
      // removal. Try each candidate in more universes.
      --escalations_left;
      shrinker.more_universes();
      progress = true;
    }
  }
  shrinker.last_runs(runs_max);
  shrinker.drop_idle_bankers(plans);
  plans.knobs.interactions_per_banker = interactions_per_banker_of(plans);
  ShrinkResult result;
  result.runs = shrinker.runs();
  result.budget_spent = shrinker.runs() >= runs_max;
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  options.trace_storage = true;
  options.record_timeline = true;
  result.result = run_simulation(plans, options);
  result.minimal = std::move(plans);
  return result;
}

std::string tell_story(const RunResult& result) {
  std::string out;
  std::size_t number = 0;
  for (const std::string& line : result.trace_lines) {
    // Trace lines are "<ms since the epoch> <what happened>"; the story
    // leaves out the world's own "event N <ms> <kind>" lines.
    if (line.starts_with("event ")) continue;
    const auto space = line.find(' ');
    const std::int64_t at_ms = std::stoll(line.substr(0, space)) - result.knobs.epoch_offset_ms;
    out += fmt::format("  {:>3}. +{}.{:03}s  {}\n", ++number, at_ms / 1000, at_ms % 1000,
                       line.substr(space + 1));
  }
  if (result.failure) {
    const std::int64_t at_ms = result.failure->time_ms - result.knobs.epoch_offset_ms;
    out += fmt::format("  {:>3}. +{}.{:03}s  the checker, on {}'s reply: '{}' broken: {}\n", ++number,
                       at_ms / 1000, at_ms % 1000, result.failure->actor, result.failure->invariant,
                       result.failure->evidence);
  }
  return out;
}

}  // namespace bank_sim
