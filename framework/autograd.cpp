// The backward walk: dependency counts first, then nodes in an order where every consumer of
// a tensor has contributed its gradient before the tensor's producer runs.
#include "framework/autograd.h"

#include <unordered_map>

#include "framework/ops.h"
#include "kernels/cuda/profile.h"

namespace stuckat {
namespace {
thread_local bool g_grad_enabled = true;

// Sum of two gradients without touching either (a gradient may be shared between inputs).
Tensor summed(const Tensor& a, const Tensor& b) {
  Tensor out = a.clone();
  add_inplace(out, b);
  return out;
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

namespace {
// Both overloads of any_requires_grad and connect share these; the fixed lists cost no copy.
template <typename Inputs>
bool any_requires_grad_in(const Inputs& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

template <typename Inputs>
void connect_inputs(Tensor& out, const std::shared_ptr<Node>& node, const Inputs& inputs) {
  node->next.clear();
  node->next.reserve(inputs.size());
  for (const Tensor* t : inputs) {
    Edge e;
    if (t && t->defined() && t->requires_grad()) {
      if (t->grad_fn())
        e.fn = t->grad_fn();
      else
        e.leaf = t->impl_ptr();
    }
    node->next.push_back(std::move(e));
  }
  out.set_requires_grad(true);
  out.set_grad_fn(node);
}
}  // namespace

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) { return any_requires_grad_in(inputs); }
bool any_requires_grad(const std::vector<const Tensor*>& inputs) { return any_requires_grad_in(inputs); }

void connect(Tensor& out, const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs) {
  connect_inputs(out, node, inputs);
}
void connect(Tensor& out, const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs) {
  connect_inputs(out, node, inputs);
}

void run_backward(const Tensor& loss) {
  STUCKAT_CHECK(loss.defined() && loss.numel() == 1, "backward needs a one-element loss, got {}",
                loss.defined() ? shape_str(loss.shape()) : "undefined");
  run_backward(loss, Tensor::full(loss.shape(), 1.0f, loss.device()));
}

void run_backward(const Tensor& loss, const Tensor& seed) {
  STUCKAT_GPU_PROFILE("backward (all nodes)");
  STUCKAT_CHECK(loss.requires_grad(), "backward on a tensor that does not require gradients");
  STUCKAT_CHECK(seed.shape() == loss.shape(), "backward seed {} for output {}", shape_str(seed.shape()),
                shape_str(loss.shape()));

  auto accumulate_leaf = [](TensorImpl* leaf, const Tensor& g) {
    Tensor& grad = leaf->autograd.grad;
    if (!grad.defined())
      grad = g.clone();
    else
      add_inplace(grad, g);
  };
  if (!loss.grad_fn()) {
    accumulate_leaf(loss.impl(), seed);
    return;
  }

  // Count, for each node, how many edges from other reachable nodes point at it.
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{loss.grad_fn().get()};
  pending[loss.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      auto it = pending.find(e.fn.get());
      if (it == pending.end()) {
        pending[e.fn.get()] = 1;
        stack.push_back(e.fn.get());
      } else {
        ++it->second;
      }
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[loss.grad_fn().get()] = seed;
  std::vector<Node*> ready{loss.grad_fn().get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(grads[n]);
    grads.erase(n);
    if (!g.defined()) {  // nothing flowed into this node: only release its producers
      for (const Edge& e : n->next)
        if (e.fn && --pending[e.fn.get()] == 0) ready.push_back(e.fn.get());
      continue;
    }
    std::vector<Tensor> in_grads = n->backward(g);
    STUCKAT_CHECK(in_grads.size() == n->next.size(), "{} returned {} gradients for {} inputs", n->name(),
                  in_grads.size(), n->next.size());
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Edge& e = n->next[i];
      if (e.fn) {
        Node* m = e.fn.get();
        if (in_grads[i].defined()) {
          auto it = grads.find(m);
          if (it == grads.end())
            grads.emplace(m, in_grads[i]);
          else
            it->second = summed(it->second, in_grads[i]);
        }
        if (--pending[m] == 0) ready.push_back(m);
      } else if (e.leaf && in_grads[i].defined()) {
        accumulate_leaf(e.leaf.get(), in_grads[i]);
      }
    }
  }
}

}  // namespace stuckat
