// Command-line flags in the style of CLI11, small enough to read: every program declares its
// flags next to the variables they set, gets --help for free, and answers a bad flag with one
// sentence and exit code 2 instead of a crash or a silently ignored typo.
//
// A flag may carry its --quick value beside its default:
//   flags.add("--steps", cfg.steps, "training steps").min(1).quick(2);
// When the switch named --quick is given, every flag NOT given on the command line takes its
// quick value; a flag given explicitly keeps what was typed (`--quick --batch 16` trains with 16).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace ds {

struct FlagError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Flags {
 public:
  // One declared flag; min/max/check add validation and return the flag for chaining.
  class Flag {
   public:
    Flag& min(double v);
    Flag& max(double v);
    // The checker returns "" for a good value, otherwise what is wrong ("needs 2 to 32 words").
    Flag& check(std::function<std::string(const std::string&)> checker);
    // The value --quick gives this flag unless the command line sets it (checked like a typed value).
    template <class T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Flag& quick(T v) { return quick_number(static_cast<double>(v)); }
    Flag& quick(const std::string& v);
    Flag& quick(const char* v) { return quick(std::string(v)); }
    Flag& quick(bool on);

   private:
    friend class Flags;
    Flag& quick_number(double v);
    std::string name, help, type, default_text;
    bool has_quick = false;
    std::string quick_text;   // the quick value as it would be typed ("" + has_quick: a switch turned on)
    std::vector<std::string> choices;
    bool is_switch = false;
    double lo = -1e300, hi = 1e300;
    std::function<void(const std::string&)> set;   // parses and assigns; throws FlagError text
    std::function<std::string(const std::string&)> checker;
  };

  Flags(std::string program, std::string description);

  Flag& add(const std::string& name, int& var, const std::string& help);
  Flag& add(const std::string& name, int64_t& var, const std::string& help);
  Flag& add(const std::string& name, uint64_t& var, const std::string& help);
  Flag& add(const std::string& name, double& var, const std::string& help);
  Flag& add(const std::string& name, float& var, const std::string& help);
  Flag& add(const std::string& name, std::string& var, const std::string& help);
  Flag& add_flag(const std::string& name, bool& var, const std::string& help);
  Flag& add_choice(const std::string& name, std::string& var, const std::vector<std::string>& choices,
                   const std::string& help);

  // Parses argv; on --help prints usage and exits 0; on a bad flag prints one sentence and exits 2.
  void parse(int argc, char** argv);
  // The same without exiting: throws FlagError with the sentence; returns false for --help.
  bool parse_args(const std::vector<std::string>& args);
  std::string usage() const;
  const std::string& program() const { return program_; }
  // Whether the last parse saw this flag on the command line.
  bool given(const std::string& name) const;
  // The command line parse() saw, shell-quoted as it was typed ("" before parse()).
  const std::string& command() const { return command_; }

 private:
  Flag& declare(const std::string& name, const std::string& type, const std::string& help, std::string default_text,
                std::function<void(const std::string&)> set);
  Flag* find(const std::string& name);
  const Flag* find(const std::string& name) const;
  void apply(Flag& f, const std::string& value);
  std::string program_, description_, command_;
  std::vector<std::string> given_;
  std::vector<std::unique_ptr<Flag>> flags_;
};

}  // namespace ds
