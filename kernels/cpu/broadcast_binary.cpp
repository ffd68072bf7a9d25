// Broadcast Add/Sub/Mul/Div on the CPU: the shape rule, the reference loops (test oracle) and
// the fast float path.
//
// The fast path first merges output dimensions that neither input splits (dropping size-1
// dimensions, and joining neighbours whose strides chain in every operand), so (n, c, h, w) with
// (1, c, 1, 1) becomes (n, c, h*w) with strides (0, 1, 0), and equal shapes become one long row.
// It then walks rows of the last merged dimension, with each input's stride in that row made a
// compile-time 0 or 1 where it is one, so the row loops vectorise.
//
// Work is split into pieces along one dimension. For an input gradient, that dimension is one
// along which the input does not broadcast, so each gradient element belongs to exactly one piece
// and adds its terms in increasing output order, as the reference does. A gradient of a single
// element is summed per piece (a fixed number of pieces, from the shape) and the partial sums
// added in piece order.
#include "kernels/cpu/broadcast_binary.h"

#include <algorithm>
#include <type_traits>

namespace stuckat::cpu {
namespace {
// Below this many output elements an OpenMP fork costs more than the loop itself.
constexpr int64_t kParallelMinElements = 1 << 15;
// The most pieces one dimension is split into.
constexpr int64_t kMaxPieces = 64;

// The per-op formulas: value, gradient for a, gradient for b (see the header).
struct AddOp {
  static constexpr bool kReadsInputs = false;
  template <typename T> static T f(T a, T b) { return a + b; }
  template <typename T> static T ga(T dy, T, T) { return dy; }
  template <typename T> static T gb(T dy, T, T) { return dy; }
};
struct SubOp {
  static constexpr bool kReadsInputs = false;
  template <typename T> static T f(T a, T b) { return a - b; }
  template <typename T> static T ga(T dy, T, T) { return dy; }
  template <typename T> static T gb(T dy, T, T) { return -dy; }
};
struct MulOp {
  static constexpr bool kReadsInputs = true;
  template <typename T> static T f(T a, T b) { return a * b; }
  template <typename T> static T ga(T dy, T, T b) { return dy * b; }
  template <typename T> static T gb(T dy, T a, T) { return dy * a; }
};
struct DivOp {
  static constexpr bool kReadsInputs = true;
  template <typename T> static T f(T a, T b) { return a / b; }
  template <typename T> static T ga(T dy, T, T b) { return dy / b; }
  template <typename T> static T gb(T dy, T a, T b) { return -dy * ((a / b) / b); }
};

// Calls body(Op{}) for the op fn names.
template <typename Body> void with_op(BinaryFn fn, const Body& body) {
  switch (fn) {
    case BinaryFn::Add: return body(AddOp{});
    case BinaryFn::Sub: return body(SubOp{});
    case BinaryFn::Mul: return body(MulOp{});
    case BinaryFn::Div: return body(DivOp{});
  }
}

// Offsets into a and b of output element i (the reference's plain decomposition).
void element_offsets(const BroadcastPlan& p, int64_t i, int64_t* oa, int64_t* ob) {
  *oa = *ob = 0;
  for (size_t d = p.out_shape.size(); d-- > 0;) {
    const int64_t idx = i % p.out_shape[d];
    i /= p.out_shape[d];
    *oa += idx * p.a_strides[d];
    *ob += idx * p.b_strides[d];
  }
}

// The plan with merged dimensions: sizes and strides of the output (contiguous), a and b.
struct Layout {
  std::vector<int64_t> size, sy, sa, sb;
  int rank() const { return static_cast<int>(size.size()); }
};

Layout merge_dimensions(const BroadcastPlan& p) {
  Layout l;
  std::vector<int64_t> sy(p.out_shape.size());
  int64_t acc = 1;
  for (size_t d = p.out_shape.size(); d-- > 0;) {
    sy[d] = acc;
    acc *= p.out_shape[d];
  }
  for (size_t d = 0; d < p.out_shape.size(); ++d) {
    const int64_t n = p.out_shape[d];
    if (n == 1) continue;
    const int r = l.rank();
    if (r > 0 && l.sy[r - 1] == sy[d] * n && l.sa[r - 1] == p.a_strides[d] * n && l.sb[r - 1] == p.b_strides[d] * n) {
      l.size[r - 1] *= n;  // the outer dimension continues into this one in every operand
      l.sy[r - 1] = sy[d];
      l.sa[r - 1] = p.a_strides[d];
      l.sb[r - 1] = p.b_strides[d];
    } else {
      l.size.push_back(n);
      l.sy.push_back(sy[d]);
      l.sa.push_back(p.a_strides[d]);
      l.sb.push_back(p.b_strides[d]);
    }
  }
  if (l.size.empty()) l = Layout{{1}, {1}, {0}, {0}};
  return l;
}

// Calls row(oy, oa, ob, len) for each row (a run along the last dimension) of the box
// [begin, end) of the layout, in increasing output order.
template <typename Row>
void for_each_row(const Layout& l, std::vector<int64_t> idx, const std::vector<int64_t>& end, const Row& row) {
  const int r = l.rank();
  for (int d = 0; d < r; ++d)
    if (idx[d] >= end[d]) return;
  const std::vector<int64_t> begin = idx;
  for (;;) {
    int64_t oy = 0, oa = 0, ob = 0;
    for (int d = 0; d < r; ++d) {
      oy += idx[d] * l.sy[d];
      oa += idx[d] * l.sa[d];
      ob += idx[d] * l.sb[d];
    }
    row(oy, oa, ob, end[r - 1] - begin[r - 1]);
    int d = r - 2;
    for (; d >= 0; --d) {
      if (++idx[d] < end[d]) break;
      idx[d] = begin[d];
    }
    if (d < 0) return;
  }
}

// Runs piece(k, begin, end) for the `pieces` near-equal ranges of dimension `dim`, in parallel
// when `parallel`.
template <typename Piece>
void for_pieces(const Layout& l, int dim, int64_t pieces, bool parallel, const Piece& piece) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t k = 0; k < pieces; ++k) {
    std::vector<int64_t> begin(l.rank(), 0), end = l.size;
    begin[dim] = l.size[dim] * k / pieces;
    end[dim] = l.size[dim] * (k + 1) / pieces;
    piece(k, begin, end);
  }
}

// The largest dimension among those where `usable(d)`; -1 when none is.
template <typename Usable> int largest_dimension(const Layout& l, const Usable& usable) {
  int best = -1;
  for (int d = 0; d < l.rank(); ++d)
    if (usable(d) && (best < 0 || l.size[d] > l.size[best])) best = d;
  return best;
}

// Calls f with s as std::integral_constant 0 or 1 when it is one, else as itself, so a row loop
// indexing x[i * s] compiles to a broadcast load or a contiguous one.
template <typename F> void with_stride(int64_t s, const F& f) {
  if (s == 0)
    f(std::integral_constant<int64_t, 0>{});
  else if (s == 1)
    f(std::integral_constant<int64_t, 1>{});
  else
    f(s);
}

template <typename Op>
void forward_fast(const float* a, const float* b, float* y, const Layout& l, int64_t n) {
  const int last = l.rank() - 1;
  const int dim = largest_dimension(l, [](int) { return true; });
  for_pieces(l, dim, std::min(l.size[dim], kMaxPieces), n >= kParallelMinElements,
             [&](int64_t, const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
               with_stride(l.sa[last], [&](auto sa) {
                 with_stride(l.sb[last], [&](auto sb) {
                   for_each_row(l, begin, end, [&](int64_t oy, int64_t oa, int64_t ob, int64_t len) {
                     const float* ap = a + oa;
                     const float* bp = b + ob;
                     float* yp = y + oy;
                     for (int64_t i = 0; i < len; ++i) yp[i] = Op::f(ap[i * sa], bp[i * sb]);
                   });
                 });
               });
             });
}

// The gradient of input a (for_a) or b into t (that input's shape, zeroed by the caller).
template <typename Op, bool for_a>
void gradient_fast(const float* a, const float* b, const float* dy, float* t, const Layout& l, int64_t n) {
  const int last = l.rank() - 1;
  const std::vector<int64_t>& st = for_a ? l.sa : l.sb;
  // One row: t[i * s] += term(i), or a register sum when t is broadcast along the row.
  auto rows = [&](const std::vector<int64_t>& begin, const std::vector<int64_t>& end, float* partial) {
    with_stride(l.sa[last], [&](auto sa) {
      with_stride(l.sb[last], [&](auto sb) {
        for_each_row(l, begin, end, [&](int64_t oy, int64_t oa, int64_t ob, int64_t len) {
          const float* g = dy + oy;
          const float* ap = Op::kReadsInputs ? a + oa : nullptr;
          const float* bp = Op::kReadsInputs ? b + ob : nullptr;
          auto term = [&](int64_t i) {
            float av = 0.0f, bv = 0.0f;
            if constexpr (Op::kReadsInputs) {
              av = ap[i * sa];
              bv = bp[i * sb];
            }
            return for_a ? Op::ga(g[i], av, bv) : Op::gb(g[i], av, bv);
          };
          float* tp = partial ? partial : t + (for_a ? oa : ob);
          if (st[last] == 0) {
            float acc = *tp;
            for (int64_t i = 0; i < len; ++i) acc += term(i);
            *tp = acc;
          } else if constexpr (for_a) {
            for (int64_t i = 0; i < len; ++i) tp[i * sa] += term(i);
          } else {
            for (int64_t i = 0; i < len; ++i) tp[i * sb] += term(i);
          }
        });
      });
    });
  };
  const int kept = largest_dimension(l, [&](int d) { return st[d] != 0; });
  if (kept >= 0) {
    for_pieces(l, kept, std::min(l.size[kept], kMaxPieces), n >= kParallelMinElements,
               [&](int64_t, const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
                 rows(begin, end, nullptr);
               });
    return;
  }
  // A single gradient element: partial sums per piece, added in piece order.
  const int dim = largest_dimension(l, [](int) { return true; });
  const int64_t pieces = std::min(l.size[dim], kMaxPieces);
  std::vector<float> partial(pieces, 0.0f);
  for_pieces(l, dim, pieces, n >= kParallelMinElements,
             [&](int64_t k, const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
               rows(begin, end, &partial[k]);
             });
  float sum = 0.0f;
  for (float v : partial) sum += v;
  *t = sum;
}
}  // namespace

int64_t BroadcastPlan::out_numel() const {
  int64_t n = 1;
  for (int64_t d : out_shape) n *= d;
  return n;
}

bool plan_broadcast(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape, BroadcastPlan* plan) {
  const size_t r = std::max(a_shape.size(), b_shape.size());
  BroadcastPlan p;
  p.out_shape.assign(r, 1);
  p.a_strides.assign(r, 0);
  p.b_strides.assign(r, 0);
  int64_t a_stride = 1, b_stride = 1;
  for (size_t k = 0; k < r; ++k) {  // k counts dimensions from the right
    const size_t d = r - 1 - k;
    const int64_t na = k < a_shape.size() ? a_shape[a_shape.size() - 1 - k] : 1;
    const int64_t nb = k < b_shape.size() ? b_shape[b_shape.size() - 1 - k] : 1;
    if (na != nb && na != 1 && nb != 1) return false;
    p.out_shape[d] = na == 1 ? nb : na;
    p.a_strides[d] = na == 1 ? 0 : a_stride;
    p.b_strides[d] = nb == 1 ? 0 : b_stride;
    a_stride *= na;
    b_stride *= nb;
  }
  p.a_numel = a_stride;
  p.b_numel = b_stride;
  *plan = std::move(p);
  return true;
}

template <typename T> void binary_forward_ref(BinaryFn fn, const T* a, const T* b, T* y, const BroadcastPlan& p) {
  const int64_t n = p.out_numel();
  with_op(fn, [&](auto op) {
    using Op = decltype(op);
    for (int64_t i = 0; i < n; ++i) {
      int64_t oa, ob;
      element_offsets(p, i, &oa, &ob);
      y[i] = Op::f(a[oa], b[ob]);
    }
  });
}

template <typename T>
void binary_backward_ref(BinaryFn fn, const T* a, const T* b, const T* dy, T* da, T* db, const BroadcastPlan& p) {
  const int64_t n = p.out_numel();
  if (da) std::fill(da, da + p.a_numel, T(0));
  if (db) std::fill(db, db + p.b_numel, T(0));
  with_op(fn, [&](auto op) {
    using Op = decltype(op);
    for (int64_t i = 0; i < n; ++i) {
      int64_t oa, ob;
      element_offsets(p, i, &oa, &ob);
      const T av = Op::kReadsInputs ? a[oa] : T(0), bv = Op::kReadsInputs ? b[ob] : T(0);
      if (da) da[oa] += Op::ga(dy[i], av, bv);
      if (db) db[ob] += Op::gb(dy[i], av, bv);
    }
  });
}

template <typename T>
void reduce_to_input_ref(const T* g, T* out, int64_t out_numel, const std::vector<int64_t>& strides,
                         const BroadcastPlan& p) {
  std::fill(out, out + out_numel, T(0));
  const int64_t n = p.out_numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, o = 0;
    for (size_t d = p.out_shape.size(); d-- > 0;) {
      o += rest % p.out_shape[d] * strides[d];
      rest /= p.out_shape[d];
    }
    out[o] += g[i];
  }
}

template void binary_forward_ref<float>(BinaryFn, const float*, const float*, float*, const BroadcastPlan&);
template void binary_forward_ref<double>(BinaryFn, const double*, const double*, double*, const BroadcastPlan&);
template void binary_backward_ref<float>(BinaryFn, const float*, const float*, const float*, float*, float*,
                                         const BroadcastPlan&);
template void binary_backward_ref<double>(BinaryFn, const double*, const double*, const double*, double*, double*,
                                          const BroadcastPlan&);
template void reduce_to_input_ref<float>(const float*, float*, int64_t, const std::vector<int64_t>&,
                                         const BroadcastPlan&);
template void reduce_to_input_ref<double>(const double*, double*, int64_t, const std::vector<int64_t>&,
                                          const BroadcastPlan&);

void binary_forward(BinaryFn fn, const float* a, const float* b, float* y, const BroadcastPlan& p) {
  const int64_t n = p.out_numel();
  if (n == 0) return;
  const Layout l = merge_dimensions(p);
  with_op(fn, [&](auto op) { forward_fast<decltype(op)>(a, b, y, l, n); });
}

void binary_backward(BinaryFn fn, const float* a, const float* b, const float* dy, float* da, float* db,
                     const BroadcastPlan& p) {
  if (da) std::fill(da, da + p.a_numel, 0.0f);
  if (db) std::fill(db, db + p.b_numel, 0.0f);
  const int64_t n = p.out_numel();
  if (n == 0) return;
  const Layout l = merge_dimensions(p);
  with_op(fn, [&](auto op) {
    using Op = decltype(op);
    if (da) gradient_fast<Op, true>(a, b, dy, da, l, n);
    if (db) gradient_fast<Op, false>(a, b, dy, db, l, n);
  });
}

}  // namespace stuckat::cpu
