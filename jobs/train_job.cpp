// The `train` job (jobs/train_job.h): writes DIR/checkpoint.safetensors, DIR/metrics.jsonl and DIR/train_state.safetensors (the
// optimizer state that --resume continues from). Every file is written to a temporary name
// and renamed, so an interrupted run never leaves a half-written result.
// With --quant, --faults and/or --fault-masks the conv/linear weights are 16-bit words trained by
// FaultAwareSgd in the chosen --fault-mode; --fault-masks F starts the stuck bits from F's masks
// (faults/fault_mask_io.h) and --faults stack on top; the checkpoint carries the masks. When a
// batch loss becomes NaN or infinite, training stops, DIR/divergence.json is written, the last finished epoch's files are kept, and the exit
// code is 3. --histograms writes per-layer weight histograms (DIR/histograms.csv, one row per bin,
// DIR/histogram_summary.csv, one row per layer and record, and one PNG per record under
// DIR/histograms/) at the scheduled epochs/batches:
// epoch-end records have batch -1 and epoch = finished epochs (0 = the initial weights); batch
// records have the epoch in progress and the batch number, both counted from 1.
// --init F starts from checkpoint F's weights (the model recorded in F unless --model is given)
// and keeps F's prune masks ("prune.<layer>", written by `stuckat prune`): pruned weights stay
// exactly 0 (MaskedSgd for f32 training, the fused update's mask with --quant/--faults), and
// the masks are saved with every checkpoint. With --faults, target=nonzero then faults only the
// remaining weights; a stuck-at-1 bit on a pruned cell (target=all) is reported (stderr and
// "pruned_cells" in the summary JSON) because it makes that pruned weight nonzero.
#include "jobs/train_job.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "jobs/local_gpu.h"
#include "jobs/model_source.h"
#include "jobs/run_files.h"
#include "cluster/work_queue.h"
#include "cluster/world.h"
#include "faults/fault_aware_sgd.h"
#include "faults/fault_mask_io.h"
#include "faults/fault_sgd_update.h"
#include "faults/fault_spec.h"
#include "base/weight_format.h"
#include "faults/weight_histogram_png.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/optim/sgd.h"
#include "framework/parallel.h"
#include "framework/train/trainer.h"
#include "framework/train/thread_replicas.h"
#include "framework/train/weight_histogram.h"
#include "models/model_zoo.h"
#include "pruning/masked_sgd.h"
#include "pruning/prune_mask_io.h"
#include "pruning/pruned_cell_faults.h"

namespace stuckat::jobs {
namespace {

// The parameter with the largest finite-or-infinite magnitude, and that magnitude.
std::pair<std::string, double> largest_weights(const Module& model) {
  std::pair<std::string, double> best{"", -1.0};
  for (const auto& [name, t] : model.named_parameters()) {
    const Tensor c = t.to(Device::CPU).contiguous();
    const float* w = c.data<float>();
    double m = 0;
    for (int64_t i = 0; i < c.numel(); ++i)
      if (!std::isnan(w[i])) m = std::max(m, static_cast<double>(std::fabs(w[i])));
    if (m > best.second) best = {name, m};
  }
  return best;
}

// Rewrites DIR/<name> (a histogram CSV: a header, then rows whose first field is the epoch)
// without the rows of epochs after `epoch`; nothing when the file does not exist.
void drop_records_after(const RunFiles& files, const std::string& name, int epoch) {
  std::ifstream in(files.path(name));
  if (!in) return;
  std::string line, kept;
  for (bool header = true; std::getline(in, line); header = false)
    if (header || std::atoi(line.c_str()) <= epoch) kept += line + "\n";
  files.write_text(name, kept);
}

// Appends one record of every conv/linear layer's weight histogram to the run's two CSV files
// and draws it as DIR/histograms/epoch<E>[_batch<B>].png.
void append_histograms(const RunFiles& files, const Module& model, int bins, int epoch, int64_t batch) {
  std::string rows, summary;
  std::vector<LayerHistogram> layers;
  for (const auto& [name, t] : model.named_parameters()) {
    if (t.dim() < 2) continue;
    const std::string layer = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0
                                  ? name.substr(0, name.size() - 7)
                                  : name;
    const Tensor c = t.to(Device::CPU).contiguous();
    const WeightHistogram h = weight_histogram(c.data<float>(), c.numel(), bins);
    rows += histogram_csv_rows(epoch, batch, layer, h);
    summary += histogram_summary_row(epoch, batch, layer, h);
    layers.push_back({layer, h});
  }
  auto append = [](const std::string& path, const std::string& header, const std::string& text) {
    const bool fresh = !std::filesystem::exists(path);
    std::ofstream out(path, std::ios::app);
    if (fresh) out << header;
    out << text;
    if (!out) throw Error(fmt::format("could not write {}", path));
  };
  append(files.path("histograms.csv"), histogram_csv_header(), rows);
  append(files.path("histogram_summary.csv"), histogram_summary_header(), summary);
  std::filesystem::create_directories(files.path("histograms"));
  const std::string name = batch < 0 ? fmt::format("epoch{}", epoch) : fmt::format("epoch{}_batch{}", epoch, batch);
  const std::string title = batch < 0 ? fmt::format("weights after epoch {}", epoch)
                                      : fmt::format("weights at epoch {}, batch {}", epoch, batch);
  write_weight_histogram_png(title, layers, files.path("histograms/" + name + ".png"));
}

// "nan", "inf", "-inf" or the number: JSON numbers cannot hold the first three.
std::string float_text(double x) { return std::isnan(x) ? std::string("nan") : fmt::format("{}", x); }

// The settings that must match for --resume to continue a run (epochs may grow).
nlohmann::json run_config(const TrainOptions& f, const Dataset& train) {
  return {{"model", f.model},       {"data", train.name},           {"batch", f.batch},
          {"lr", f.sgd.lr},         {"momentum", f.sgd.momentum},   {"dampening", f.sgd.dampening},
          {"nesterov", f.sgd.nesterov}, {"weight_decay", f.sgd.weight_decay}, {"step_size", f.step_size},
          {"gamma", f.gamma},       {"seed", f.seed},               {"train_images", train.size()}};
}

// Adds the initialisation scheme where it is not PyTorch's default (so earlier runs resume as before).
void add_weight_init_config(nlohmann::json& config, const TrainOptions& f) {
  if (f.weight_init != "default") config["weight_init"] = f.weight_init;
}

// Adds the fault-aware training settings (only for quantised runs, so plain runs resume as before).
void add_fault_config(nlohmann::json& config, const WeightFormat& format, const std::vector<FaultSpec>& specs,
                      FaultMode mode, float clip_bound, const std::string& fault_masks) {
  if (format.is_none()) return;
  if (!fault_masks.empty()) config["fault_masks"] = fault_masks;
  nlohmann::json faults = nlohmann::json::array();
  for (const FaultSpec& s : specs) faults.push_back(fault_spec_string(s));
  config["quant"] = weight_format_name(format);
  config["faults"] = faults;
  config["fault_mode"] = fault_mode_name(mode);
  config["clip_bound"] = clip_bound;
}

// The fault-aware settings, checked together (a flag that needs another names it).
struct FaultSettings {
  std::vector<FaultSpec> specs;
  WeightFormat format;
  FaultMode mode;
};

FaultSettings parse_fault_settings(const TrainOptions& f) {
  std::vector<FaultSpec> specs;
  for (const std::string& text : f.faults) specs.push_back(parse_fault_spec(text));
  const bool faulty = !specs.empty() || !f.fault_masks.empty();
  const WeightFormat format = parse_weight_format(f.quant.empty() ? (faulty ? "q4.11" : "none") : f.quant);
  const FaultMode mode = parse_fault_mode(f.fault_mode);
  if (!(f.clip_bound >= 0.0f) || std::isinf(f.clip_bound))
    throw_input_error("--clip-bound must be a finite number >= 0 (0: the layer's largest fault-free magnitude), got {}",
                      f.clip_bound);
  if (!faulty && f.fault_mode_given)
    throw_input_error("--fault-mode applies to training with stuck-at faults; add --faults (e.g. "
                      "layer=conv2,bit=15,stuck=1,rate=0.01) or --fault-masks, or drop --fault-mode");
  if (f.clip_bound_given && (!faulty || mode != FaultMode::Clip))
    throw_input_error("--clip-bound applies to --fault-mode clip with --faults or --fault-masks");
  if (faulty && format.is_none())
    throw_input_error("--faults/--fault-masks need 16-bit weight words, but --quant is none; choose a format such as "
                      "--quant q4.11");
  return {specs, format, mode};
}

// The optimizer for the run: MaskedSgd for a pruned f32 network, Sgd for a plain one, and
// FaultAwareSgd (with the prune masks, and a report of the pruned cells a stuck-at-1 bit makes
// nonzero) for 16-bit words with faults.
struct Optimizers {
  std::unique_ptr<Optimizer> opt;
  FaultAwareSgd* fault_opt = nullptr;  // opt, when it is fault-aware
  nlohmann::json pruned_cells = nlohmann::json::array();
};

Optimizers make_optimizers(Module& model, const TrainOptions& f, const FaultSettings& s, const PruneMasks& masks,
                           bool pruned) {
  Optimizers o;
  if (pruned && s.format.is_none()) {
    o.opt = std::make_unique<MaskedSgd>(model, f.sgd, masks);
  } else if (s.format.is_none()) {
    std::vector<Tensor> params;
    std::vector<std::string> names;
    for (const auto& [name, t] : model.named_parameters()) {
      names.push_back(name);
      params.push_back(t);
    }
    o.opt = std::make_unique<Sgd>(params, f.sgd, names);
  } else {
    LayerFaultMaps file_masks;
    if (!f.fault_masks.empty()) file_masks = read_fault_masks(f.fault_masks, model, "--fault-masks");
    auto fault_sgd = std::make_unique<FaultAwareSgd>(model, f.sgd, s.format, s.specs, s.mode, f.clip_bound, file_masks);
    for (const LayerMask& m : masks) {
      if (m.kept() == m.total()) continue;
      fault_sgd->set_prune_mask(m.layer, m.keep);
      for (const FaultAwareSgd::Layer& l : fault_sgd->layers()) {
        if (l.name != m.layer) continue;
        const PrunedCellFaults pc =
            count_pruned_cell_faults(m.keep.data(), l.map.and_mask.data(), l.map.or_mask.data(), m.total(), l.format);
        nlohmann::json row = pruned_cell_faults_json(pc);
        row["layer"] = m.layer;
        o.pruned_cells.push_back(row);
        if (pc.stuck_at_1 > 0)
          std::fprintf(stderr, "%s: %lld of %lld pruned weights have a bit stuck at 1; %lld of them read nonzero "
                       "(max |w| %g) in --fault-mode %s\n", m.layer.c_str(), static_cast<long long>(pc.stuck_at_1),
                       static_cast<long long>(pc.pruned), static_cast<long long>(pc.nonzero), pc.max_abs,
                       fault_mode_name(s.mode).c_str());
      }
    }
    o.fault_opt = fault_sgd.get();
    o.opt = std::move(fault_sgd);
  }
  return o;
}

// Writes DIR/divergence.json (where the loss stopped being finite, the largest weights, the last
// finite checkpoint) and says so on stderr; returns the report.
nlohmann::json report_divergence(const RunFiles& files, const Module& model, const EpochStats& tr, int epoch, float lr) {
  const auto [layer, magnitude] = largest_weights(model);
  const bool have_checkpoint = std::filesystem::exists(files.checkpoint_path());
  nlohmann::json report = {{"epoch", epoch + 1},
                           {"batch", tr.bad_batch + 1},
                           {"loss", float_text(tr.bad_loss)},
                           {"largest_weights_parameter", layer},
                           {"largest_abs_weight", float_text(magnitude)},
                           {"epochs_finished", epoch},
                           {"last_finite_checkpoint", have_checkpoint ? nlohmann::json(files.checkpoint_path())
                                                                      : nlohmann::json(nullptr)},
                           {"lr", lr}};
  files.write_text("divergence.json", report.dump(2) + "\n");
  std::fprintf(stderr,
               "stuckat: training diverged: the loss became %s in epoch %d, batch %lld (largest weights: %s, "
               "max |w| %s); report in %s, %s\n",
               float_text(tr.bad_loss).c_str(), epoch + 1, static_cast<long long>(tr.bad_batch + 1), layer.c_str(),
               float_text(magnitude).c_str(), files.path("divergence.json").c_str(),
               have_checkpoint ? ("last finite checkpoint kept: " + files.checkpoint_path()).c_str()
                               : "no epoch finished, so no checkpoint was written");
  return report;
}

// Continues the run in DIR (f.resume and a saved state: returns its finished epochs, with the
// schedule, metrics and files brought up to date) or starts afresh (its old records removed).
int open_run(const RunFiles& files, Module& model, Optimizer& opt, StepLR& sched, const nlohmann::json& config,
             std::vector<std::string>& metrics, const TrainOptions& f, bool writer) {
  int start_epoch = 0;
  if (f.resume && files.has_state()) {
    start_epoch = files.load_state(model, opt, config, metrics);
    for (int e = 0; e < start_epoch; ++e) sched.step();
    // The checkpoint may be an epoch behind the state, metrics.jsonl an epoch ahead (a kill
    // between the writes): both written again from it, so a run with no epoch left ends current.
    if (writer) files.save(model, opt, config, start_epoch, metrics);
    // Histogram records of an epoch that did not finish (its batch records, or its end record
    // written before a kill) go: the resumed epochs write them again.
    if (writer)
      for (const char* name : {"histograms.csv", "histogram_summary.csv"}) drop_records_after(files, name, start_epoch);
    if (writer) std::fprintf(stderr, "resuming %s after epoch %d\n", f.out.c_str(), start_epoch);
  } else if (writer) {
    for (const char* name : {"histograms.csv", "histogram_summary.csv", "divergence.json"})
      std::filesystem::remove(files.path(name));
    std::filesystem::remove_all(files.path("histograms"));
  }
  return start_epoch;
}

// Data-parallel epoch end: the batch norm running statistics (each rank's from its own slices)
// averaged over the ranks, then a hash of every parameter and buffer compared across ranks: the
// weights must be the same bits everywhere (an Error otherwise: the run cannot go on).
void agree_across_ranks(Module& model, int epoch) {
  const int ranks = cluster::world_size();
  for (const auto& [name, t] : model.named_buffers()) {
    if (t.dtype() != DType::F32) continue;
    Tensor host = t.to(Device::CPU).contiguous();
    std::vector<float> v(host.data<float>(), host.data<float>() + host.numel());
    cluster::world_sum(v.data(), static_cast<int64_t>(v.size()));
    for (float& x : v) x /= static_cast<float>(ranks);
    Tensor avg = Tensor::from_vector(v, t.shape());
    Tensor(t).copy_(t.device() == Device::CPU ? avg : avg.to(t.device()));
  }
  uint64_t hash = 1469598103934665603ull;  // FNV-1a over the bytes
  auto mix = [&hash](const Tensor& t) {
    const Tensor host = t.to(Device::CPU).contiguous();
    const unsigned char* b = static_cast<const unsigned char*>(host.raw_data());
    for (size_t i = 0; i < host.nbytes(); ++i) hash = (hash ^ b[i]) * 1099511628211ull;
  };
  for (const auto& [name, t] : model.named_parameters()) mix(t);
  for (const auto& [name, t] : model.named_buffers()) mix(t);
  if (!cluster::world_all_equal(hash))
    throw Error(fmt::format("after epoch {} the ranks hold different weights (rank {}'s hash {:016x}); data-parallel "
                            "training needs every rank to run the same build on the same data",
                            epoch + 1, cluster::world_rank(), hash));
}

}  // namespace

TrainResult run_training(TrainOptions f) {
  // Under mpirun every rank trains its slice of each batch (framework/train/trainer.h); all read the
  // flags and files, rank 0 alone writes the run's files.
  const int rank = cluster::world_rank(), ranks = cluster::world_size();
  const bool writer = rank == 0;
  FaultSettings faults;
  HistogramSchedule histograms;
  ModelSource source;
  DataSplit data;
  std::shared_ptr<Module> model;
  PruneMasks masks;
  bool pruned = false;
  Optimizers optimizers;
  std::unique_ptr<StepLR> sched_ptr;
  nlohmann::json config;
  std::unique_ptr<RunFiles> files_ptr;
  std::vector<std::string> metrics;
  int start_epoch = 0;
  const Device device = f.device;
  cluster::setup_on_every_rank([&] {
    check_training_settings(f);
    if (ranks > 1 && f.batch < ranks)
      throw_input_error("--batch {} is smaller than the {} ranks; each rank needs images of every batch", f.batch, ranks);
    if (ranks > 1 && device == Device::CUDA) use_local_gpu("train");
    faults = parse_fault_settings(f);
    if (!f.histograms.empty()) histograms = parse_histogram_schedule(f.histograms);
    if (f.histogram_bins < 1 || f.histogram_bins > 100000)
      throw_input_error("--histogram-bins must be in 1..100000, got {}", f.histogram_bins);

    if (!f.init.empty() && !f.model_given) {
      const auto meta = read_checkpoint_metadata(f.init);
      if (meta.find("model") == meta.end())
        throw_input_error("--init {}: the checkpoint does not record its model; pass --model", f.init);
    }
    // --model NAME or FILE.onnx; with --init alone, the checkpoint's architecture (or recorded graph).
    source = !f.init.empty() && !f.model_given ? ModelSource::from_checkpoint(f.init, "") : ModelSource::from_model_flag(f.model);
    const WeightInit weight_init = parse_weight_init(f.weight_init, "--weight-init");
    if (weight_init != WeightInit::Default && (!f.init.empty() || source.imported()))
      throw_input_error("--weight-init applies to a built-in model trained from scratch, not to weights from {}",
                        !f.init.empty() ? "--init " + f.init : "the ONNX file " + f.model);
    source.set_weight_init(weight_init);
    f.model = source.name();
    f.data.seed = f.seed;
    f.data.compact_train = true;  // the training split as bytes, converted batch by batch
    data = load_data(f.data);
    const Tensor& im = data.train.images;
    source.check_input(im.size(1), im.size(2), im.size(3), data.train.name);

    model = source.build(f.seed);
    if (!f.init.empty()) {
      load_checkpoint(f.init, *model, source.name());
      masks = read_prune_masks(f.init, *model, &pruned);
      if (pruned) apply_masks(*model, masks);
    }
    // The optimizers are built on the CPU (fault maps, master weights); the model, the data and
    // the fault-aware optimizer's buffers then move to the device once, for the whole run.
    optimizers = make_optimizers(*model, f, faults, masks, pruned);
    model->to(device);  // parameters move in place: the optimizers' handles follow
    if (optimizers.fault_opt != nullptr) optimizers.fault_opt->to(device);
    if (device != Device::CPU) {  // the data stays on the GPU for the whole run; batches are gathered there
      data.train.to_device(device);
      data.test.to_device(device);
    }
    sched_ptr = std::make_unique<StepLR>(*optimizers.opt, f.step_size, f.gamma);
    config = run_config(f, data.train);
    add_weight_init_config(config, f);
    add_fault_config(config, faults.format, faults.specs, faults.mode, f.clip_bound, f.fault_masks);
    if (!f.init.empty()) config["init"] = f.init;
    if (ranks > 1) config["ranks"] = ranks;  // a run resumes on as many ranks (its batches' slices)

    files_ptr = std::make_unique<RunFiles>(f.out);
    files_ptr->set_model_metadata(source.checkpoint_metadata());  // an imported network's graph travels along
    start_epoch = open_run(*files_ptr, *model, *optimizers.opt, *sched_ptr, config, metrics, f, writer);
  });
  const std::vector<FaultSpec>& specs = faults.specs;
  (void)specs;
  std::unique_ptr<Optimizer>& opt = optimizers.opt;
  const nlohmann::json& pruned_cells = optimizers.pruned_cells;
  StepLR& sched = *sched_ptr;
  const RunFiles& files = *files_ptr;
  if (writer && start_epoch == 0 && histograms.at_epoch(0)) append_histograms(files, *model, f.histogram_bins, 0, -1);
  DataParallel parallel;
  if (ranks > 1) {
    if (writer)
      cluster::say_on_termination(fmt::format("stuckat: train: the job was ended by a signal (mpirun ends every rank when "
                                              "one of them dies); the last finished epoch is saved in {}: run the same "
                                              "command with --resume to go on",
                                              f.out));
    parallel.rank = rank;
    parallel.ranks = ranks;
    parallel.sum = [](float* v, int64_t n) { cluster::world_sum(v, n); };
    parallel.sum_takes_device_memory = device == Device::CUDA && cluster::world_cuda_aware();
    if (writer)
      std::fprintf(stderr, "training data-parallel on %d ranks (%s): %lld images per rank per batch of %lld; gradients "
                   "summed %s; batch norm uses each rank's own batch statistics, running statistics averaged over the "
                   "ranks at each epoch's end\n",
                   ranks, cluster::world_library().c_str(), static_cast<long long>(f.batch / ranks), static_cast<long long>(f.batch),
                   device == Device::CUDA ? (parallel.sum_takes_device_memory ? "in GPU memory (the MPI library is CUDA-aware)"
                                                                              : "through host memory (the MPI library is not CUDA-aware)")
                                          : "in host memory");
  }

  // A small model on the CPU trains fastest with each batch split over the threads.
  std::unique_ptr<ThreadReplicas> replicas;
  if (ranks == 1) replicas = thread_replicas_if_suited(*model, f.batch, [&source, &f] { return source.build(f.seed); });
  const bool tty = writer && isatty(fileno(stderr));
  if (writer)
    std::fprintf(stderr, "training %s on %s: %lld train / %lld test images, %lld parameters, %d threads\n",
               f.model.c_str(), data.train.name.c_str(), static_cast<long long>(data.train.size()),
               static_cast<long long>(data.test.size()), static_cast<long long>(model->parameter_count()),
               num_threads());
  EpochStats test{};
  for (int epoch = start_epoch; epoch < f.epochs; ++epoch) {
    const float lr = opt->lr();
    auto progress = [&](int64_t b, int64_t nb, double loss) {
      if (tty && (b % 20 == 0 || b + 1 == nb))
        std::fprintf(stderr, "\repoch %d/%d  batch %lld/%lld  loss %.4f ", epoch + 1, f.epochs,
                     static_cast<long long>(b + 1), static_cast<long long>(nb), loss);
      if (writer && histograms.at_batch(b)) append_histograms(files, *model, f.histogram_bins, epoch + 1, b + 1);
    };
    EpochStats tr = train_epoch(*model, *opt, data.train, f.batch, f.seed, epoch, progress, ranks > 1 ? &parallel : nullptr,
                                 replicas.get());
    if (tty) std::fprintf(stderr, "\r\033[K");
    if (!tr.finite) {
      if (!writer) throw cluster::RankFailed{1};  // rank 0 reports the divergence
      if (histograms.active()) append_histograms(files, *model, f.histogram_bins, epoch + 1, tr.bad_batch + 1);
      return {true, report_divergence(files, *model, tr, epoch, lr)};
    }
    sched.step();
    if (ranks > 1) agree_across_ranks(*model, epoch);
    test = evaluate(*model, data.test, f.eval_batch);
    const double ips = tr.seconds > 0 ? static_cast<double>(tr.images) / tr.seconds : 0.0;
    nlohmann::json row = {{"epoch", epoch + 1},          {"train_loss", tr.loss},  {"train_acc", tr.accuracy},
                          {"test_loss", test.loss},      {"test_acc", test.accuracy}, {"lr", lr},
                          {"train_images_per_s", ips},   {"train_seconds", tr.seconds},
                          {"eval_images_per_s", test.seconds > 0 ? test.images / test.seconds : 0.0}};
    metrics.push_back(row.dump());
    // The epoch's histogram before its state: a run resumed from that state has it.
    if (writer && histograms.at_epoch(epoch + 1)) append_histograms(files, *model, f.histogram_bins, epoch + 1, -1);
    if (writer) files.save(*model, *opt, config, epoch + 1, metrics);
    if (writer)
      std::fprintf(stderr, "epoch %d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  test_acc %.4f  lr %.5g  %.0f img/s\n",
                 epoch + 1, f.epochs, tr.loss, tr.accuracy, test.loss, test.accuracy, lr, ips);
  }
  if (start_epoch >= f.epochs) test = evaluate(*model, data.test, f.eval_batch);
  nlohmann::json summary = {{"model", f.model}, {"data", data.test.name}, {"epochs", f.epochs},
                            {"test_acc", test.accuracy}, {"test_loss", test.loss},
                            {"checkpoint", files.checkpoint_path()}};
  if (pruned) summary["density"] = static_cast<double>(total_kept(masks)) / static_cast<double>(total_weights(masks));
  if (!pruned_cells.empty()) summary["pruned_cells"] = pruned_cells;
  return {false, summary};
}

}  // namespace stuckat::jobs
