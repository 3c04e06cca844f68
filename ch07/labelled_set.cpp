#include "ch07/labelled_set.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/fsutil.hpp"
#include "common/json_error.hpp"

namespace ds::ch07 {

std::vector<Problem> LabelledSet::long_problems() const {
  std::vector<Problem> out;
  for (int len : long_lengths) {
    const std::vector<Problem> s = problem_set(task, len, Split::train, long_examples, seed + static_cast<uint64_t>(len));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

std::vector<Problem> LabelledSet::draw(const std::vector<Problem>& pool, int n, Rng& rng) const {
  std::vector<int> lengths = short_lengths;
  lengths.insert(lengths.end(), long_lengths.begin(), long_lengths.end());
  if (lengths.empty()) throw std::invalid_argument("a labelled set needs at least one length");
  std::vector<std::vector<const Problem*>> by_length(lengths.size());
  for (const Problem& p : pool)
    for (size_t i = short_lengths.size(); i < lengths.size(); ++i)
      if (p.length == lengths[i]) by_length[i].push_back(&p);
  std::vector<Problem> out;
  for (int k = 0; k < n; ++k) {
    const size_t i = static_cast<size_t>(rng.randint(static_cast<int64_t>(lengths.size())));
    if (i < short_lengths.size()) {
      out.push_back(sample_problem(task, lengths[i], Split::train, rng));
    } else {
      if (by_length[i].empty()) throw std::invalid_argument("the labelled set has no problem of length " + std::to_string(lengths[i]));
      out.push_back(*by_length[i][static_cast<size_t>(rng.randint(static_cast<int64_t>(by_length[i].size())))]);
    }
  }
  return out;
}

std::string LabelledSet::to_json() const {
  nlohmann::json j;
  j["task"] = name_of(task);
  j["short_lengths"] = short_lengths;
  j["long_lengths"] = long_lengths;
  j["long_examples"] = long_examples;
  j["seed"] = seed;
  return j.dump(2) + "\n";
}

LabelledSet LabelledSet::from_json(const std::string& text, const std::string& where) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    LabelledSet s;
    s.task = parse_task(j.at("task").get<std::string>());
    s.short_lengths = j.at("short_lengths").get<std::vector<int>>();
    s.long_lengths = j.at("long_lengths").get<std::vector<int>>();
    s.long_examples = j.at("long_examples").get<int>();
    s.seed = j.at("seed").get<uint64_t>();
    if (s.long_lengths.empty() || s.long_examples < 1) throw std::invalid_argument("no long lengths or examples");
    return s;
  } catch (const std::exception& e) {
    throw std::runtime_error(where + " is not a labelled-set description (" + json_error_text(e) + "); rerun ch07_sft to write it again");
  }
}

void LabelledSet::save(const std::string& dir) const { write_file_atomic(dir + "/labelled_set.json", to_json()); }

LabelledSet LabelledSet::load(const std::string& dir) {
  const std::string path = dir + "/labelled_set.json";
  if (!std::filesystem::exists(dir + "/config.json")) throw std::runtime_error("no checkpoint at " + dir + "; run ch07_sft first (or pass its folder)");
  if (!std::filesystem::exists(path))
    throw std::runtime_error(dir + " has no labelled_set.json (the SFT stage's labelled data); rerun ch07_sft to make the checkpoint");
  return from_json(read_text_file(path), path);
}

std::vector<Problem> validation_set(Task task, const std::vector<int>& lengths, int n, const std::vector<Problem>& exclude, uint64_t seed) {
  std::set<std::string> seen;
  for (const Problem& p : exclude) seen.insert(problem_key(p));
  std::vector<Problem> out;
  for (int len : lengths) {
    int kept = 0;
    for (const Problem& p : problem_set(task, len, Split::train, n + static_cast<int>(seen.size()), seed + static_cast<uint64_t>(len))) {
      if (kept == n) break;
      if (seen.count(problem_key(p))) continue;
      out.push_back(p);
      ++kept;
    }
  }
  return out;
}

}  // namespace ds::ch07
