// The config.json reader (ds::from_json, what load_config runs on a file's text) on
// any text. What it accepts must be a model one can describe: writing it back and reading
// that gives the same config, and its parameter counts are positive and do not overflow.
#include <string>

#include "common/deepseek_config.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace ds;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::as_text(data, size));
  DeepSeekConfig c;
  if (!fuzz::accepts([&] { c = from_json(text, "config.json"); })) return 0;
  const std::string written = to_json(c);
  DeepSeekConfig back;
  if (!fuzz::accepts([&] { back = from_json(written, "written config.json"); }))
    fuzz::fail("an accepted config.json, written back, is refused:\n" + written);
  if (to_json(back) != written) fuzz::fail("write + read changed the config:\n" + written);
  const ParamCount p = count_parameters(c);
  if (p.total <= 0 || p.active <= 0 || p.active > p.total || p.mtp < 0 || p.mtp > p.total)
    fuzz::fail("parameter counts total " + std::to_string(p.total) + ", active " + std::to_string(p.active) +
               ", mtp " + std::to_string(p.mtp) + " for:\n" + written);
  return 0;
}
