// Define-by-run reverse-mode autograd. Every differentiable op that sees an input requiring
// gradients creates a Node holding what its backward needs and links the output to it;
// run_backward walks the graph from a scalar loss in topological order.
#pragma once
#include <initializer_list>
#include <memory>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

// Where a gradient flows: into another node, or into a leaf tensor's .grad.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Given d(loss)/d(output), returns d(loss)/d(input) for each input, in the order the inputs
  // were connected; an undefined tensor where that input needs no gradient.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;

  std::vector<Edge> next;  // one per input
};

// Gradient mode (thread-local). Evaluation runs under NoGradGuard so no graph is built.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of the (defined) inputs requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<const Tensor*>& inputs);  // for a variable number of inputs

// Records `inputs` as the node's inputs and makes `out` its (non-leaf, grad-requiring) output.
void connect(Tensor& out, const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs);
// The same for a variable number of inputs (concat).
void connect(Tensor& out, const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs);

// Backward from a one-element loss: fills .grad of every leaf that requires it (accumulating).
void run_backward(const Tensor& loss);
// Backward from any output given d(loss)/d(output) (same shape); tests use it to check one op.
void run_backward(const Tensor& output, const Tensor& grad_output);

}  // namespace stuckat
