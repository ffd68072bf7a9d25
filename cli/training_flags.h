// Flags shared by every command that trains: `train`, and `prune` for lottery-ticket rounds,
// SSL and fine-tuning (data, batch sizes, SGD, StepLR, seed, epochs), bound to the jobs'
// TrainingSettings.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "cli/data_flags.h"
#include "jobs/training_settings.h"

namespace stuckat::cli {

// epochs_help: what --epochs means for this command.
void add_training_flags(CLI::App& cmd, jobs::TrainingSettings& s, DataFlags& data,
                        const std::string& epochs_help = "epochs to train");

}  // namespace stuckat::cli
