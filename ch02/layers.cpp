#include "ch02/layers.hpp"

#include "common/ops.hpp"

namespace ds::ch02 {

SwiGLU::SwiGLU(int64_t hidden, int64_t intermediate, Rng& rng, float init_std)
    : gate_proj(hidden, intermediate, rng, init_std), up_proj(hidden, intermediate, rng, init_std),
      down_proj(intermediate, hidden, rng, init_std) {
  register_module("gate_proj", gate_proj);
  register_module("up_proj", up_proj);
  register_module("down_proj", down_proj);
}

Tensor SwiGLU::forward(const Tensor& x) { return down_proj.forward(swiglu(gate_proj.forward(x), up_proj.forward(x))); }

GeluMLP::GeluMLP(int64_t hidden, int64_t intermediate, Rng& rng, float init_std)
    : c_fc(hidden, intermediate, rng, init_std, true), c_proj(intermediate, hidden, rng, init_std, true) {
  register_module("c_fc", c_fc);
  register_module("c_proj", c_proj);
}

Tensor GeluMLP::forward(const Tensor& x) { return c_proj.forward(gelu_tanh(c_fc.forward(x))); }

}  // namespace ds::ch02
