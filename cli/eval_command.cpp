// `stuckat eval`: loads a checkpoint (the architecture comes from its metadata unless --model
// is given) and prints one JSON object with the test accuracy and loss.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "framework/io/checkpoint.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

namespace stuckat::cli {
namespace {

struct EvalFlags {
  DataFlags common;
  std::string checkpoint;
  std::string model;  // empty: from the checkpoint
  int64_t batch = 1000;
};

int run(EvalFlags& f) {
  Device device = apply_runtime_flags(f.common);
  if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
  std::map<std::string, std::string> meta = read_checkpoint_metadata(f.checkpoint);
  std::string model_name = f.model;
  if (model_name.empty()) {
    auto it = meta.find("model");
    if (it == meta.end())
      throw_input_error("checkpoint {} does not record its model; pass --model", f.checkpoint);
    model_name = it->second;
  }
  ModelSpec spec = parse_model_name(model_name);
  DataSplit data = load_data(f.common.data);
  const Tensor& im = data.test.images;
  check_model_input(spec, im.size(1), im.size(2), im.size(3), data.test.name);
  std::shared_ptr<Module> model = make_model(spec, 0);
  load_checkpoint(f.checkpoint, *model, spec.name());
  model->to(device);
  EpochStats st = evaluate(*model, data.test, f.batch);
  nlohmann::json out = {{"model", spec.name()},
                        {"data", data.test.name},
                        {"images", st.images},
                        {"test_acc", st.accuracy},
                        {"test_loss", st.loss},
                        {"images_per_s", st.seconds > 0 ? st.images / st.seconds : 0.0}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a test set; prints JSON");
  cmd->add_option("--checkpoint", f->checkpoint, "checkpoint.safetensors written by train")->required();
  cmd->add_option("--model", f->model, "architecture (default: recorded in the checkpoint)");
  add_data_flags(*cmd, f->common);
  cmd->add_option("--batch", f->batch, "batch size")->capture_default_str();
  return [f] { return run(*f); };
}

}  // namespace stuckat::cli
