// ch02_attention: one head of causal self-attention on a six-token sentence, step by step
// (the book's first chapter-2 walk-through): embeddings, queries/keys/values, scores, the causal mask, softmax
// weights and the output, printed as small matrices, with the weights drawn as a heatmap.
#include "ch02/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/flags.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;

namespace {
std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

void print_matrix(const char* title, const Tensor& m, const std::vector<std::string>& rows) {
  std::printf("\n%s  %s\n", title, m.shape_str().c_str());
  const int64_t r = m.size(0), c = m.size(1);
  for (int64_t i = 0; i < r; ++i) {
    std::printf("  %-8s", rows[static_cast<size_t>(i)].c_str());
    for (int64_t j = 0; j < c; ++j) {
      const float v = m.data()[i * c + j];
      if (std::isinf(v))
        std::printf("%8s", "-inf");
      else
        std::printf("%8.3f", v);
    }
    std::printf("\n");
  }
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch02_attention", [&] {
    Flags flags("ch02_attention", "Causal self-attention on a tiny example, one step at a time.");
    RunOptions run;
    add_run_flags(flags, run, "ch02_attention");
    std::string text = "The next day is bright and";
    int64_t dim = 4, head_dim = 3;
    flags.add("--text", text, "the words to attend over (one token per word)").check([](const std::string& s) {
      return split_words(s).size() >= 2 && split_words(s).size() <= 32 ? "" : "needs between 2 and 32 words";
    });
    flags.add("--dim", dim, "embedding size of each token").min(1).max(64);
    flags.add("--head-dim", head_dim, "size of the query/key/value vectors").min(1).max(64);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch02_attention",
                 "one head of causal self-attention: each token mixes the value vectors of itself and the tokens before it, "
                 "weighted by softmax(q.k / sqrt(d)).");

    const auto words = split_words(text);
    const int64_t t = static_cast<int64_t>(words.size());
    Rng rng(run.seed);
    // Random embeddings and projections stand in for trained ones: the mechanics are the same.
    // Projections get std 1/sqrt(dim), the usual initialisation, so scores stay in a readable range.
    const float w_std = 1.f / std::sqrt(static_cast<float>(dim));
    const Tensor x = randn({t, dim}, rng), wq = randn({head_dim, dim}, rng, w_std), wk = randn({head_dim, dim}, rng, w_std),
                 wv = randn({head_dim, dim}, rng, w_std);
    const ch02::AttentionSteps s = ch02::self_attention_steps(x, wq, wk, wv);

    print_matrix("token embeddings x", x, words);
    print_matrix("queries q = x Wq^T", s.q, words);
    print_matrix("keys k = x Wk^T", s.k, words);
    print_matrix("values v = x Wv^T", s.v, words);
    print_matrix("scores q k^T / sqrt(d)", s.scores, words);
    print_matrix("causal mask: a token may not look ahead", s.masked, words);
    print_matrix("attention weights softmax(masked), each row sums to 1", s.weights, words);
    print_matrix("output = weights v", s.output, words);

    Heatmap hm;
    hm.title = "Causal attention weights: row = query token, column = key token";
    hm.xlabel = "key (attended-to token)";
    hm.ylabel = "query token";
    hm.rows = t;
    hm.cols = t;
    hm.values.assign(s.weights.data(), s.weights.data() + t * t);
    hm.row_labels = words;
    hm.col_labels = words;
    hm.annotate = true;
    const float* last = s.weights.data() + (t - 1) * t;
    const int64_t top = std::max_element(last, last + t) - last;
    hm.caption = fmt("Everything above the diagonal is 0 (the causal mask: no token sees a later one) and every row sums to 1; the "
                     "first token can only attend to itself, the last '%s' spreads over all %lld and weighs '%s' most (%.2f).",
                     words.back().c_str(), (long long)t, words[static_cast<size_t>(top)].c_str(), last[top]);
    const std::string svg = report.path("attention_weights.svg");
    report.plot("attention_weights.svg", hm);

    Summary summary;
    summary.set("tokens", static_cast<double>(t));
    summary.set("dim", static_cast<double>(dim));
    summary.set("head_dim", static_cast<double>(head_dim));
    std::vector<double> last_row(s.weights.data() + (t - 1) * t, s.weights.data() + t * t);
    summary.set("last_token_weights", last_row);
    report.write(summary);
    std::printf("\nThe last token '%s' attends to every token; the first only to itself.\n", words.back().c_str());
    std::printf("wrote %s (+ .csv) and %s/summary.json\n", svg.c_str(), run.out.c_str());
    return 0;
  });
}
