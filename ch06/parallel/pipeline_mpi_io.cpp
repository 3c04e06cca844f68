// What a pipeline rank exchanges besides activations and gradients: the whole model's weights at
// the start, checkpoints (each rank's optimizer state beside one Hugging Face folder written by
// rank 0), resume, and the per-step timing records gathered for the report.
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "ch06/checkpoint.hpp"
#include "ch06/parallel/pipeline_mpi.hpp"
#include "common/fsutil.hpp"
#include "common/mpi.hpp"

namespace ds::ch06 {

namespace fs = std::filesystem;

namespace {

// name, element count, floats; one after another.
std::string serialize(const NamedTensors& tensors) {
  std::string out;
  for (const auto& [name, t] : tensors) {
    const uint32_t len = static_cast<uint32_t>(name.size());
    const int64_t n = t.numel();
    out.append(reinterpret_cast<const char*>(&len), sizeof len).append(name);
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    const std::vector<float> v = t.to_vector();
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  return out;
}

std::map<std::string, std::vector<float>> deserialize(const std::string& bytes) {
  std::map<std::string, std::vector<float>> out;
  size_t at = 0;
  while (at < bytes.size()) {
    uint32_t len = 0;
    int64_t n = 0;
    std::memcpy(&len, bytes.data() + at, sizeof len);
    at += sizeof len;
    const std::string name = bytes.substr(at, len);
    at += len;
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    std::vector<float>& v = out[name];
    v.resize(static_cast<size_t>(n));
    std::memcpy(v.data(), bytes.data() + at, v.size() * sizeof(float));
    at += v.size() * sizeof(float);
  }
  return out;
}

}  // namespace

void PipelineRank::load_weights(const NamedTensors& full) {
  std::map<std::string, Tensor> by_name(full.begin(), full.end());
  NoGradGuard ng;
  for (auto& st : stages_)
    for (auto& [name, t] : st->state_dict()) {
      if (remote_.count(name)) continue;
      auto it = by_name.find(name);
      if (it == by_name.end()) throw std::runtime_error("the whole model has no tensor '" + name + "' for this stage");
      t.copy_(it->second);
    }
}

void PipelineRank::resume(const std::string& dir) {
  if (ep_ > 1) throw std::runtime_error("resuming a pipeline run with expert parallelism (--ep) is not implemented: start it again from step 0");
  const std::string meta_path = dir + "/pipeline.json";
  if (!fs::exists(meta_path)) throw std::runtime_error(dir + " is not a pipeline checkpoint (no pipeline.json)");
  const nlohmann::json meta = nlohmann::json::parse(read_text_file(meta_path));
  if (meta.at("schedule") != schedule_name(s_.kind) || meta.at("ranks") != s_.ranks || meta.at("stages") != s_.pp ||
      meta.at("micro_batches") != s_.micro_batches)
    throw std::runtime_error(dir + " was saved by " + meta.at("schedule").get<std::string>() + " on " + std::to_string(meta.at("ranks").get<int>()) +
                             " ranks with " + std::to_string(meta.at("micro_batches").get<int>()) +
                             " micro-batches; resume it with the same --schedules, -np and --micro-batches");
  NoGradGuard ng;
  for (auto& st : stages_) {
    const auto loaded = Stage::load(dir, st->begin(), st->end());
    std::map<std::string, Tensor> by_name;
    for (auto& [name, t] : loaded->state_dict()) by_name[name] = t;
    for (auto& [name, t] : st->state_dict()) t.copy_(by_name.at(name));
  }
  trainer_->load_state(dir + "/pipeline_rank" + std::to_string(rank_));
}

NamedTensors PipelineRank::owned_tensors() const {
  NamedTensors out;
  std::set<std::string> seen;
  for (const auto& st : stages_)
    for (auto& [name, t] : st->state_dict())
      if (owner_.count(name) && owner_.at(name) == rank_ && (ep_rank_ == 0 || experts_.count(name)) && seen.insert(name).second)
        out.push_back({name, t});
  return out;
}

void PipelineRank::save(const std::string& dir, DeepSeekModel* whole, const Tokenizer* tokenizer) const {
  const fs::path staging = dir + ".ranks";
  if (mpi::rank() == 0) fs::remove_all(staging);
  mpi::barrier();
  const fs::path mine = staging / ("pipeline_rank" + std::to_string(mpi::rank()));   // one per process
  fs::create_directories(mine);
  trainer_->save_state(mine.string());
  constexpr int kTag = 1 << 20;
  const std::string bytes = serialize(owned_tensors());
  if (mpi::rank() != 0) {
    mpi::send_bytes(bytes, 0, kTag);
  } else {
    if (!whole) throw std::logic_error("PipelineRank::save: rank 0 needs the whole model to write into");
    std::map<std::string, std::vector<float>> all = deserialize(bytes);
    for (int r = 1; r < mpi::size(); ++r) all.merge(deserialize(mpi::recv_bytes(r, kTag)));
    NoGradGuard ng;
    for (auto& [name, t] : whole->state_dict()) {
      auto it = all.find(name);
      if (it == all.end()) throw std::logic_error("no rank sent '" + name + "'");
      t.copy_(Tensor::from(it->second, t.shape()));
    }
    nlohmann::json meta = {{"schedule", schedule_name(s_.kind)}, {"ranks", s_.ranks}, {"stages", s_.pp}, {"micro_batches", s_.micro_batches}, {"ep", ep_}};
    for (const auto& [b, e] : cuts_) meta["stage_layers"].push_back({b, e});
    write_folder_atomic(dir, [&](const std::string& tmp) {
      write_model_files(tmp, *whole, tokenizer);
      write_file_atomic(tmp + "/pipeline.json", meta.dump(2));
      for (int r = 0; r < mpi::size(); ++r) {
        const std::string name = "pipeline_rank" + std::to_string(r);
        fs::rename(staging / name, fs::path(tmp) / name);
      }
    });
    fs::remove_all(staging);
  }
  mpi::barrier();
}

std::vector<StepRecord> gather_records(const StepRecord& mine) {
  std::vector<double> flat = {static_cast<double>(mine.spans.size()), static_cast<double>(mine.live.size()), mine.end};
  for (size_t i = 0; i < mine.spans.size(); ++i)
    flat.insert(flat.end(), {mine.spans[i].start, mine.spans[i].end, mine.wait[i], i < mine.all_to_all.size() ? mine.all_to_all[i] : 0.0});
  for (const auto& [t, b] : mine.live) flat.insert(flat.end(), {t, b});
  const std::string bytes(reinterpret_cast<const char*>(flat.data()), flat.size() * sizeof(double));
  constexpr int kTag = (1 << 20) + 1;
  if (mpi::rank() != 0) {
    mpi::send_bytes(bytes, 0, kTag);
    return {};
  }
  std::vector<StepRecord> all = {mine};
  for (int r = 1; r < mpi::size(); ++r) {
    const std::string b = mpi::recv_bytes(r, kTag);
    std::vector<double> v(b.size() / sizeof(double));
    std::memcpy(v.data(), b.data(), b.size());
    StepRecord rec;
    const size_t n = static_cast<size_t>(v[0]), m = static_cast<size_t>(v[1]);
    rec.end = v[2];
    size_t at = 3;
    for (size_t i = 0; i < n; ++i, at += 4) {
      rec.spans.push_back({v[at], v[at + 1]});
      rec.wait.push_back(v[at + 2]);
      rec.all_to_all.push_back(v[at + 3]);
    }
    for (size_t i = 0; i < m; ++i, at += 2) rec.live.push_back({v[at], v[at + 1]});
    all.push_back(rec);
  }
  return all;
}

}  // namespace ds::ch06
