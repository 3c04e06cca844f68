// The mini-DeepSeek's configuration is Hugging Face's DeepSeek-V3 config.json, which lives in
// common/deepseek_config.hpp (with the presets, the real DeepSeek configurations, config.json
// read and write and the parameter count); this file maps it onto the chapter-4 model.
#pragma once

#include "ch04/moe_model.hpp"
#include "common/deepseek_config.hpp"

namespace ds::ch06 {

// The names ch06 code and its callers use, from common.
using ds::count_parameters;
using ds::DeepSeekConfig;
using ds::from_json;
using ds::load_config;
using ds::ParamCount;
using ds::preset;
using ds::preset_names;
using ds::save_config;
using ds::to_json;

// The chapter-4 model description this config builds (MLA + dense/MoE layers).
ch04::MoEModelConfig model_config(const DeepSeekConfig& c);

}  // namespace ds::ch06
