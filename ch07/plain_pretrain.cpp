#include "ch07/plain_pretrain.hpp"

#include <algorithm>
#include <stdexcept>

#include "ch02/generate.hpp"
#include "common/progress.hpp"

namespace ds::ch07 {

std::string plain_text(const Problem& p) {
  if (p.task == Task::addition) return p.numbers.at(0) + "+" + p.numbers.at(1) + "=" + p.answer;
  std::string expr;
  for (char c : p.answer)
    if (c != ' ') expr += c;
  return expr + "=" + p.target;
}

Batch document_batch(const TaskCodec& codec, const std::vector<std::string>& docs) {
  // The leading <|endoftext|> is the context of the first text token, as between packed documents.
  std::vector<std::vector<int32_t>> starts, texts;
  for (const std::string& d : docs) {
    starts.push_back({codec.eot()});
    std::vector<int32_t> ids = codec.tok.encode(d);
    ids.push_back(codec.eot());
    texts.push_back(std::move(ids));
  }
  return sft_batch(starts, texts, codec.eot());
}

Batch plain_batch(const TaskCodec& codec, const std::vector<Problem>& problems) {
  std::vector<std::string> docs;
  for (const Problem& p : problems) docs.push_back(plain_text(p));
  return document_batch(codec, docs);
}

double plain_exact_match(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<Problem>& problems) {
  if (problems.empty()) return 0;
  std::vector<std::vector<int32_t>> prompts;
  for (const Problem& p : problems) {
    if (p.task != Task::addition) throw std::invalid_argument("plain_exact_match reads sums only");
    std::vector<int32_t> ids = codec.tok.encode(p.numbers.at(0) + "+" + p.numbers.at(1) + "=");
    ids.insert(ids.begin(), codec.eot());
    prompts.push_back(std::move(ids));
  }
  ch02::SamplingConfig sc;
  sc.max_new_tokens = 0;
  for (const Problem& p : problems) sc.max_new_tokens = std::max<int64_t>(sc.max_new_tokens, static_cast<int64_t>(p.answer.size()) + 2);
  sc.stop_tokens = {codec.eot()};
  const ch02::Generation g = ch02::generate(model, prompts, sc, true);
  int64_t right = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    std::vector<int32_t> ids = g.tokens[i];
    if (ids.empty() || ids.back() != codec.eot()) continue;   // no end: it did not stop after the answer
    ids.pop_back();
    right += codec.text(ids) == problems[i].answer;
  }
  return static_cast<double>(right) / static_cast<double>(problems.size());
}

int64_t pretrain_plain(SftTrainer& trainer, const TaskCodec& codec, Task task, const std::vector<int>& lengths, int64_t steps, Rng& rng,
                       const std::function<bool()>& stop) {
  const TrainerConfig& cfg = trainer.trainer->config();
  Progress bar(steps, "pretrain the base (plain text)", cfg.progress);
  int64_t done = 0;
  while (done < steps && !(stop && stop())) {
    const StepStats s = trainer.step(plain_batch(codec, sample_train_problems(task, lengths, static_cast<int>(cfg.batch_size), rng)));
    bar.update(++done, {{"loss", s.loss}});
  }
  bar.finish();
  return done;
}

int64_t pretrain_documents(SftTrainer& trainer, const TaskCodec& codec, const std::function<std::string(Rng&)>& next_doc, int64_t steps,
                           Rng& rng, const std::function<bool()>& stop) {
  const TrainerConfig& cfg = trainer.trainer->config();
  Progress bar(steps, "pretrain the base", cfg.progress);
  int64_t done = 0;
  while (done < steps && !(stop && stop())) {
    std::vector<std::string> docs;
    for (int64_t i = 0; i < cfg.batch_size; ++i) docs.push_back(next_doc(rng));
    const StepStats s = trainer.step(document_batch(codec, docs));
    bar.update(++done, {{"loss", s.loss}});
  }
  bar.finish();
  return done;
}

}  // namespace ds::ch07
