// The lottery ticket loop: prune, rewind, train, round after round.
#include "pruning/lottery_ticket.h"

#include <cmath>

#include "base/error.h"
#include "pruning/global_magnitude.h"

namespace stuckat {

std::vector<int64_t> lottery_ticket_schedule(int64_t total, int64_t remaining, const LotteryTicketOptions& o) {
  if (!(o.rate > 0.0 && o.rate < 1.0)) throw_input_error("--rate must be in (0, 1), got {}", o.rate);
  if (o.rounds < 0) throw_input_error("--rounds must be >= 1, got {}", o.rounds);
  if (o.rounds == 0 && o.density <= 0.0)
    throw_input_error("--method lth needs --rounds N (>= 1) or a target --density");
  if (o.density < 0.0 || o.density > 1.0) throw_input_error("--density must be in (0, 1], got {}", o.density);
  const int64_t floor = o.density > 0.0 ? kept_count_for_density(total, o.density) : 0;
  std::vector<int64_t> kept;
  int64_t k = remaining;
  while ((o.rounds == 0 || static_cast<int>(kept.size()) < o.rounds) && k > floor) {
    int64_t next = k - static_cast<int64_t>(std::llround(o.rate * static_cast<double>(k)));
    if (next == k) next = k - 1;  // a tiny layer count: always make progress
    if (next < floor) next = floor;
    if (next < 1) break;
    kept.push_back(next);
    k = next;
  }
  return kept;
}

void check_lottery_ticket_progress(const PruneMasks& masks, const LotteryTicketOptions& options,
                                   const LotteryTicketProgress& progress) {
  const int64_t total = total_weights(masks);
  const std::vector<int64_t> schedule = lottery_ticket_schedule(total, total_kept(masks), options);
  const std::vector<LotteryRound>& done = progress.rounds;
  if (done.size() > schedule.size() + 1)
    throw_input_error("the run to resume finished {} rounds, more than the {} these options give", done.size(),
                      schedule.size() + 1);
  for (size_t r = 0; r < done.size(); ++r) {
    const int64_t expected = r == 0 ? total_kept(masks) : schedule[r - 1];
    if (done[r].round != static_cast<int>(r) || done[r].total != total || done[r].kept != expected)
      throw_input_error("the run to resume has round {} at {} of {} weights kept where these options give round {} at "
                        "{} of {}: it was started with another rate, density or checkpoint",
                        done[r].round, done[r].kept, done[r].total, r, expected, total);
  }
  if (done.empty() || total_kept(progress.masks) != done.back().kept || progress.rewind_point.empty() ||
      progress.theta0.empty())
    throw_input_error("the run to resume lacks its last round's masks or its rewind point");
}

LotteryTicketResult run_lottery_ticket(Module& model, const PruneMasks& masks, const LotteryTicketOptions& options,
                                       const TrainRound& train, const RoundDone& done,
                                       const std::function<void(const WeightSnapshot&)>& on_rewind_point,
                                       const LotteryTicketProgress* progress) {
  LotteryTicketResult result;
  result.masks = masks;
  const int64_t total = total_weights(masks);
  const std::vector<int64_t> schedule = lottery_ticket_schedule(total, total_kept(masks), options);
  size_t first = 0;
  if (progress != nullptr && !progress->rounds.empty()) {
    check_lottery_ticket_progress(masks, options, *progress);
    result.masks = progress->masks;
    result.theta0 = progress->theta0;
    result.rewind_point = progress->rewind_point;
    result.rounds = progress->rounds;
    first = progress->rounds.size();
  } else {
    apply_masks(model, result.masks);
    result.theta0 = WeightSnapshot::take(model);
    if (progress != nullptr && !progress->rewind_point.empty()) {
      result.rewind_point = progress->rewind_point;  // theta_K of a round 0 that resumes past step K
    } else if (options.rewind_iter == 0) {
      result.rewind_point = result.theta0;
      if (on_rewind_point) on_rewind_point(result.rewind_point);
    }
  }
  for (size_t r = first; r <= schedule.size(); ++r) {
    if (r > 0) {
      prune_global_magnitude(model, result.masks, schedule[r - 1]);
      result.rewind_point.rewind(model, result.masks);
    }
    StepHook hook = [&](int64_t step) {
      if (r == 0 && options.rewind_iter > 0 && step == options.rewind_iter) {
        result.rewind_point = WeightSnapshot::take(model);
        if (on_rewind_point) on_rewind_point(result.rewind_point);
      }
    };
    const auto [acc, loss] = train(static_cast<int>(r), result.masks, hook);
    if (result.rewind_point.empty())
      throw_input_error("--rewind-iter {} is beyond the optimizer steps of one training round; use a smaller K or "
                        "more --epochs",
                        options.rewind_iter);
    LotteryRound record{static_cast<int>(r), total_kept(result.masks), total, acc, loss};
    result.rounds.push_back(record);
    if (done) done(record, result.masks);
  }
  return result;
}

}  // namespace stuckat
