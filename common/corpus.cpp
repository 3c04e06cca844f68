// The procedural story generator. A story is a short plot assembled from sentence
// templates: who the hero is, what they own or want, what goes wrong, who helps, how it
// ends. Slots such as {name}, {he}, {his}, {was} are filled from the hero's record and
// {friend}, {fhe}, {fhis} from the friend's, so a character's pronouns never change within
// a story. Problems come with the resolutions that answer them (an "episode"), which keeps
// each story coherent while the combinations keep documents from repeating.
#include "common/corpus.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

#include "common/corpus_templates.hpp"
#include "common/fsutil.hpp"

namespace ds::corpus {
namespace {

using namespace templates;

// splitmix64: tiny, fast, and the same numbers on every platform and compiler.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }
  bool chance(int percent) { return below(100) < percent; }
  template <class List>
  const auto& pick(const List& list) {
    return list[below(static_cast<int>(list.size()))];
  }

 private:
  uint64_t state_;
};

const PronounSet kPronouns[] = {{"she", "her", "her", "herself", "was"},
                                {"he", "him", "his", "himself", "was"},
                                {"they", "them", "their", "themselves", "were"}};

std::string with_article(std::string_view word) {
  const bool vowel = std::string_view("aeiou").find(word[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + std::string(word);
}

// "I will help you." -> "I will help you," as in: "I will help you," said Tom.
std::string said_form(std::string_view line) {
  std::string s(line);
  if (s.back() == '.') s.back() = ',';
  return s;
}

// Every name is equally likely. Animals get any of the three pronoun sets.
Character make_character(Random& rng) {
  const int she = static_cast<int>(kSheNames.size()), he = static_cast<int>(kHeNames.size());
  const int they = static_cast<int>(kTheyNames.size());
  const int animal = static_cast<int>(kAnimalNames.size());
  int who = rng.below(she + he + they + animal);
  if (who < she) return {std::string(kSheNames[who]), "girl", Pronoun::She};
  if ((who -= she) < he) return {std::string(kHeNames[who]), "boy", Pronoun::He};
  if ((who -= he) < they) return {std::string(kTheyNames[who]), "child", Pronoun::They};
  who -= they;
  return {std::string(kAnimalNames[who]), std::string(rng.pick(kAnimals)),
          static_cast<Pronoun>(rng.below(3))};
}

// The values every {slot} of a story's templates can take.
class Slots {
 public:
  void set(std::string_view key, std::string value) { kv_.emplace_back(key, std::move(value)); }
  void set_character(const Character& c, std::string_view prefix, Random& rng) {
    const PronounSet& p = pronoun_set(c.pronoun);
    const std::string f(prefix);
    set(f.empty() ? "name" : "friend", c.name);
    set(f + "kind", c.kind);
    set(f + "he", p.subject);
    set(f + "him", p.object);
    set(f + "his", p.possessive);
    set(f + "himself", p.reflexive);
    set(f + "was", p.was);
    const std::string_view adj = rng.pick(kAdjectives);
    set(f + "adj", std::string(adj));
    set("a_" + f + "adj", with_article(adj));
  }
  // Replaces each {key} and capitalises the first letter of the sentence.
  std::string fill(std::string_view t) const {
    std::string out = expand(t);
    for (char& c : out)
      if (std::isalpha(static_cast<unsigned char>(c))) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        break;
      }
    return out;
  }

 private:
  std::string expand(std::string_view t) const {
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] != '{') {
        out += t[i];
        continue;
      }
      const size_t close = t.find('}', i);
      const std::string_view key = t.substr(i + 1, close - i - 1);
      out += expand(lookup(key));   // values may hold slots too ("make a card for {his} mom")
      i = close;
    }
    return out;
  }
  const std::string& lookup(std::string_view key) const {
    for (const auto& [k, v] : kv_)
      if (k == key) return v;
    throw std::logic_error("corpus: template slot {" + std::string(key) + "} has no value");
  }
  std::vector<std::pair<std::string, std::string>> kv_;
};

bool needs_friend(std::string_view t) {
  return t.find("{f") != std::string_view::npos || t.find("{a_f") != std::string_view::npos;
}

// A template that fits the cast: friend templates only when the story has a friend.
std::string_view pick_for(const Words& list, bool has_friend, Random& rng) {
  while (true) {
    const std::string_view t = rng.pick(list);
    if (has_friend || !needs_friend(t)) return t;
  }
}

Document make_story(Random& rng) {
  Document doc;
  Slots slots;
  const Character hero = make_character(rng);
  Character friend_ = make_character(rng);
  while (friend_.name == hero.name) friend_ = make_character(rng);
  const bool has_friend = rng.chance(65);
  doc.characters.push_back(hero);
  if (has_friend) doc.characters.push_back(friend_);
  slots.set_character(hero, "", rng);
  slots.set_character(friend_, "f", rng);
  const std::string_view obj = rng.pick(kObjects);
  slots.set("obj", std::string(obj));
  slots.set("a_obj", with_article(rng.pick(kObjectAdjectives)) + " " + std::string(obj));
  slots.set("place", std::string(rng.pick(kPlaces)));
  slots.set("place2", std::string(rng.pick(kPlaces)));
  slots.set("time", std::string(rng.pick(kTimes)));
  slots.set("goal", std::string(rng.pick(kGoals)));
  const std::string_view line = rng.pick(kHeroLines);
  slots.set("line", std::string(line));
  slots.set("line_said", said_form(line));
  slots.set("fline_said", said_form(rng.pick(kFriendLines)));

  std::vector<std::string> s;
  auto say = [&](std::string_view t) { s.push_back(slots.fill(t)); };
  say(rng.pick(kIntro));
  if (rng.chance(15)) {   // a calm day: no plot
    say(rng.pick(kPlay));
    say(pick_for(kCalmEnding, has_friend, rng));
  } else {
    bool friend_known = false;
    if (rng.chance(40)) {
      const std::string_view t = pick_for(kSetting, has_friend, rng);
      friend_known = needs_friend(t);
      say(t);
    }
    const bool lost = rng.chance(50);
    say(rng.pick(lost ? kOwn : kWant));
    const Episode& e = rng.pick(lost ? kLost : kHard);
    say(e.problem);
    if (rng.chance(50)) say(rng.pick(kSaying));
    if (has_friend) {
      if (!friend_known) say(rng.pick(kArrival));
      if (s.size() < 6 && rng.chance(40))   // room is kept for resolution and ending (<= 8)
        say("\"{fline_said}\" said {friend}.");
    }
    say(has_friend ? e.with_friend : e.solo);
    if (s.size() < 7 && rng.chance(50)) say(pick_for(kAfter, has_friend, rng));
    const bool plot_end = rng.chance(20);
    say(plot_end ? rng.pick(lost ? kLostEnding : kWantEnding) : pick_for(kEnding, has_friend, rng));
  }
  doc.sentences = static_cast<int>(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) doc.text += ' ';
    doc.text += s[i];
  }
  return doc;
}

// Lines like "45 - 18 = 27": sums and differences of numbers below 100, products up to 12 x 12.
Document make_arithmetic(Random& rng) {
  Document doc;
  doc.arithmetic = true;
  doc.sentences = 3 + rng.below(6);
  for (int i = 0; i < doc.sentences; ++i) {
    int a = rng.below(100), b = rng.below(100), c;
    char op = "+-*"[rng.below(3)];
    if (op == '+')
      c = a + b;
    else if (op == '-') {
      if (b > a) std::swap(a, b);   // no negative results
      c = a - b;
    } else {
      a %= 13, b %= 13;
      c = a * b;
    }
    if (i) doc.text += '\n';
    doc.text += std::to_string(a) + ' ' + op + ' ' + std::to_string(b) + " = " + std::to_string(c);
  }
  return doc;
}

}  // namespace

const PronounSet& pronoun_set(Pronoun p) { return kPronouns[static_cast<int>(p)]; }

Document make_document(uint64_t seed, uint64_t index) {
  Random mix(seed ^ (0xD1B54A32D192ED03ull * (index + 1)));
  Random rng(mix.next());   // documents are independent: any one can be made alone
  return rng.chance(20) ? make_arithmetic(rng) : make_story(rng);
}

std::vector<std::string> generate_documents(uint64_t seed, size_t n_docs) {
  std::vector<std::string> docs;
  docs.reserve(n_docs);
  for (size_t i = 0; i < n_docs; ++i) docs.push_back(make_document(seed, i).text);
  return docs;
}

std::string generate_text(uint64_t seed, size_t approx_bytes) {
  std::string text;
  for (uint64_t i = 0; i == 0 || text.size() < approx_bytes; ++i) {
    if (i) text += "<|endoftext|>";
    text += make_document(seed, i).text;
  }
  return text;
}

std::vector<std::string> split_documents(std::string_view text) {
  const std::string_view eot = "<|endoftext|>";
  const bool by_eot = text.find(eot) != std::string_view::npos;
  std::vector<std::string> docs;
  auto keep = [&](std::string_view d) {
    const size_t b = d.find_first_not_of(" \t\r\n\v\f");
    if (b == std::string_view::npos) return;
    docs.emplace_back(d.substr(b, d.find_last_not_of(" \t\r\n\v\f") - b + 1));
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t end, next;
    if (by_eot) {
      end = std::min(text.find(eot, start), text.size());
      next = end + eot.size();
    } else {   // a blank line: a newline, optional spaces, another newline
      end = start;
      while ((end = text.find('\n', end)) != std::string_view::npos) {
        const size_t after = text.find_first_not_of(" \t\r\v\f", end + 1);
        if (after != std::string_view::npos && text[after] == '\n') break;
        ++end;
      }
      end = std::min(end, text.size());
      next = end + 1;
    }
    keep(text.substr(start, end - start));
    start = next;
  }
  return docs;
}

std::vector<std::string> load_documents(const std::string& path) {
  std::string text;
  try {
    text = read_text_file(path);
  } catch (const std::runtime_error& e) {   // "cannot read 'PATH': REASON"
    throw std::runtime_error(std::string("load_documents: ") + e.what());
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);   // a UTF-8 byte-order mark
  std::vector<std::string> docs = split_documents(text);
  if (docs.empty()) throw std::runtime_error("load_documents: '" + path + "' contains no text");
  return docs;
}

}  // namespace ds::corpus
