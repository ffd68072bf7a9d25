// A model defined by a graph (an imported ONNX network): its constants become the model's state
// under their names in the graph (conv/linear weights, biases and batch-norm scales are trained
// parameters; batch-norm statistics and other constants are buffers), its nodes run in order.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "models/graph_ops.h"
#include "models/graph_spec.h"

namespace stuckat {

class GraphModel : public Module {
 public:
  // Checks the graph (every value defined once before use, a supported op, attributes) and
  // compiles its nodes; throws InputError naming the node. `where` names the source in messages.
  GraphModel(GraphSpec spec, const std::string& where);

  // The first graph input to the first output.
  Tensor forward(const Tensor& x) override;
  // Every graph input (in order) to every graph output (in order).
  std::vector<Tensor> forward_all(const std::vector<Tensor>& inputs);

  const GraphSpec& spec() const { return spec_; }
  bool normalises_over_batch() const override;  // a BatchNormalization node
  // The graph's first input shape with the batch dimension (or any symbolic one) set to `batch`.
  Shape input_shape(int64_t batch) const;

  // Runs the graph once on zeros of the declared input shape (batch 1), so that a file whose
  // shapes do not fit is refused at load, naming the node.
  void check_shapes();

  // Cut where one activation is live, before each layer that reads it: a stage is a layer and
  // what follows it up to the next cut (a residual block or concat branch stays whole). A stage
  // that begins with a plain Conv / Gemm whose followers read only its output is split (its
  // layer a Conv2d / Linear sharing the graph's weight), as the sweep's delta path wants.
  std::vector<ForwardStage> forward_stages() override;

 private:
  GraphSpec spec_;
  std::string where_;
  std::vector<GraphNodeFn> fns_;
  // Value slots: graph inputs, constants, then node outputs; per node its input and output slots
  // (-1 for an absent optional input), and the slots whose last reader it is (freed after it).
  std::vector<std::vector<int>> node_inputs_, node_outputs_, node_frees_;
  // Per node: a Relu / Clip whose running input is freed at it (nothing later reads it), so in
  // inference it may overwrite that value when no one else holds it.
  std::vector<char> in_place_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<std::pair<int, Tensor>> constant_slots_;
  int slot_count_ = 0;
  // Per node: a Conv2d / Linear sharing its weight when conv2d / linear compute it, else null.
  std::vector<std::shared_ptr<Module>> layer_modules_;

  static bool is_layer_op(const std::string& op);
  void make_layer_modules();
  // Sets a split stage's after_channels (and after_relu_pool) when nodes [begin, end) allow it.
  void describe_after(ForwardStage& st, size_t begin, size_t end, int layer_out, int out_slot);
  std::vector<Tensor> fresh_values() const;
  void run_nodes(std::vector<Tensor>& values, size_t begin, size_t end);
};

}  // namespace stuckat
