// plot_pruning_faults: draws the dense-vs-sparse stuck-at-fault table of
// examples/pruning_experiments.sh (faults.csv: net,layer,stuck,seed,test_acc,faulty) as a line
// chart, test accuracy (mean over the fault seeds) per faulted layer, one line per net and stuck
// value, with the nets' clean accuracies as reference.
//   plot_pruning_faults faults.csv faults_dense_vs_sparse.png
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sweep/sweep_plot.h"

using namespace stuckat;
using namespace stuckat::sweep;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: plot_pruning_faults faults.csv out.png\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "plot_pruning_faults: cannot read %s\n", argv[1]);
    return 2;
  }
  const std::vector<std::string> layers = {"conv1", "conv2", "fc1", "fc2", "fc3"};
  std::map<std::string, std::pair<double, int>> cell;  // "net sa<stuck> layer" -> (sum, n)
  std::map<std::string, double> clean;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string net, layer, stuck, seed, acc;
    if (!std::getline(ss, net, ',') || !std::getline(ss, layer, ',') || !std::getline(ss, stuck, ',') ||
        !std::getline(ss, seed, ',') || !std::getline(ss, acc, ','))
      continue;
    if (layer == "none") {
      clean[net] = std::stod(acc);
      continue;
    }
    auto& c = cell[net + " SA" + stuck + " " + layer];
    c.first += std::stod(acc);
    c.second += 1;
  }
  LineChart chart;
  chart.title = "1% stuck-at faults on one layer's remaining weights (random bit, Q4.11)";
  chart.x_label = "faulted layer";
  chart.y_label = "test accuracy (mean of 5 fault seeds)";
  chart.x_ticks = layers;
  chart.y_min = 0.0;
  chart.y_max = 1.0;
  chart.reference = clean.count("sparse") ? clean["sparse"] : NAN;
  chart.reference_name = "sparse clean";
  for (const char* net : {"dense", "sparse"})
    for (const char* stuck : {"0", "1"}) {
      ChartSeries s{std::string(net == std::string("dense") ? "dense 100%" : "sparse 10%") + " SA" + stuck, {}};
      for (const std::string& l : layers) {
        auto it = cell.find(std::string(net) + " SA" + stuck + " " + l);
        s.y.push_back(it == cell.end() ? NAN : it->second.first / it->second.second);
      }
      chart.series.push_back(s);
    }
  write_line_chart_png(chart, argv[2]);
  return 0;
}
