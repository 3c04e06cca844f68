// Tensor: float32, row-major, contiguous, up to 4-D, with shared storage so that views
// (reshape, leading-dimension slices, detach) cost nothing. Ops that reorder memory
// (permute, inner slices) copy. Autograd state lives beside the data (see autograd.hpp).
//
// Every storage allocation is counted by memory.hpp, so programs can print live and peak
// tensor bytes the way PyTorch's memory stats do.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ds {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
std::string shape_str(const Shape& s);   // "[2, 3, 4]"

// A counted float buffer. Views share one Storage through shared_ptr.
struct Storage {
  explicit Storage(int64_t n, bool zero = true);   // zero-filled unless the caller writes every element
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data() { return buf_; }
  int64_t size() const { return n_; }
  // Recomputation (recompute.hpp) gives the bytes back while a backward does not need them and
  // takes them again before it does; views keep pointing at this Storage throughout.
  void discard();
  void restore();   // contents undefined until the caller writes them
  bool discarded() const { return buf_ == nullptr; }

 private:
  float* buf_;   // from the caching allocator (allocator.hpp)
  int64_t n_;
};

struct Node;        // autograd.hpp
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;                                   // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- creation ---------------------------------------------------------------------
  static Tensor zeros(const Shape& shape);
  // Not zero-filled, as PyTorch's torch.empty: for an op that writes every element itself (GEMM
  // outputs, copies); saves a pass over memory that the profile of a training step showed at 4%.
  static Tensor empty(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor ones(const Shape& shape) { return full(shape, 1.f); }
  static Tensor from(const std::vector<float>& values, const Shape& shape);
  static Tensor scalar(float v) { return from({v}, {}); }

  // --- shape and data ---------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;                        // negative d counts from the end
  int64_t numel() const;
  std::string shape_str() const { return ds::shape_str(shape()); }
  float* data() const;                                  // a handle: const-ness is the handle's, not the data's
  std::vector<float> to_vector() const;
  float item() const;                                   // one-element tensors only
  float operator[](int64_t flat) const { return data()[flat]; }

  // A view: same storage, new shape (numel must match; one dim may be -1). Not recorded
  // on the tape; use ds::reshape for the differentiable version.
  Tensor view_as_shape(const Shape& shape) const;
  // Rows [begin, end) of dim 0, sharing storage (not recorded on the tape).
  Tensor rows(int64_t begin, int64_t end) const;
  Tensor clone() const;                                 // deep copy, no autograd history
  Tensor detach() const;                                // shares storage, no autograd history
  void copy_(const Tensor& src);                        // element copy, shapes must match
  void fill_(float v);

  // --- autograd -----------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);               // leaves only
  bool is_leaf() const;
  Tensor grad() const;                                  // undefined until a backward reached it
  void set_grad(const Tensor& g);
  void zero_grad();                                     // drops the gradient
  const std::shared_ptr<Node>& grad_fn() const;
  void backward() const;                                // this must be a one-element tensor
  void backward(const Tensor& grad_output) const;

  TensorImpl* impl() const { return impl_.get(); }
  // No other Tensor, view or graph node refers to this tensor or its storage.
  bool sole_owner() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  Shape shape;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;     // null for leaves and for tensors made under NoGradGuard
  std::shared_ptr<Tensor> grad;      // accumulated gradient of a leaf (or a retained non-leaf)
  bool retains_grad = false;
};

// Integer tensors: token ids, targets, expert indices. Plain data, never on the tape.
struct IntTensor {
  std::vector<int32_t> data;
  Shape shape;
  IntTensor() = default;
  IntTensor(std::vector<int32_t> d, Shape s);
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t size(int64_t d) const;
  int32_t operator[](int64_t i) const { return data[static_cast<size_t>(i)]; }
};

// Throws std::invalid_argument("<op>: <what> (got [..] and [..])").
[[noreturn]] void shape_error(const std::string& op, const std::string& what, const Shape& a,
                              const Shape& b = Shape{-1});

}  // namespace ds
