// Pruning methods that train: lottery-ticket rewinding restores theta0, or theta_K,
// bit for bit for every surviving weight (and the rest of the state), the round schedule prunes
// the hand-computed counts, and structured sparsity (group lasso) drives a hand-built filter and
// channel to exactly zero at the step computed by hand and removes them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "framework/data/dataset.h"
#include "base/error.h"
#include "models/model_zoo.h"
#include "pruning/global_magnitude.h"
#include "pruning/group_lasso.h"
#include "pruning/lottery_ticket.h"
#include "pruning/masked_sgd.h"
#include "pruning/masked_training.h"
#include "pruning/oneshot_prune.h"
#include "pruning/ssl_optimizer.h"
#include "pruning/weight_snapshot.h"

using namespace stuckat;

namespace {

std::shared_ptr<Module> lenet(uint64_t seed = 3) { return make_model(parse_model_name("lenet5"), seed); }

// Every state tensor's bytes, in named_state order.
std::vector<std::vector<float>> state_values(const Module& model) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, t] : model.named_state())
    if (t.dtype() == DType::F32) out.push_back(t.to_vector());
  return out;
}

// A stand-in for one optimizer step: every parameter moves by a seeded amount.
void fake_step(Module& model, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-0.01f, 0.01f);
  for (const auto& [name, p] : model.named_parameters()) {
    float* w = p.data<float>();
    for (int64_t i = 0; i < p.numel(); ++i) w[i] += u(rng);
  }
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

}  // namespace

TEST_CASE("lottery ticket schedule: hand-computed kept counts", "[pruning][lth]") {
  LotteryTicketOptions o;
  o.rate = 0.2;
  o.rounds = 3;
  CHECK(lottery_ticket_schedule(1000, 1000, o) == std::vector<int64_t>{800, 640, 512});
  o.density = 0.6;  // a floor: the third round stops at 600
  CHECK(lottery_ticket_schedule(1000, 1000, o) == std::vector<int64_t>{800, 640, 600});
  o.rounds = 0;
  o.density = 0.5;  // rounds until the density: 800 640 512 then 409.6 -> 500
  CHECK(lottery_ticket_schedule(1000, 1000, o) == std::vector<int64_t>{800, 640, 512, 500});
  o.density = 0.0;
  CHECK_THROWS_AS(lottery_ticket_schedule(1000, 1000, o), InputError);  // neither rounds nor density
  o.rounds = 2;
  o.rate = 1.0;
  CHECK_THROWS_AS(lottery_ticket_schedule(1000, 1000, o), InputError);
}

TEST_CASE("rewinding restores theta0 bit for bit for the survivors and zeroes the pruned", "[pruning][lth]") {
  auto model = lenet();
  const WeightSnapshot theta0 = WeightSnapshot::take(*model);
  const std::vector<std::vector<float>> init = state_values(*model);
  std::mt19937 rng(1);
  for (int s = 0; s < 5; ++s) fake_step(*model, rng);
  PruneMasks masks = dense_masks(*model);
  oneshot_global(*model, masks, 0.2);
  theta0.rewind(*model, masks);
  const NamedTensorList state = model->named_state();
  size_t f = 0;
  for (const auto& [name, t] : state) {
    if (t.dtype() != DType::F32) continue;
    const std::vector<float> now = t.to_vector();
    const LayerMask* m = nullptr;
    for (const LayerMask& lm : masks)
      if (name == lm.layer + ".weight") m = &lm;
    for (size_t i = 0; i < now.size(); ++i) {
      if (m != nullptr && !m->keep[i])
        REQUIRE(now[i] == 0.0f);
      else
        REQUIRE(same_bits(now[i], init[f][i]));
    }
    ++f;
  }
}

TEST_CASE("the lottery ticket loop rewinds to theta0 or theta_K and prunes the scheduled counts", "[pruning][lth]") {
  for (int64_t K : {int64_t{0}, int64_t{3}}) {
    CAPTURE(K);
    auto model = lenet();
    const std::vector<std::vector<float>> theta0 = state_values(*model);
    std::vector<std::vector<float>> theta_k;  // recorded here, independently of the library
    std::vector<std::vector<std::vector<float>>> round_start;
    std::vector<int64_t> kept;
    std::mt19937 rng(7);
    auto train = [&](int round, const PruneMasks& masks, const StepHook& hook) {
      round_start.push_back(state_values(*model));
      kept.push_back(total_kept(masks));
      for (int64_t s = 1; s <= 5; ++s) {
        fake_step(*model, rng);
        apply_masks(*model, masks);  // as masked training does
        if (round == 0 && s == K) theta_k = state_values(*model);
        hook(s);
      }
      return std::make_pair(0.5, 1.0);
    };
    LotteryTicketOptions o;
    o.rate = 0.5;
    o.rounds = 3;
    o.rewind_iter = K;
    const LotteryTicketResult r = run_lottery_ticket(*model, dense_masks(*model), o, train);
    const int64_t total = 61470;
    // each round prunes round(0.5 * kept), halves rounded away from zero:
    // 61470 - 30735 = 30735; 30735 - 15368 = 15367; 15367 - 7684 = 7683
    CHECK(kept == std::vector<int64_t>{total, 30735, 15367, 7683});
    REQUIRE(r.rounds.size() == 4);
    CHECK(r.rounds.back().kept == 7683);
    const std::vector<std::vector<float>>& target = K == 0 ? theta0 : theta_k;
    REQUIRE(!target.empty());
    // every round after the first starts from the rewind point (survivors) and 0 (pruned)
    auto masks_at = [&](int round) {  // recompute each round's masks from the recorded count
      return kept[static_cast<size_t>(round)];
    };
    for (int round = 1; round <= 3; ++round) {
      const auto& start = round_start[static_cast<size_t>(round)];
      int64_t nonzero_weights = 0, restored = 0;
      size_t f = 0;
      for (const auto& [name, t] : model->named_state()) {
        if (t.dtype() != DType::F32) continue;
        const bool layer_weight = t.dim() >= 2;
        for (size_t i = 0; i < start[f].size(); ++i) {
          if (layer_weight && start[f][i] == 0.0f) continue;  // pruned (no trained weight is exactly 0 here)
          REQUIRE(same_bits(start[f][i], target[f][i]));
          ++restored;
          if (layer_weight) ++nonzero_weights;
        }
        ++f;
      }
      CHECK(nonzero_weights == masks_at(round));
      CHECK(restored > 0);
    }
  }
}

TEST_CASE("a lottery ticket run resumed after any round ends as the uninterrupted run", "[pruning][lth]") {
  // Training stand-in whose steps depend only on the round (as real rounds: a fresh optimizer and
  // the data order of the seed). The uninterrupted run records each round's trained state and
  // masks; a run given the progress after round k (its records, masks, theta0 and rewind point,
  // the model holding that round's weights) must end with the same state bit for bit, the same
  // masks and the same records, training only the rounds after k.
  for (int64_t K : {int64_t{0}, int64_t{3}}) {
    CAPTURE(K);
    LotteryTicketOptions o;
    o.rate = 0.5;
    o.rounds = 3;
    o.rewind_iter = K;
    std::vector<int> trained;
    auto train = [&trained](Module& model) {
      return [&trained, m = &model](int round, const PruneMasks& masks, const StepHook& hook) {
        trained.push_back(round);
        std::mt19937 rng(100 + round);
        for (int64_t s = 1; s <= 5; ++s) {
          fake_step(*m, rng);
          apply_masks(*m, masks);
          hook(s);
        }
        return std::make_pair(0.25 * round, 1.0 + round);
      };
    };
    auto full_model = lenet();
    std::vector<WeightSnapshot> state_after;
    std::vector<PruneMasks> masks_after;
    const LotteryTicketResult full = run_lottery_ticket(
        *full_model, dense_masks(*full_model), o, train(*full_model), [&](const LotteryRound&, const PruneMasks& m) {
          state_after.push_back(WeightSnapshot::take(*full_model));
          masks_after.push_back(m);
        });
    REQUIRE(full.rounds.size() == 4);
    const std::vector<std::vector<float>> end_state = state_values(*full_model);
    for (size_t k = 0; k < 4; ++k) {
      CAPTURE(k);
      auto model = lenet(99);  // other initial weights: everything must come from the progress
      state_after[k].restore(*model);
      LotteryTicketProgress progress;
      progress.rounds.assign(full.rounds.begin(), full.rounds.begin() + static_cast<std::ptrdiff_t>(k + 1));
      progress.masks = masks_after[k];
      progress.theta0 = full.theta0;
      progress.rewind_point = full.rewind_point;
      trained.clear();
      const LotteryTicketResult r =
          run_lottery_ticket(*model, dense_masks(*model), o, train(*model), nullptr, nullptr, &progress);
      std::vector<int> expected_rounds;
      for (int round = static_cast<int>(k) + 1; round <= 3; ++round) expected_rounds.push_back(round);
      CHECK(trained == expected_rounds);
      REQUIRE(r.rounds.size() == 4);
      for (size_t i = 0; i < 4; ++i) {
        CHECK(r.rounds[i].kept == full.rounds[i].kept);
        CHECK(r.rounds[i].test_acc == full.rounds[i].test_acc);
      }
      REQUIRE(r.masks.size() == full.masks.size());
      for (size_t l = 0; l < r.masks.size(); ++l) CHECK(r.masks[l].keep == full.masks[l].keep);
      const std::vector<std::vector<float>> got = state_values(*model);
      REQUIRE(got.size() == end_state.size());
      for (size_t t = 0; t < got.size(); ++t)
        REQUIRE(std::memcmp(got[t].data(), end_state[t].data(), got[t].size() * sizeof(float)) == 0);
    }
    // Progress of another schedule (a round's kept count off it) is refused.
    LotteryTicketProgress wrong;
    wrong.rounds.assign(full.rounds.begin(), full.rounds.begin() + 2);
    wrong.rounds[1].kept += 1;
    wrong.masks = masks_after[1];
    wrong.theta0 = full.theta0;
    wrong.rewind_point = full.rewind_point;
    auto model = lenet();
    CHECK_THROWS_AS(run_lottery_ticket(*model, dense_masks(*model), o, train(*model), nullptr, nullptr, &wrong),
                    InputError);
  }
}

TEST_CASE("masked training resumed from an epoch checkpoint ends as the uninterrupted call", "[pruning][training]") {
  // A 3-epoch call (momentum, StepLR halving the rate each epoch; with and without the SSL
  // penalty) saves its model and optimizer state after each epoch; a call given the state after
  // epoch 1, 2 or 3 must end with the same state bit for bit and the same test stats, counting
  // its optimizer steps on from the loaded epochs.
  DataOptions d;
  d.name = "synthetic";
  d.synthetic_train = 96;  // 3 batches of 32 an epoch
  d.synthetic_test = 32;
  d.seed = 4;
  const DataSplit data = load_data(d);
  for (bool ssl : {false, true}) {
    CAPTURE(ssl);
    MaskedTrainingOptions o;
    o.epochs = 3;
    o.batch = 32;
    o.sgd.lr = 0.05f;
    o.sgd.momentum = 0.9f;
    o.gamma = 0.5f;
    o.seed = 9;
    if (ssl) o.ssl = {1e-3f, 1e-3f};
    auto base = lenet();
    PruneMasks masks = dense_masks(*base);
    oneshot_global(*base, masks, 0.5);
    apply_masks(*base, masks);
    const WeightSnapshot start = WeightSnapshot::take(*base);

    std::vector<std::pair<WeightSnapshot, OptimizerState>> saved;
    MaskedTrainingOptions full = o;
    full.save_epoch = [&](const Module& m, const Optimizer& opt, int epochs_done) {
      OptimizerState state;
      for (const auto& [name, t] : opt.state()) state.emplace_back(name, t.clone());  // not the live buffers
      saved.emplace_back(WeightSnapshot::take(m), state);
      CHECK(epochs_done == static_cast<int>(saved.size()));
    };
    auto model = lenet();
    start.restore(*model);
    const EpochStats full_test = train_with_masks(*model, masks, full, data);
    REQUIRE(saved.size() == 3);
    const std::vector<std::vector<float>> end_state = state_values(*model);
    for (int stop : {1, 2, 3}) {
      CAPTURE(stop);
      auto resumed_model = lenet(5);
      start.restore(*resumed_model);
      MaskedTrainingOptions resumed = o;
      resumed.load_epochs = [&](Module& m, Optimizer& opt) {
        saved[static_cast<size_t>(stop - 1)].first.restore(m);
        opt.load_state(saved[static_cast<size_t>(stop - 1)].second);
        return stop;
      };
      std::vector<int64_t> steps;
      const EpochStats test =
          train_with_masks(*resumed_model, masks, resumed, data, [&](int64_t s) { steps.push_back(s); });
      REQUIRE(steps.size() == static_cast<size_t>(3 * (3 - stop)));
      if (!steps.empty()) CHECK(steps.front() == 3 * stop + 1);
      CHECK(test.accuracy == full_test.accuracy);
      CHECK(test.loss == full_test.loss);
      const std::vector<std::vector<float>> got = state_values(*resumed_model);
      REQUIRE(got.size() == end_state.size());
      for (size_t t = 0; t < got.size(); ++t)
        REQUIRE(std::memcmp(got[t].data(), end_state[t].data(), got[t].size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("group-lasso gradient: hand-computed values; fast equals the reference", "[pruning][ssl]") {
  // w: (out 2, in 2, k 1) = [[3, 4], [0, 0]]: filter 0 norm 5, filter 1 zero (no term);
  // channel 0 = (3, 0) norm 3, channel 1 = (4, 0) norm 4.
  const std::vector<float> w = {3, 4, 0, 0};
  for (bool fast : {false, true}) {
    std::vector<float> g = {0.5f, 0.5f, 0.5f, 0.5f};
    (fast ? group_lasso_add_grad : group_lasso_add_grad_ref)(w.data(), g.data(), 2, 2, 1, 1.0f, 2.0f);
    // 0.5 + 3/5 + 2*3/3, 0.5 + 4/5 + 2*4/4, 0.5, 0.5
    CHECK(g[0] == Approx(3.1f).epsilon(1e-6));
    CHECK(g[1] == Approx(3.3f).epsilon(1e-6));
    CHECK(g[2] == 0.5f);
    CHECK(g[3] == 0.5f);
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> ww(16 * 6 * 25), a(ww.size()), b(ww.size());
  for (size_t i = 0; i < ww.size(); ++i) ww[i] = u(rng), a[i] = b[i] = u(rng);
  group_lasso_add_grad_ref(ww.data(), a.data(), 16, 6, 25, 0.01f, 0.02f);
  group_lasso_add_grad(ww.data(), b.data(), 16, 6, 25, 0.01f, 0.02f);
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(same_bits(a[i], b[i]));
}

TEST_CASE("SSL drives a hand-built filter and channel to exactly zero and removes them", "[pruning][ssl]") {
  // conv2 (16, 6, 5, 5). With zero data gradient, lr 0.1 and lambda 0.5 every nonzero group's
  // norm drops by lr * lambda = 0.05 per step; a group is snapped to 0 once its norm is
  // <= 0.05. Filter 3 starts at norm 0.52: 0.07 after 9 steps (kept), 0.02 after 10 (snapped).
  // Every other filter starts at norm >= 1.5 and is still > 0.9 after 10 steps.
  auto model = lenet();
  Tensor conv2;
  for (const PrunableLayer& l : prunable_layers(*model))
    if (l.name == "conv2") conv2 = l.weight;
  float* w = conv2.data<float>();
  const int64_t per_filter = 6 * 25;
  for (int64_t n = 0; n < 16; ++n) {
    const double norm = n == 3 ? 0.52 : 1.5 + 0.1 * static_cast<double>(n);
    for (int64_t i = 0; i < per_filter; ++i)
      w[n * per_filter + i] = static_cast<float>(norm / std::sqrt(static_cast<double>(per_filter)));
  }
  MaskedSgd sgd(*model, {0.1f, 0.0f, 0.0f, 0.0f, false}, dense_masks(*model));
  SslOptimizer ssl(*model, sgd, {0.5f, 0.0f});
  auto zero_grads = [&] {
    ssl.zero_grad();
    for (const auto& [name, p] : model->named_parameters()) Tensor(p).set_grad(Tensor::zeros(p.shape()));
  };
  auto filter_norm = [&](int64_t n) {
    double sq = 0;
    for (int64_t i = 0; i < per_filter; ++i) sq += static_cast<double>(w[n * per_filter + i]) * w[n * per_filter + i];
    return std::sqrt(sq);
  };
  for (int s = 1; s <= 9; ++s) {
    zero_grads();
    ssl.step();
  }
  CHECK(filter_norm(3) == Approx(0.07).margin(1e-4));
  zero_grads();
  ssl.step();
  CHECK(filter_norm(3) == 0.0);
  for (int64_t n = 0; n < 16; ++n)
    if (n != 3) CHECK(filter_norm(n) == Approx(1.5 + 0.1 * static_cast<double>(n) - 0.5).margin(1e-4));
  PruneMasks masks = dense_masks(*model);
  const std::vector<RemovedGroups> removed = ssl_removed_groups(*model, masks);
  REQUIRE(removed.size() == 2);  // conv1 and conv2
  CHECK(removed[1].layer == "conv2");
  CHECK(removed[1].zero_filters == 1);
  CHECK(removed[1].zero_channels == 0);
  CHECK(find_mask(masks, "conv2")->kept() == 2400 - per_filter);
  // the removed filter stays 0 in later (masked) training, even under a data gradient
  MaskedSgd after(*model, {0.1f, 0.9f, 0.0f, 5e-4f, false}, masks);
  for (int s = 0; s < 5; ++s) {
    after.zero_grad();
    for (const auto& [name, p] : model->named_parameters()) Tensor(p).set_grad(Tensor::full(p.shape(), 1.0f));
    after.step();
  }
  CHECK(filter_norm(3) == 0.0);

  // channels: conv2 channel 4 small (norm 0.3 over its 16 * 25 weights), lambda_c = 0.5
  auto m2 = lenet();
  Tensor c2;
  for (const PrunableLayer& l : prunable_layers(*m2))
    if (l.name == "conv2") c2 = l.weight;
  float* v = c2.data<float>();
  for (int64_t n = 0; n < 16; ++n)
    for (int64_t c = 0; c < 6; ++c)
      for (int64_t j = 0; j < 25; ++j) v[(n * 6 + c) * 25 + j] = c == 4 ? 0.3f / 20.0f : 0.2f;  // sqrt(400) = 20
  MaskedSgd sgd2(*m2, {0.1f, 0.0f, 0.0f, 0.0f, false}, dense_masks(*m2));
  SslOptimizer ssl2(*m2, sgd2, {0.0f, 0.5f});
  for (int s = 0; s < 6; ++s) {  // 0.3 - 5 * 0.05 = 0.05 -> snapped at step 5 already (<= 0.05 + rounding)
    ssl2.zero_grad();
    for (const auto& [name, p] : m2->named_parameters()) Tensor(p).set_grad(Tensor::zeros(p.shape()));
    ssl2.step();
  }
  PruneMasks masks2 = dense_masks(*m2);
  const std::vector<RemovedGroups> removed2 = ssl_removed_groups(*m2, masks2);
  CHECK(removed2[1].zero_channels == 1);
  CHECK(removed2[1].zero_filters == 0);
  CHECK(find_mask(masks2, "conv2")->kept() == 2400 - 16 * 25);
}
