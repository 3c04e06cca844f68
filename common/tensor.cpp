#include "common/tensor.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "common/allocator.hpp"
#include "common/autograd.hpp"
#include "common/memory.hpp"

namespace ds {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

void shape_error(const std::string& op, const std::string& what, const Shape& a, const Shape& b) {
  std::string msg = op + ": " + what + " (got " + shape_str(a);
  if (!(b.size() == 1 && b[0] == -1)) msg += " and " + shape_str(b);
  throw std::invalid_argument(msg + ")");
}

Storage::Storage(int64_t n, bool zero) : buf_(allocator::acquire(n)), n_(n) {
  if (zero) std::memset(buf_, 0, static_cast<size_t>(n) * sizeof(float));
  memory::on_alloc(n_ * static_cast<int64_t>(sizeof(float)));
}
Storage::~Storage() { discard(); }
void Storage::discard() {
  if (!buf_) return;
  allocator::release(buf_, n_);
  buf_ = nullptr;
  memory::on_free(n_ * static_cast<int64_t>(sizeof(float)));
}
void Storage::restore() {
  if (buf_) return;
  buf_ = allocator::acquire(n_);
  memory::on_alloc(n_ * static_cast<int64_t>(sizeof(float)));
}

static void check_shape(const Shape& shape) {
  if (shape.size() > 4) shape_error("tensor", "at most 4 dimensions are supported", shape);
  for (int64_t d : shape)
    if (d < 0) shape_error("tensor", "dimensions must be non-negative", shape);
}

Tensor Tensor::zeros(const Shape& shape) {
  check_shape(shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape));
  impl->shape = shape;
  return Tensor(impl);
}

Tensor Tensor::empty(const Shape& shape) {
  check_shape(shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape), false);
  impl->shape = shape;
  return Tensor(impl);
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != numel_of(shape))
    shape_error("Tensor::from", std::to_string(values.size()) + " values do not fill the shape", shape);
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

const Shape& Tensor::shape() const { return impl_->shape; }
int64_t Tensor::numel() const { return numel_of(impl_->shape); }
int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  if (d < 0 || d >= n) shape_error("size", "dimension " + std::to_string(d) + " out of range", shape());
  return shape()[static_cast<size_t>(d)];
}
float* Tensor::data() const { return impl_->storage->data() + impl_->offset; }
std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel()); }
float Tensor::item() const {
  if (numel() != 1) shape_error("item", "needs a one-element tensor", shape());
  return data()[0];
}

Tensor Tensor::view_as_shape(const Shape& new_shape) const {
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) shape_error("view", "only one dimension may be -1", new_shape);
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel() % known != 0) shape_error("view", "cannot infer the -1 dimension", shape(), new_shape);
    s[static_cast<size_t>(infer)] = numel() / known;
  }
  if (numel_of(s) != numel()) shape_error("view", "element counts differ", shape(), new_shape);
  check_shape(s);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = s;
  return Tensor(impl);
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  if (dim() == 0 || begin < 0 || end < begin || end > shape()[0])
    shape_error("rows", "range [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range", shape());
  const int64_t row = dim() == 0 ? 1 : numel() / std::max<int64_t>(shape()[0], 1);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset + begin * row;
  impl->shape = shape();
  impl->shape[0] = end - begin;
  return Tensor(impl);
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  std::memcpy(t.data(), data(), static_cast<size_t>(numel()) * sizeof(float));
  return t;
}

bool Tensor::sole_owner() const { return impl_ && impl_.use_count() == 1 && impl_->storage.use_count() == 1; }

Tensor Tensor::detach() const { return view_as_shape(shape()); }

void Tensor::copy_(const Tensor& src) {
  if (src.shape() != shape()) shape_error("copy_", "shapes differ", shape(), src.shape());
  std::memmove(data(), src.data(), static_cast<size_t>(numel()) * sizeof(float));
}

void Tensor::fill_(float v) { std::fill(data(), data() + numel(), v); }

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
Tensor& Tensor::requires_grad_(bool on) {
  if (impl_->grad_fn) throw std::logic_error("requires_grad_: only leaf tensors can change requires_grad");
  impl_->requires_grad = on;
  return *this;
}
bool Tensor::is_leaf() const { return impl_->grad_fn == nullptr; }
Tensor Tensor::grad() const { return impl_->grad ? *impl_->grad : Tensor(); }
void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && g.shape() != shape()) shape_error("set_grad", "gradient shape differs", shape(), g.shape());
  impl_->grad = g.defined() ? std::make_shared<Tensor>(g) : nullptr;
}
void Tensor::zero_grad() { impl_->grad.reset(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }

IntTensor::IntTensor(std::vector<int32_t> d, Shape s) : data(std::move(d)), shape(std::move(s)) {
  if (static_cast<int64_t>(data.size()) != numel_of(shape))
    shape_error("IntTensor", std::to_string(data.size()) + " values do not fill the shape", shape);
}
int64_t IntTensor::size(int64_t d) const {
  const auto n = static_cast<int64_t>(shape.size());
  if (d < 0) d += n;
  if (d < 0 || d >= n) shape_error("size", "dimension out of range", shape);
  return shape[static_cast<size_t>(d)];
}

}  // namespace ds
