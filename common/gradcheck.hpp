// Finite-difference gradient check, the proof behind every hand-written backward.
// The op's output is reduced to L = sum(out * R) with a fixed random R, so every output
// element matters; dL/dx from backward() is compared with central differences of L.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/nn.hpp"
#include "common/tensor.hpp"

namespace ds {

struct GradCheckResult {
  bool ok = true;
  double max_abs_err = 0;    // largest |analytic - numeric|
  double max_rel_err = 0;    // largest |analytic - numeric| / max(|analytic|, |numeric|, 1e-3)
  std::string worst;         // "input 1, element 7: analytic 0.12 numeric 0.1201"
};

struct GradCheckOptions {
  double eps = 1e-2;         // float32 forward: smaller steps drown in rounding
  double atol = 2e-3;        // an element passes if abs err <= atol + rtol * |numeric|
  double rtol = 2e-2;
  int max_elements = 64;     // per input; larger inputs are sampled at evenly spaced elements
  uint64_t seed = 7;
};

// `inputs` are copied and marked requires_grad; `f` must be deterministic.
GradCheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradCheckOptions& opt = {});

// The same check for a module's own parameters (which ops reach through the module, not
// through arguments): `f` runs the module; each parameter is perturbed in place.
GradCheckResult gradcheck_params(const std::function<Tensor()>& f, const NamedTensors& params,
                                 const GradCheckOptions& opt = {});

}  // namespace ds
