// Iterative magnitude pruning with rewinding, the lottery ticket procedure:
//   theta0 = the initial weights; round 0 trains the dense network;
//   round r >= 1: prune `rate` of the remaining weights globally by magnitude (of the weights
//   the previous round trained), reset the survivors to theta0, or to theta_K (the weights
//   after K optimizer steps of round 0) when rewind_iter = K > 0, and train again.
// Round r's network has density kept_r / total; the last round's trained network is the ticket.
// Training is the caller's: a TrainRound callback trains the masked model (fresh optimizer
// and schedule each round) and calls the step hook after every optimizer step.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "framework/nn/module.h"
#include "pruning/prune_mask.h"
#include "pruning/weight_snapshot.h"

namespace stuckat {

struct LotteryTicketOptions {
  double rate = 0.2;        // fraction of the remaining weights pruned per round, in (0, 1)
  int rounds = 0;           // pruning rounds; 0 = as many as `density` needs
  double density = 0.0;     // floor on the density (0 = none): a round never prunes below it,
                            // and the schedule stops once it is reached
  int64_t rewind_iter = 0;  // K: rewind to the weights after K steps of round 0 (0 = theta0)
};

// Kept counts after each pruning round: kept_r = kept_{r-1} - round(rate * kept_{r-1}) (halves
// away from zero),
// never below round(density * total) (a round that would go below stops at it, and is the
// last). `remaining` is the count kept before round 1. Throws InputError when neither rounds
// nor density are given, or rate/density are out of range.
std::vector<int64_t> lottery_ticket_schedule(int64_t total, int64_t remaining, const LotteryTicketOptions& options);

struct LotteryRound {
  int round = 0;
  int64_t kept = 0, total = 0;
  double test_acc = 0, test_loss = 0;
};

// step: optimizer steps done in this round so far (1, 2, ...).
using StepHook = std::function<void(int64_t step)>;
// Trains the model with `masks` for round `round`; returns (test accuracy, test loss).
using TrainRound = std::function<std::pair<double, double>(int round, const PruneMasks& masks, const StepHook& hook)>;
// Called after each round's training (e.g. to write files).
using RoundDone = std::function<void(const LotteryRound& record, const PruneMasks& masks)>;

struct LotteryTicketResult {
  PruneMasks masks;              // the final ticket's masks
  WeightSnapshot theta0;         // the initial weights
  WeightSnapshot rewind_point;   // theta0, or theta_K
  std::vector<LotteryRound> rounds;
};

// Where a stopped run continues (`prune --resume`): the rounds it finished (0, 1, ..., in order),
// the masks of the last one, theta0 and the rewind point; the model holds the last round's
// trained weights. Rounds depend on nothing else (each trains with a fresh optimizer and the
// data order of its seed), so the continued run ends as the uninterrupted one would. With no
// finished round, only a rewind point (theta_K, when round 0 stopped after step K; its training
// resumes through the TrainRound callback): the run starts at round 0 with it.
struct LotteryTicketProgress {
  std::vector<LotteryRound> rounds;
  PruneMasks masks;
  WeightSnapshot theta0, rewind_point;
};

// Throws InputError unless `progress` fits the schedule that `options` and the initial `masks`
// give: its rounds numbered 0, 1, ... with the scheduled kept counts (another rate, density or
// initial checkpoint gives others; more --rounds than the run had is fine), no more rounds than
// the schedule, and its masks and rewind point present.
void check_lottery_ticket_progress(const PruneMasks& masks, const LotteryTicketOptions& options,
                                   const LotteryTicketProgress& progress);

// Runs the procedure on `model` from its current weights (theta0) and masks (dense_masks for
// an unpruned model). `on_rewind_point` (may be null) is called once the rewind point exists.
// With `progress` (may be null; checked as above) it continues that run after its last finished
// round instead; `masks` are still the initial ones (they give the schedule).
LotteryTicketResult run_lottery_ticket(Module& model, const PruneMasks& masks, const LotteryTicketOptions& options,
                                       const TrainRound& train, const RoundDone& done = nullptr,
                                       const std::function<void(const WeightSnapshot&)>& on_rewind_point = nullptr,
                                       const LotteryTicketProgress* progress = nullptr);

}  // namespace stuckat
