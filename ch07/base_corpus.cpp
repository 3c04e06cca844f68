#include "ch07/base_corpus.hpp"

#include <algorithm>
#include <array>

#include "ch02/generate.hpp"
#include "ch07/chat_template.hpp"
#include "ch07/task_tokenizer.hpp"

namespace ds::ch07 {
namespace {

template <class T, size_t N>
const T& any_of(const std::array<T, N>& items, Rng& rng) {
  return items[static_cast<size_t>(rng.randint(static_cast<int64_t>(N)))];
}

std::string number(int lo_digits, int hi_digits, Rng& rng) {
  const int digits = lo_digits + static_cast<int>(rng.randint(hi_digits - lo_digits + 1));
  std::string s(1, static_cast<char>('1' + rng.randint(9)));
  for (int i = 1; i < digits; ++i) s += static_cast<char>('0' + rng.randint(10));
  return s;
}

const std::array<const char*, 6> kNames = {"Ana", "Ben", "Chen", "Dara", "Eli", "Fay"};
const std::string kInstruction = "the reasoning in <think> </think> and the answer in <answer> </answer>.";

// Notes with an aside in <think> tags.
std::string note_doc(Rng& rng) {
  static const std::array<const char*, 8> items = {"bread", "milk", "apples", "tea", "rice", "soap", "eggs", "cheese"};
  std::string d = "Shopping list: ";
  d += any_of(items, rng);
  d += ", ";
  d += any_of(items, rng);
  d += ". <think> ";
  switch (rng.randint(3)) {
    case 0: d += std::string("maybe ") + any_of(items, rng) + " too"; break;
    case 1: d += "the shop closes at " + number(1, 1, rng); break;
    default: d += std::string("ask ") + any_of(kNames, rng) + " first"; break;
  }
  return d + " </think>";
}

// A quiz question with its answer in <answer> tags.
std::string quiz_doc(Rng& rng) {
  struct Qa { const char *q, *a; };
  static const std::array<Qa, 8> qas = {{{"What colour is the sky", "blue"},
                                        {"What do bees make", "honey"},
                                        {"Which animal barks", "dog"},
                                        {"What is frozen water", "ice"},
                                        {"Which season is the coldest", "winter"},
                                        {"What do we read", "books"},
                                        {"Which bird hoots at night", "owl"},
                                        {"What falls from clouds", "rain"}}};
  const Qa& x = any_of(qas, rng);
  return std::string("Quiz. ") + x.q + "? <answer> " + x.a + " </answer>";
}

// A made-up name of two or three syllables ("Tomi", "Relakan"): chat logs have many speakers, so
// a model learns "Name: question. Name:" as a pattern, not six names.
std::string made_up_name(Rng& rng) {
  static const std::string consonants = "bdfghklmnprstvz", vowels = "aeiou";
  std::string n;
  for (int64_t i = 0, syllables = 2 + rng.randint(2); i < syllables; ++i) {
    n += consonants[static_cast<size_t>(rng.randint(static_cast<int64_t>(consonants.size())))];
    n += vowels[static_cast<size_t>(rng.randint(static_cast<int64_t>(vowels.size())))];
  }
  if (rng.randint(2)) n += consonants[static_cast<size_t>(rng.randint(static_cast<int64_t>(consonants.size())))];
  n[0] = static_cast<char>(n[0] - 'a' + 'A');
  return n;
}

// Two speakers of a chat log, different.
std::pair<std::string, std::string> speakers(Rng& rng) {
  std::string a = made_up_name(rng), b = made_up_name(rng);
  while (b == a) b = made_up_name(rng);
  return {a, b};
}

// A chat log in which the reply is marked up: the reasoning in <think>, the word or code it ends
// on copied into <answer>. Riddles, look-ups and numbers written backwards, never a sum.
std::string tagged_chat_doc(Rng& rng) {
  struct Riddle { const char *q, *why, *a; };
  static const std::array<Riddle, 6> riddles = {{{"What has keys but opens no locks?", "it has keys and plays music", "piano"},
                                                {"What has hands but cannot clap?", "its hands point at the hours", "clock"},
                                                {"Name a thing with a neck but no head.", "it has a neck and a cork", "bottle"},
                                                {"What gets wetter as it dries?", "it dries other things", "towel"},
                                                {"Name a thing with teeth that cannot bite.", "its teeth go through hair", "comb"},
                                                {"What has one eye but cannot see?", "thread goes through its eye", "needle"}}};
  const auto [asker, replier] = speakers(rng);
  std::string d = rng.randint(2) ? "Write " + kInstruction + " " : "";
  std::string q, why, a;
  switch (rng.randint(4)) {
    case 0: {
      const Riddle& r = any_of(riddles, rng);
      q = r.q;
      why = r.why;
      a = r.a;
      break;
    }
    case 3: {   // digits reversed, in the textbook's words: a number task that is not a sum
      const std::string n = number(2, 4, rng);
      a = std::string(n.rbegin(), n.rend());
      q = "Write " + n + " with its digits from the ones.";
      why = "The digits from the ones";
      break;
    }
    case 1:
      a = number(2, 4, rng);
      q = "Tell me the room of the meeting.";
      why = "the note on the door gives the room";
      break;
    default:
      a = number(2, 4, rng);
      q = std::string("What is ") + any_of(kNames, rng) + "'s locker?";
      why = "the list by the office gives the locker";
      break;
  }
  return d + asker + ": " + q + " " + replier + ": <think> " + why + ": " + a + ". </think> <answer> " + a + " </answer>";
}

}  // namespace

std::string plain_sum_doc(const Problem& p, Rng& rng) {
  const std::string& a = p.numbers.at(0);
  const std::string& b = p.numbers.at(1);
  switch (rng.randint(4)) {
    case 0: return a + "+" + b + "=" + p.target;
    case 1: return a + " + " + b + " = " + p.target;
    case 2: return "The sum of " + a + " and " + b + " is " + p.target + ".";
    default: return a + " plus " + b + " makes " + p.target + ".";
  }
}

std::string textbook_solution(const Problem& p) {
  return "Column by column from the ones: " + p.reasoning + ". The digits from the ones: " + p.answer + ".";
}

std::string textbook_doc(const Problem& p, Rng& rng) {
  static const std::array<const char*, 3> headings = {"", "Example. ", "Exercise. "};
  if (rng.randint(4) == 0) {   // a chat log with a worked reply, no tags
    const auto [asker, replier] = speakers(rng);
    return asker + ": " + p.question + ". " + replier + ": " + textbook_solution(p);
  }
  return std::string(any_of(headings, rng)) + p.question + ". " + textbook_solution(p);
}

std::string markup_doc(Rng& rng) {
  switch (rng.randint(3)) {
    case 0: return note_doc(rng);
    case 1: return quiz_doc(rng);
    default: return tagged_chat_doc(rng);
  }
}

std::string corpus_doc(const CorpusMix& mix, const std::vector<int>& lengths, const std::set<std::string>& exclude, Rng& rng) {
  const double u = rng.uniform() * (mix.plain + mix.textbook + mix.markup);
  if (u >= mix.plain + mix.textbook) return markup_doc(rng);
  for (;;) {
    const int len = lengths[static_cast<size_t>(rng.randint(static_cast<int64_t>(lengths.size())))];
    const Problem p = sample_problem(Task::addition, len, Split::train, rng);
    if (exclude.count(problem_key(p))) continue;
    return u < mix.plain ? plain_sum_doc(p, rng) : textbook_doc(p, rng);
  }
}

ChatTemplate r1_zero_template() {
  // R1 Table 1: "... The reasoning process and answer are enclosed within <think> </think> and
  // <answer> </answer> tags, respectively ...", shortened.
  return {"A conversation between User and Assistant. The assistant writes " + kInstruction};
}

Tokenizer corpus_tokenizer(int vocab) {
  Rng rng(20261208);
  std::vector<std::string> docs = {r1_zero_template().prompt("Add 1 + 2 and write the sum least significant digit first")};
  for (int i = 0; i < 1500; ++i) docs.push_back(corpus_doc(CorpusMix{}, {1, 2, 3, 4}, {}, rng));
  return train_task_tokenizer(docs, vocab);
}

Problem with_textbook_reasoning(Problem p) {
  p.reasoning = textbook_solution(p);
  return p;
}

bool writes_worked_solution(const Problem& p, std::string_view completion) {
  const ParsedCompletion c = parse_completion(completion);
  if (!c.well_formed) return false;
  const size_t columns = std::max(p.numbers.at(0).size(), p.numbers.at(1).size());
  return static_cast<size_t>(std::count(c.reasoning.begin(), c.reasoning.end(), '=')) >= columns;
}

double textbook_language_share(std::string_view completion) {
  static const std::set<std::string> words = {"Column", "column", "by", "from", "the", "The", "ones", "digits", "carry"};
  const ParsedCompletion c = parse_completion(completion);
  if (!c.well_formed) return 0;
  int64_t n = 0, in = 0;
  size_t at = 0;
  while (at < c.reasoning.size()) {
    const size_t end = std::min(c.reasoning.find(' ', at), c.reasoning.size());
    std::string w = c.reasoning.substr(at, end - at);
    at = end + 1;
    while (!w.empty() && (w.back() == ',' || w.back() == '.' || w.back() == ':')) w.pop_back();
    if (w.empty()) continue;
    ++n;
    in += words.count(w) || w.find_first_not_of("0123456789+=") == std::string::npos;
  }
  return n > 0 ? static_cast<double>(in) / static_cast<double>(n) : 0.0;
}

namespace {
// Greedy continuations of "<|endoftext|>" + each prefix up to <|endoftext|> (excluded), decoded;
// "" for a row that did not stop within max_new tokens.
std::vector<std::string> continue_texts(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<std::string>& prefixes, int64_t max_new) {
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& s : prefixes) {
    std::vector<int32_t> ids = codec.tok.encode(s);
    ids.insert(ids.begin(), codec.eot());
    prompts.push_back(std::move(ids));
  }
  ch02::SamplingConfig sc;
  sc.max_new_tokens = max_new;
  sc.stop_tokens = {codec.eot()};
  const ch02::Generation g = ch02::generate(model, prompts, sc, true);
  std::vector<std::string> out;
  for (std::vector<int32_t> ids : g.tokens) {
    if (ids.empty() || ids.back() != codec.eot()) {
      out.emplace_back();
      continue;
    }
    ids.pop_back();
    out.push_back(codec.text(ids));
  }
  return out;
}
}  // namespace

double direct_sum_exact_match(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<Problem>& problems) {
  if (problems.empty()) return 0;
  std::vector<std::string> prefixes;
  for (const Problem& p : problems) prefixes.push_back(p.numbers.at(0) + "+" + p.numbers.at(1) + "=");
  const std::vector<std::string> out = continue_texts(model, codec, prefixes, 8);
  double right = 0;
  for (size_t i = 0; i < problems.size(); ++i) right += out[i] == problems[i].target;
  return right / static_cast<double>(problems.size());
}

double textbook_exact_match(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<Problem>& problems) {
  if (problems.empty()) return 0;
  std::vector<std::string> prefixes;
  int64_t budget = 0;
  for (const Problem& p : problems) {
    prefixes.push_back(p.question + ". Column by column from the ones:");
    budget = std::max<int64_t>(budget, static_cast<int64_t>(codec.tok.encode(textbook_solution(p)).size()) + 8);
  }
  const std::vector<std::string> out = continue_texts(model, codec, prefixes, budget);
  const std::string tail = "The digits from the ones:";
  double right = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    const size_t at = out[i].rfind(tail);
    if (at == std::string::npos) continue;
    std::string_view a = trim_ascii(std::string_view(out[i]).substr(at + tail.size()));
    if (!a.empty() && a.back() == '.') a.remove_suffix(1);
    right += a == problems[i].answer;
  }
  return right / static_cast<double>(problems.size());
}

}  // namespace ds::ch07
