// The `prune` job (jobs/prune_job.h): prunes a checkpoint and writes DIR/checkpoint.safetensors with the prune
// masks ("prune.<layer>") beside the weights, DIR/report.json (and --json F, the same object),
// and prints the per-layer density table on stdout. Methods:
//   oneshot          global magnitude to --density; --epochs E > 0 fine-tunes with masks kept
//   oneshot-bounded  the same with per-layer floors --min-fc / --min-conv (fractions of a layer)
//   lth              lottery ticket: theta0 = the initialisation of the checkpoint's run (its
//                    recorded --seed), round 0 trains it densely for --epochs, each next round
//                    prunes --rate of the remaining weights, rewinds the survivors to theta0 (or
//                    to theta_K with --rewind-iter K) and trains --epochs again; --rounds N
//                    and/or the target --density end it. DIR/theta0.safetensors (and
//                    theta_k.safetensors) hold the rewind points bit for bit, DIR/rounds.jsonl one
//                    line per round and DIR/rounds/round<r>.safetensors each round's trained network;
//                    --resume continues the run in DIR after its last finished round (its settings,
//                    DIR/lth_run.json, must match; --rounds may grow) and ends as the
//                    uninterrupted run would, bit for bit
//   ssl              trains the checkpoint for --epochs with the group-lasso penalty
//                    (--lambda-filter, --lambda-channel) on conv filters and channels; the
//                    groups that end at zero are removed (masked) and reported
// Training uses the flags of `train` (lr, momentum, weight decay, StepLR, batch, seed, data) and
// saves an epoch checkpoint in DIR/training (removed when the run ends): --resume continues a
// stopped run from its last finished epoch, as the uninterrupted run would end.
// --device cuda trains oneshot fine-tuning and LTH rounds on the GPU (MaskedSgd there, data
// resident); ssl stays on the CPU and says so.
#include "jobs/prune_job.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "jobs/model_source.h"
#include "jobs/run_files.h"
#include "base/error.h"
#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"
#include "onnx/onnx_import.h"
#include "pruning/density_report.h"
#include "pruning/lottery_ticket.h"
#include "pruning/masked_training.h"
#include "pruning/oneshot_prune.h"
#include "pruning/prune_mask_io.h"

namespace stuckat::jobs {
namespace {

// Every check that needs no file, so bad flags fail before any data is read.
void check_flags(PruneOptions& f) {
  const bool oneshot = f.method == "oneshot" || f.method == "oneshot-bounded";
  if (!oneshot && f.method != "lth" && f.method != "ssl")
    throw_input_error("--method {} is not a pruning method; expected oneshot, oneshot-bounded, lth or ssl", f.method);
  check_training_settings(f);
  if (f.density != -1 && !(f.density > 0.0 && f.density <= 1.0))
    throw_input_error("--density must be in (0, 1] (the fraction of weights kept), got {}", f.density);
  if (oneshot && f.density == -1) throw_input_error("--method {} needs --density D, D in (0, 1]", f.method);
  if (!(f.min_fc >= 0.0 && f.min_fc <= 1.0)) throw_input_error("--min-fc must be in [0, 1], got {}", f.min_fc);
  if (!(f.min_conv >= 0.0 && f.min_conv <= 1.0)) throw_input_error("--min-conv must be in [0, 1], got {}", f.min_conv);
  if (f.rounds != -1 && f.rounds < 1) throw_input_error("--rounds must be >= 1, got {}", f.rounds);
  if (!(f.rate > 0.0 && f.rate < 1.0)) throw_input_error("--rate must be in (0, 1) (the fraction pruned per round), got {}", f.rate);
  if (f.rewind_iter < 0) throw_input_error("--rewind-iter must be >= 0, got {}", f.rewind_iter);
  if (!(f.lambda_filter >= 0) || !(f.lambda_channel >= 0) || std::isinf(f.lambda_filter) || std::isinf(f.lambda_channel))
    throw_input_error("--lambda-filter and --lambda-channel must be finite and >= 0");
  if (f.method == "lth" && f.rounds == -1 && f.density == -1)
    throw_input_error("--method lth needs --rounds N (>= 1) and/or a target --density");
  if ((f.method == "lth" || f.method == "ssl") && f.epochs < 1)
    throw_input_error("--method {} trains: give --epochs E >= 1 (epochs per round for lth)", f.method);
  if (f.method == "ssl" && f.lambda_filter == 0 && f.lambda_channel == 0)
    throw_input_error("--method ssl needs --lambda-filter and/or --lambda-channel > 0");
}

// The settings a prune run's result depends on, but --rounds (which may grow): --resume refuses
// to continue a run started with others (lth: DIR/lth_run.json; the training's epoch
// checkpoints in DIR/training record them too).
nlohmann::json prune_run_config(const PruneOptions& f, const std::string& model, const Dataset& train) {
  // A float flag as the double its shortest text reads back to (0.1, not 0.10000000149011612).
  auto flag = [](double x) { return std::stod(fmt::format("{}", static_cast<float>(x))); };
  return {{"checkpoint", f.checkpoint},         {"model", model},
          {"method", f.method},                 {"density", f.density},
          {"min_fc", f.min_fc},                 {"min_conv", f.min_conv},
          {"rate", f.rate},                     {"rewind_iter", f.rewind_iter},
          {"lambda_filter", flag(f.lambda_filter)}, {"lambda_channel", flag(f.lambda_channel)},
          {"data", train.name},                 {"train_images", train.size()},
          {"epochs", f.epochs},                 {"batch", f.batch},
          {"lr", flag(f.sgd.lr)},               {"momentum", flag(f.sgd.momentum)},
          {"dampening", flag(f.sgd.dampening)}, {"nesterov", f.sgd.nesterov},
          {"weight_decay", flag(f.sgd.weight_decay)}, {"step_size", f.step_size},
          {"gamma", flag(f.gamma)},             {"seed", f.seed}};
}

// Epoch checkpoints of one training call (`stage`: "fine-tune", "ssl", "lth round <r>") in
// DIR/training: saved after every epoch; with --resume a saved state of the same stage and
// settings is loaded and the call goes on from it (a state of another stage, e.g. an earlier lth
// round's, is not this call's: it starts afresh and overwrites it).
void add_epoch_checkpoints(MaskedTrainingOptions& o, const PruneOptions& f, const nlohmann::json& settings,
                           const std::string& stage) {
  auto files = std::make_shared<RunFiles>(f.out + "/training");
  nlohmann::json config = settings;
  config["stage"] = stage;
  const bool resume = f.resume;
  o.load_epochs = [files, config, resume, stage](Module& model, Optimizer& opt) {
    if (!resume || !files->has_state() || files->saved_config().value("stage", "") != stage) return 0;
    std::vector<std::string> metrics;
    const int done = files->load_state(model, opt, config, metrics);
    std::fprintf(stderr, "resuming %s after epoch %d\n", stage.c_str(), done);
    return done;
  };
  o.save_epoch = [files, config](const Module& model, const Optimizer& opt, int epochs_done) {
    files->save(model, opt, config, epochs_done, {});
  };
}

// A checkpoint's state (and its prune masks), read into a CPU copy of the model.
WeightSnapshot read_snapshot(const std::string& path, const ModelSource& source, uint64_t seed, PruneMasks* masks) {
  std::shared_ptr<Module> copy = source.build(seed);
  load_checkpoint(path, *copy, source.name());
  if (masks != nullptr) *masks = read_prune_masks(path, *copy);
  return WeightSnapshot::take(*copy);
}

// The JSON object in `path`, or null when it is missing or not JSON.
nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  return in && j.is_object() ? j : nlohmann::json(nullptr);
}

// The finished rounds of the lth run in f.out (--resume): their records (also as rounds.jsonl's
// lines and JSON), the last one's masks with its trained weights restored into `model`, theta0 and
// the rewind point, checked against the schedule of `options` and the initial `masks`. Nothing
// when the folder holds no finished round. Throws InputError first when the folder holds a run
// started with other settings than `config` (DIR/lth_run.json).
std::optional<LotteryTicketProgress> read_lth_progress(const PruneOptions& f, const ModelSource& source, Module& model,
                                                       const PruneMasks& masks, const LotteryTicketOptions& options,
                                                       const nlohmann::json& config, nlohmann::json& rounds_json,
                                                       std::string& rounds_text) {
  const std::string rounds_path = f.out + "/rounds.jsonl", config_path = f.out + "/lth_run.json";
  const nlohmann::json saved = read_json_file(config_path);
  if (std::filesystem::exists(config_path) || std::filesystem::exists(rounds_path)) {
    if (!saved.is_object())
      throw_input_error("--resume: {} has an lth run but no readable {}; choose another --out", f.out, config_path);
    for (const auto& [key, value] : config.items())
      if (!saved.contains(key) || saved[key] != value)
        throw_input_error("--resume: the run in {} was started with {} {}, not {}; pass the same flags or another --out",
                          f.out, key, saved.contains(key) ? saved[key].dump() : std::string("unset"), value.dump());
  }
  if (!std::filesystem::exists(rounds_path)) return std::nullopt;
  LotteryTicketProgress progress;
  std::ifstream in(rounds_path);
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    const bool ok = row.is_object() && row.contains("round") && row["round"].is_number_integer() &&
                    row.contains("kept") && row["kept"].is_number_integer() && row.contains("total") &&
                    row["total"].is_number_integer() && row.contains("test_acc") && row["test_acc"].is_number() &&
                    row.contains("test_loss") && row["test_loss"].is_number();
    if (!ok) throw_input_error("--resume: {} line {} is not a round record; choose another --out", rounds_path, line_no);
    progress.rounds.push_back({row["round"].get<int>(), row["kept"].get<int64_t>(), row["total"].get<int64_t>(),
                               row["test_acc"].get<double>(), row["test_loss"].get<double>()});
    rounds_json.push_back(row);
    rounds_text += line + "\n";
  }
  if (progress.rounds.empty()) return std::nullopt;
  const int last = progress.rounds.back().round;
  read_snapshot(fmt::format("{}/rounds/round{}.safetensors", f.out, last), source, f.seed, &progress.masks).restore(model);
  progress.theta0 = read_snapshot(f.out + "/theta0.safetensors", source, f.seed, nullptr);
  progress.rewind_point =
      f.rewind_iter > 0 ? read_snapshot(f.out + "/theta_k.safetensors", source, f.seed, nullptr) : progress.theta0;
  check_lottery_ticket_progress(masks, options, progress);
  std::fprintf(stderr, "resuming the lth run in %s after round %d\n", f.out.c_str(), last);
  return progress;
}

MaskedTrainingOptions training_options(const PruneOptions& f) {
  MaskedTrainingOptions o;
  o.epochs = f.epochs;
  o.batch = f.batch;
  o.eval_batch = f.eval_batch;
  o.sgd = f.sgd;
  o.step_size = f.step_size;
  o.gamma = f.gamma;
  o.seed = f.seed;
  return o;
}

EpochHook epoch_log(const std::string& what) {
  return [what](int epoch, const EpochStats& tr, const EpochStats& te) {
    std::fprintf(stderr, "%s epoch %d  train_loss %.4f  train_acc %.4f  test_acc %.4f  %.0f img/s\n", what.c_str(), epoch,
                 tr.loss, tr.accuracy, te.accuracy, tr.seconds > 0 ? static_cast<double>(tr.images) / tr.seconds : 0.0);
  };
}

// What the three methods share: the options, the model and its masks, the data, the training
// settings and the report's extra fields.
struct PruneRun {
  const PruneOptions& f;
  const ModelSource& source;
  const std::map<std::string, std::string>& meta;
  std::shared_ptr<Module> model;
  PruneMasks& masks;
  DataSplit& data;
  MaskedTrainingOptions& train;
  nlohmann::json& extra;

  // One-shot (optionally bounded) pruning to f.density, then fine-tuning for f.epochs.
  EpochStats oneshot(EpochStats final_test);
  // Lottery ticket rounds (resumable); the rounds go into extra["rounds"] and DIR.
  EpochStats lth(EpochStats final_test);
  // SSL training with the group-lasso penalty; the groups that reach zero are masked and listed.
  EpochStats ssl(EpochStats final_test, std::string& ssl_text);
};

EpochStats PruneRun::oneshot(EpochStats final_test) {
  if (f.method == "oneshot") {
    oneshot_global(*model, masks, f.density);
  } else {
    const BoundedOneshotReport r = oneshot_bounded(*model, masks, f.density, f.min_fc, f.min_conv);
    extra["min_fc"] = f.min_fc;
    extra["min_conv"] = f.min_conv;
    extra["requested_kept"] = r.requested;
    if (r.kept > r.requested)
      std::fprintf(stderr, "the per-layer floors need %lld weights, more than --density %g keeps (%lld)\n",
                   static_cast<long long>(r.kept), f.density, static_cast<long long>(r.requested));
  }
  apply_masks(*model, masks);
  extra["density_requested"] = f.density;
  final_test = evaluate(*model, data.test, f.eval_batch);
  extra["test_acc_pruned"] = final_test.accuracy;
  if (f.epochs > 0) {
    add_epoch_checkpoints(train, f, prune_run_config(f, source.name(), data.train), "fine-tune");
    final_test = train_with_masks(*model, masks, train, data, nullptr, epoch_log("fine-tune"));
  }
  return final_test;
}

EpochStats PruneRun::lth(EpochStats final_test) {
  LotteryTicketOptions o;
  o.rate = f.rate;
  o.rounds = f.rounds == -1 ? 0 : f.rounds;
  o.density = f.density == -1 ? 0.0 : f.density;
  o.rewind_iter = f.rewind_iter;
  const std::map<std::string, std::string> snap_meta = {{"model", source.name()}};
  // theta0: the checkpoint's run's initialisation, regenerated from its seed.
  std::shared_ptr<Module> init = source.build(f.seed);
  WeightSnapshot::take(*init).restore(*model);
  std::string rounds_text;
  nlohmann::json rounds = nlohmann::json::array();
  const nlohmann::json run_config = prune_run_config(f, source.name(), data.train);
  std::optional<LotteryTicketProgress> progress;
  if (f.resume) progress = read_lth_progress(f, source, *model, masks, o, run_config, rounds, rounds_text);
  const std::string theta_k = f.out + "/theta_k.safetensors";
  if (f.resume && !progress && f.rewind_iter > 0 && std::filesystem::exists(theta_k) &&
      std::filesystem::exists(f.out + "/lth_run.json")) {  // the same run's (read_lth_progress checked)
    // Round 0 stopped after step K: theta_K is the rewind point; its epochs resume from DIR/training.
    progress.emplace();
    progress->rewind_point = read_snapshot(theta_k, source, f.seed, nullptr);
  }
  const bool no_round_done = !progress || progress->rounds.empty();
  if (no_round_done) {  // a new run: an earlier run's rounds in the folder are not its own
    std::filesystem::remove(f.out + "/rounds.jsonl");
    write_file_atomically(f.out + "/lth_run.json", run_config.dump(2) + "\n");
  }
  auto train_round = [&](int r, const PruneMasks& m, const StepHook& hook) {
    MaskedTrainingOptions round_train = train;
    add_epoch_checkpoints(round_train, f, run_config, fmt::format("lth round {}", r));
    const EpochStats st = train_with_masks(*model, m, round_train, data, hook, epoch_log(fmt::format("round {}", r)));
    return std::make_pair(st.accuracy, st.loss);
  };
  std::filesystem::create_directories(f.out + "/rounds");
  auto round_done = [&](const LotteryRound& rec, const PruneMasks& m) {
    nlohmann::json row = {{"round", rec.round}, {"kept", rec.kept}, {"total", rec.total},
                          {"density", static_cast<double>(rec.kept) / static_cast<double>(rec.total)},
                          {"test_acc", rec.test_acc}, {"test_loss", rec.test_loss}};
    std::map<std::string, std::string> round_meta = meta;
    round_meta["model"] = source.name();
    round_meta["lth_round"] = std::to_string(rec.round);
    // The round's network first: a round listed in rounds.jsonl always has its file (--resume).
    save_checkpoint(fmt::format("{}/rounds/round{}.safetensors", f.out, rec.round), *model, round_meta,
                    prune_mask_tensors(m));
    rounds.push_back(row);
    rounds_text += row.dump() + "\n";
    write_file_atomically(f.out + "/rounds.jsonl", rounds_text);
    std::fprintf(stderr, "round %d: density %.4f%%  test_acc %.4f\n", rec.round,
                 100.0 * static_cast<double>(rec.kept) / static_cast<double>(rec.total), rec.test_acc);
  };
  auto saved_rewind_point = [&](const WeightSnapshot& s) {
    s.save(f.out + (f.rewind_iter > 0 ? "/theta_k.safetensors" : "/theta0.safetensors"), snap_meta);
  };
  if (f.rewind_iter > 0 && no_round_done) WeightSnapshot::take(*model).save(f.out + "/theta0.safetensors", snap_meta);
  LotteryTicketResult result = run_lottery_ticket(*model, masks, o, train_round, round_done, saved_rewind_point,
                                                  progress ? &*progress : nullptr);
  masks = result.masks;
  final_test.accuracy = result.rounds.back().test_acc;
  final_test.loss = result.rounds.back().test_loss;
  extra["rate"] = f.rate;
  extra["rewind_iter"] = f.rewind_iter;
  extra["rounds"] = rounds;
  extra["test_acc_dense"] = result.rounds.front().test_acc;
  return final_test;
}

EpochStats PruneRun::ssl(EpochStats final_test, std::string& ssl_text) {
  train.ssl = {f.lambda_filter, f.lambda_channel};
  add_epoch_checkpoints(train, f, prune_run_config(f, source.name(), data.train), "ssl");
  train_with_masks(*model, masks, train, data, nullptr, epoch_log("ssl"));
  nlohmann::json removed = nlohmann::json::array();
  for (const RemovedGroups& g : ssl_removed_groups(*model, masks)) {
    removed.push_back({{"layer", g.layer}, {"filters", g.filters}, {"zero_filters", g.zero_filters},
                       {"channels", g.channels}, {"zero_channels", g.zero_channels}});
    ssl_text += fmt::format("{}: removed {} of {} filters, {} of {} channels\n", g.layer, g.zero_filters, g.filters,
                            g.zero_channels, g.channels);
  }
  apply_masks(*model, masks);
  final_test = evaluate(*model, data.test, f.eval_batch);
  extra["lambda_filter"] = f.lambda_filter;
  extra["lambda_channel"] = f.lambda_channel;
  extra["removed"] = removed;
  return final_test;
}

}  // namespace

PruneResult run_pruning(PruneOptions f) {
  const Device device = f.device;
  check_flags(f);
  if (device != Device::CPU && f.method == "ssl")
    throw_input_error("--method ssl trains on the CPU in this build (its group-lasso step is CPU code); use --device cpu");
  const ModelSource source = ModelSource::from_checkpoint(f.checkpoint, f.model);
  const std::map<std::string, std::string>& meta = source.metadata();
  if (!f.seed_given) {  // the checkpoint's own run seed: theta0 of lth is that run's initialisation
    auto it = meta.find("config");
    const nlohmann::json config = it == meta.end() ? nlohmann::json() : nlohmann::json::parse(it->second, nullptr, false);
    if (config.is_object() && config.contains("seed") && config["seed"].is_number_unsigned())
      f.seed = config["seed"].get<uint64_t>();
  }
  std::shared_ptr<Module> model = source.load();
  PruneMasks masks = is_onnx_path(f.checkpoint) ? dense_masks(*model) : read_prune_masks(f.checkpoint, *model);
  apply_masks(*model, masks);

  f.data.seed = f.seed;
  f.data.compact_train = true;  // the training split as bytes, converted batch by batch
  DataSplit data = load_data(f.data);
  const Tensor& im = data.test.images;
  source.check_input(im.size(1), im.size(2), im.size(3), data.test.name);
  if (device != Device::CPU) {  // model, masks' effect and data on the GPU for every round
    model->to(device);
    data.train.to_device(device);
    data.test.to_device(device);
  }
  const int64_t steps_per_round = f.epochs * ((data.train.size() + f.batch - 1) / f.batch);
  if (f.method == "lth" && f.rewind_iter > steps_per_round)
    throw_input_error("--rewind-iter {} is beyond the {} optimizer steps of one training round ({} epochs); use a "
                      "smaller K or more --epochs", f.rewind_iter, steps_per_round, f.epochs);
  std::error_code ec;
  std::filesystem::create_directories(f.out, ec);
  if (ec) throw_input_error("--out {}: cannot create the directory ({})", f.out, ec.message());

  nlohmann::json extra = {{"method", f.method}, {"checkpoint", f.checkpoint}, {"model", source.name()}};
  const EpochStats before = evaluate(*model, data.test, f.eval_batch);
  extra["test_acc_before"] = before.accuracy;
  MaskedTrainingOptions train = training_options(f);
  train.build_replica = [&source, &f] { return source.build(f.seed); };
  EpochStats final_test = before;
  std::string ssl_text;  // the groups SSL removed, for the terminal

  PruneRun run{f, source, meta, model, masks, data, train, extra};
  if (f.method == "oneshot" || f.method == "oneshot-bounded")
    final_test = run.oneshot(final_test);
  else if (f.method == "lth")
    final_test = run.lth(final_test);
  else
    final_test = run.ssl(final_test, ssl_text);
  extra["epochs"] = f.epochs;
  extra["test_acc"] = final_test.accuracy;
  extra["test_loss"] = final_test.loss;

  const std::vector<LayerDensity> rows = density_report(*model, masks);
  nlohmann::json report = density_json(rows);
  for (auto& [k, v] : extra.items()) report[k] = v;
  nlohmann::json config = {{"method", f.method}, {"density", f.density}, {"rate", f.rate}, {"rounds", f.rounds},
                           {"rewind_iter", f.rewind_iter}, {"min_fc", f.min_fc}, {"min_conv", f.min_conv},
                           {"lambda_filter", f.lambda_filter}, {"lambda_channel", f.lambda_channel},
                           {"epochs", f.epochs}, {"lr", f.sgd.lr}, {"momentum", f.sgd.momentum},
                           {"weight_decay", f.sgd.weight_decay}, {"batch", f.batch}, {"seed", f.seed}};
  std::map<std::string, std::string> out_meta = meta;
  for (const auto& [k, v] : source.checkpoint_metadata()) out_meta[k] = v;  // model (and an imported graph)
  out_meta["data"] = data.test.name;
  out_meta["pruned_from"] = f.checkpoint;
  out_meta["prune"] = config.dump();
  out_meta["density"] = fmt::format("{}", report["total"]["density"].get<double>());
  save_checkpoint(f.out + "/checkpoint.safetensors", *model, out_meta, prune_mask_tensors(masks));
  write_file_atomically(f.out + "/report.json", report.dump(2) + "\n");
  std::filesystem::remove_all(f.out + "/training");  // the epoch checkpoints: the run is done
  if (!f.json.empty()) write_file_atomically(f.json, report.dump(2) + "\n", "--json");

  const std::string text = ssl_text + density_table(rows) +
                           fmt::format("method {}  test_acc before {:.4f}  after {:.4f}  checkpoint {}/checkpoint.safetensors\n",
                                       f.method, before.accuracy, final_test.accuracy, f.out);
  return {report, text};
}


}  // namespace stuckat::jobs
