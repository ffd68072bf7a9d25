// The grid job (jobs/grid_job.h).
#include "jobs/grid_job.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/limits.h"
#include "cluster/work_queue.h"
#include "cluster/world.h"
#include "framework/io/atomic_file.h"

namespace stuckat::jobs {
namespace {

namespace fs = std::filesystem;

// "FLAG=V1,V2" or "FLAG=A-B": the flag and its values.
std::pair<std::string, std::vector<std::string>> parse_vary(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw_input_error("--vary '{}': expected FLAG=V1,V2,... or FLAG=A-B, e.g. seed=0-9 or density=0.1,0.05", text);
  const std::string flag = text.substr(0, eq), list = text.substr(eq + 1);
  for (char c : flag)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
      throw_input_error("--vary '{}': the flag name '{}' may hold only letters, digits and dashes (no leading --)", text, flag);
  std::vector<std::string> values;
  const size_t dash = list.find('-');
  const bool range = dash != std::string::npos && dash > 0 && list.find(',') == std::string::npos &&
                     list.find_first_not_of("0123456789-") == std::string::npos;
  if (range) {
    const long long a = std::stoll(list.substr(0, dash)), b = std::stoll(list.substr(dash + 1));
    if (b < a || b - a >= 100000) throw_input_error("--vary '{}': a range A-B needs A <= B and at most 100000 values", text);
    for (long long v = a; v <= b; ++v) values.push_back(std::to_string(v));
  } else {
    size_t start = 0;
    while (true) {
      const size_t comma = list.find(',', start);
      const std::string v = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (v.empty() || v.find_first_of("/ \t") != std::string::npos)
        throw_input_error("--vary '{}': values must be non-empty, without '/' or spaces", text);
      for (const std::string& seen : values)
        if (seen == v) throw_input_error("--vary '{}' lists {} twice", text, v);
      values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return {flag, values};
}

// Where a run's results go, per command.
enum class Output { kDirectory, kCsvFile, kNone };
Output output_of(const std::string& command) {
  if (command == "train" || command == "prune") return Output::kDirectory;
  if (command == "sweep") return Output::kCsvFile;
  if (command == "eval" || command == "xbar" || command == "export") return Output::kNone;
  throw_input_error("grid runs train, prune, eval, sweep, xbar or export; got '{}'", command);
}

// Runs one command with stdout and stderr sent to files in its directory; returns its exit code.
int run_captured(const GridRun& run, const std::function<int(const std::vector<std::string>&)>& run_command) {
  std::fflush(stdout);
  std::fflush(stderr);
  const int out = open((run.dir + "/stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = open((run.dir + "/stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0 || err < 0) {
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    throw_input_error("--runs: cannot write the output files in {}", run.dir);
  }
  const int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  close(out);
  close(err);
  int code = 1;
  {
    cluster::ScopedOneProcess alone;  // the run is this rank's alone
    std::vector<std::string> words = {"stuckat"};
    words.insert(words.end(), run.args.begin(), run.args.end());
    code = run_command(words);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  dup2(saved_out, STDOUT_FILENO);
  dup2(saved_err, STDERR_FILENO);
  close(saved_out);
  close(saved_err);
  return code;
}

class GridCoordinator : public cluster::WorkCoordinator {
 public:
  // `console`: the job's own stderr (fd 2 goes to a run's stderr.txt while rank 0 runs one).
  GridCoordinator(const std::vector<GridRun>& runs, std::vector<size_t> todo, GridResult& result, std::FILE* console)
      : runs_(runs), todo_(std::move(todo)), result_(result), console_(console) {}
  cluster::NextUnit next(std::string* unit) override {
    if (next_ == todo_.size()) return cluster::NextUnit::kFinished;
    *unit = std::to_string(todo_[next_++]);
    return cluster::NextUnit::kUnit;
  }
  void finished(const std::string& unit, const std::string& result, int rank) override {
    const GridRun& run = runs_[std::stoul(unit)];
    const nlohmann::json r = nlohmann::json::parse(result);
    const int code = r.at("exit").get<int>();
    ++result_.ran;
    if (code != 0) ++result_.failed;
    const std::string line =
        fmt::format("{:<40} exit {}  {:>8.1f} s  rank {}{}\n", run.name, code, r.at("seconds").get<double>(), rank,
                    code != 0 ? "  (see " + run.dir + "/stderr.txt)" : "");
    result_.text += line;
    std::fprintf(console_, "grid: [%d/%zu] %s", result_.ran, todo_.size(), line.c_str());
    std::fflush(console_);
  }

 private:
  const std::vector<GridRun>& runs_;
  std::vector<size_t> todo_;
  size_t next_ = 0;
  GridResult& result_;
  std::FILE* console_;
};

}  // namespace

std::vector<GridRun> expand_grid(const GridOptions& o) {
  if (o.runs.empty()) throw_input_error("--runs: name the directory for the runs");
  if (o.command.empty()) throw_input_error("grid: give the command after --, e.g. -- prune --checkpoint c.safetensors");
  if (o.vary.empty()) throw_input_error("grid: give at least one --vary FLAG=V1,V2,...");
  const Output output = output_of(o.command[0]);
  for (const std::string& w : o.command)
    if (w == "--out" || w.rfind("--out=", 0) == 0 || w == "--resume")
      throw_input_error("grid sets {} for each run itself (its directory under --runs); drop it from the command", w);
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  int64_t total = 1;
  for (const std::string& v : o.vary) {
    axes.push_back(parse_vary(v));
    for (size_t i = 0; i + 1 < axes.size(); ++i)
      if (axes[i].first == axes.back().first) throw_input_error("--vary {} is given twice", axes.back().first);
    for (const std::string& w : o.command)
      if (w == "--" + axes.back().first)
        throw_input_error("--vary {}: the command also sets --{}; drop it from the command", axes.back().first, axes.back().first);
    total *= static_cast<int64_t>(axes.back().second.size());
    if (total > 1000000) throw_input_error("grid: more than 1000000 runs; vary fewer values");
  }
  std::vector<GridRun> runs;
  std::vector<size_t> at(axes.size(), 0);
  for (int64_t k = 0; k < total; ++k) {
    GridRun run;
    run.args = o.command;
    for (size_t a = 0; a < axes.size(); ++a) {
      const std::string& value = axes[a].second[at[a]];
      run.name += (a ? "_" : "") + axes[a].first + "=" + value;
      run.args.push_back("--" + axes[a].first);
      run.args.push_back(value);
    }
    run.dir = (fs::path(o.runs) / run.name).string();
    if (output == Output::kDirectory) run.args.insert(run.args.end(), {"--out", run.dir, "--resume"});
    if (output == Output::kCsvFile) run.args.insert(run.args.end(), {"--out", run.dir + "/sweep.csv", "--resume"});
    runs.push_back(run);
    for (size_t a = axes.size(); a-- > 0;) {  // the last axis fastest
      if (++at[a] < axes[a].second.size()) break;
      at[a] = 0;
    }
  }
  return runs;
}

GridResult run_grid(const GridOptions& o, const std::function<int(const std::vector<std::string>&)>& run_command) {
  std::vector<GridRun> runs;
  std::vector<size_t> todo;
  GridResult result;
  cluster::setup_on_every_rank([&] {
    runs = expand_grid(o);
    if (cluster::world_rank() == 0) {
      for (size_t i = 0; i < runs.size(); ++i) {
        std::error_code ec;
        fs::create_directories(runs[i].dir, ec);
        if (ec) throw_input_error("--runs: cannot create {}: {}", runs[i].dir, ec.message());
        if (fs::exists(runs[i].dir + "/grid_done.json")) {
          ++result.already_done;
        } else {
          todo.push_back(i);
        }
      }
    }
  });
  result.runs = static_cast<int>(runs.size());
  std::unique_ptr<GridCoordinator> coordinator;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> console(nullptr, std::fclose);
  if (cluster::world_rank() == 0) {
    console.reset(fdopen(dup(STDERR_FILENO), "w"));
    if (!console) throw Error("grid: cannot duplicate stderr");
    std::fprintf(stderr, "grid: %zu runs, %d already done, %zu to run on %d rank(s); output in %s/<run>/\n", runs.size(),
                 result.already_done, todo.size(), cluster::world_size(), o.runs.c_str());
    coordinator = std::make_unique<GridCoordinator>(runs, todo, result, console.get());
    if (cluster::world_is_distributed())
      cluster::say_on_termination(fmt::format("stuckat: grid: the job was ended by a signal (mpirun ends every rank when "
                                              "one of them dies); finished runs are marked with grid_done.json in {}: run "
                                              "the same grid again to run the rest",
                                              o.runs));
  }
  cluster::run_work_queue(coordinator.get(), [&](const std::string& unit) {
    const GridRun& run = runs.at(std::stoul(unit));
    const auto t0 = std::chrono::steady_clock::now();
    const int code = run_captured(run, run_command);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const nlohmann::json r = {{"run", run.name}, {"exit", code}, {"seconds", seconds}, {"args", run.args}};
    if (code == 0) write_file_atomically(run.dir + "/grid_done.json", r.dump(2) + "\n", "--runs");
    return r.dump();
  });
  result.text += fmt::format("grid: {} runs: {} done before, {} ran now, {} failed; outputs in {}/<run>/\n", result.runs,
                             result.already_done, result.ran, result.failed, o.runs);
  return result;
}

}  // namespace stuckat::jobs
