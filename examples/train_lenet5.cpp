// The library without the CLI: train LeNet-5 on Fashion-MNIST for one epoch, evaluate it and
// save a checkpoint, in the fewest lines the API allows. Build: target example_train_lenet5.
#include <cstdio>

#include "framework/data/dataset.h"
#include "framework/io/checkpoint.h"
#include "framework/parallel.h"
#include "framework/train/trainer.h"
#include "models/model_zoo.h"

using namespace stuckat;

int main(int argc, char** argv) {
  set_num_threads(2);
  DataSplit data = load_data(DataOptions{});  // Fashion-MNIST from /usr/share/datasets
  auto model = make_model(parse_model_name("lenet5"), /*seed=*/0);
  Sgd opt(model->parameters(), SgdOptions{/*lr=*/0.1f, /*momentum=*/0.0f, /*dampening=*/0.0f,
                                          /*weight_decay=*/5e-4f, /*nesterov=*/false});
  EpochStats train = train_epoch(*model, opt, data.train, /*batch=*/64, /*seed=*/0, /*epoch=*/0);
  EpochStats test = evaluate(*model, data.test, /*batch=*/1000);
  std::printf("train loss %.4f (%.0f images/s), test accuracy %.4f\n", train.loss, train.images / train.seconds,
              test.accuracy);
  const char* path = argc > 1 ? argv[1] : "lenet5.safetensors";
  save_checkpoint(path, *model, {{"model", "lenet5"}});
  std::printf("saved %s\n", path);
  return 0;
}
