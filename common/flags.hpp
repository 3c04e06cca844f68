// Command-line flags in the style of CLI11, small enough to read: every program declares its
// flags next to the variables they set, gets --help for free, and answers a bad flag with one
// sentence and exit code 2 instead of a crash or a silently ignored typo.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
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

   private:
    friend class Flags;
    std::string name, help, type, default_text;
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

 private:
  Flag& declare(const std::string& name, const std::string& type, const std::string& help, std::string default_text,
                std::function<void(const std::string&)> set);
  Flag* find(const std::string& name);
  std::string program_, description_;
  std::vector<std::unique_ptr<Flag>> flags_;
};

}  // namespace ds
