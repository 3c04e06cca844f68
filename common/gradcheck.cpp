#include "common/gradcheck.hpp"

#include <cmath>
#include <sstream>

#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/rng.hpp"

namespace ds {

namespace {
double projected(const Tensor& out, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < out.numel(); ++i) s += static_cast<double>(out.data()[i]) * r.data()[i];
  return s;
}


// Compares the gradients already in xs[k].grad() with central differences of f.
GradCheckResult compare(const std::function<Tensor()>& f, const std::vector<Tensor>& xs, const Tensor& r,
                        const GradCheckOptions& opt) {
  GradCheckResult res;
  NoGradGuard ng;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor ga = xs[k].grad();
    const int64_t n = xs[k].numel();
    const int64_t step = std::max<int64_t>(1, n / opt.max_elements);
    for (int64_t i = 0; i < n; i += step) {
      float* p = xs[k].data() + i;
      const float orig = *p;
      *p = orig + static_cast<float>(opt.eps);
      const double lp = projected(f(), r);
      *p = orig - static_cast<float>(opt.eps);
      const double lm = projected(f(), r);
      *p = orig;
      const double num = (lp - lm) / (2 * opt.eps);
      const double ana = ga.defined() ? ga.data()[i] : 0.0;
      const double err = std::abs(ana - num);
      const double rel = err / std::max({std::abs(ana), std::abs(num), 1e-3});
      if (err > res.max_abs_err) res.max_abs_err = err;
      if (rel > res.max_rel_err) res.max_rel_err = rel;
      if (err > opt.atol + opt.rtol * std::abs(num) && res.ok) {
        res.ok = false;
        std::ostringstream o;
        o << "input " << k << ", element " << i << ": analytic " << ana << " numeric " << num;
        res.worst = o.str();
      }
    }
  }
  return res;
}
}  // namespace

GradCheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradCheckOptions& opt) {
  std::vector<Tensor> xs;
  for (const auto& t : inputs) xs.push_back(t.clone().requires_grad_(true));
  Rng rng(opt.seed);
  Tensor out = f(xs);
  const Tensor r = randn(out.shape(), rng);
  sum(mul(out, r)).backward();
  return compare([&] { return f(xs); }, xs, r, opt);
}

GradCheckResult gradcheck_params(const std::function<Tensor()>& f, const NamedTensors& params, const GradCheckOptions& opt) {
  std::vector<Tensor> xs;
  for (const auto& [n, p] : params) {
    Tensor t = p;
    t.zero_grad();
    xs.push_back(t);
  }
  Rng rng(opt.seed);
  Tensor out = f();
  const Tensor r = randn(out.shape(), rng);
  sum(mul(out, r)).backward();
  GradCheckResult res = compare(f, xs, r, opt);
  if (!res.ok) res.worst = params[std::stoul(res.worst.substr(6))].first + " (" + res.worst + ")";
  return res;
}

}  // namespace ds
