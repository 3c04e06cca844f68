#include <doctest/doctest.h>

#include "ch01/training_compute.hpp"

using namespace ds;
using namespace ds::ch01;

TEST_CASE("training compute: N is the activated count without the embedding, 36.6B for V3 (the paper's 37B)") {
  const DeepSeekConfig v3 = preset("deepseek-v3");
  CHECK(matmul_parameters(v3, false) == 37552297472LL - 926679040LL);
  // The MTP module runs its own weights (688,100,608 read per token) and lm_head again.
  CHECK(matmul_parameters(v3, true) == 37552297472LL - 926679040LL + 688100608LL + 926679040LL);
  CHECK(matmul_parameters(preset("deepseek-v2"), true) == matmul_parameters(preset("deepseek-v2"), false));   // no MTP module
}

TEST_CASE("training compute: GPU hours and the MFU they imply are one equation read both ways") {
  const double flops = 6.0 * 36.6e9 * 14.8e12, peak = 989e12;
  const double hours = gpu_hours(flops, peak, 0.4);
  CHECK(hours == doctest::Approx(flops / (0.4 * peak * 3600)));
  CHECK(implied_mfu(flops, hours, peak) == doctest::Approx(0.4));
  // V3: 6 x 36.6B x 14.8T on 2,664K H800 hours at 989 TFLOP/s is about a third of the BF16 peak.
  CHECK(implied_mfu(flops, 2664e3, peak) == doctest::Approx(3.25e24 / (2664e3 * 3600 * 989e12)).epsilon(0.01));
}

TEST_CASE("training compute: attention's own FLOPs per token, by hand for the tiny preset") {
  const DeepSeekConfig c = preset("tiny");   // 2 layers + 1 MTP module, 4 heads, d_qk = 16 + 8, d_v = 16
  const double per_key = 2.0 * (24 + 16);
  CHECK(attention_flops_per_token(c, 7, false) == doctest::Approx(3.0 * 2 * 4 * 4.0 * per_key));   // (7 + 1) / 2 = 4 keys on average
  CHECK(attention_flops_per_token(c, 7, true) == doctest::Approx(3.0 * 3 * 4 * 4.0 * per_key));
}
