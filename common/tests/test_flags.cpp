#include <doctest/doctest.h>

#include "common/flags.hpp"

using namespace ds;

namespace {
struct Fixture {
  Flags f{"prog", "a test program"};
  int64_t steps = 10;
  double lr = 0.5;
  std::string name = "x", sched = "cosine";
  bool quick = false;
  Fixture() {
    f.add("--steps", steps, "training steps").min(1).max(1000);
    f.add("--lr", lr, "learning rate").min(0);
    f.add("--name", name, "a name").check([](const std::string& s) { return s.size() <= 5 ? "" : "is too long"; });
    f.add_flag("--quick", quick, "tiny run");
    f.add_choice("--schedule", sched, {"cosine", "wsd"}, "schedule");
  }
};
}  // namespace

TEST_CASE("flags: values in both spellings, switches, choices") {
  Fixture x;
  CHECK(x.f.parse_args({"--steps", "20", "--lr=0.001", "--quick", "--schedule", "wsd", "--name=abc"}));
  CHECK(x.steps == 20);
  CHECK(x.lr == 0.001);
  CHECK(x.quick);
  CHECK(x.sched == "wsd");
  CHECK(x.name == "abc");
  CHECK(!x.f.parse_args({"--help"}));
}

TEST_CASE("flags: every kind of bad input is one sentence") {
  auto err = [](std::vector<std::string> args) {
    Fixture x;
    try {
      x.f.parse_args(args);
    } catch (const FlagError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err({"--stpes", "3"}) == "unknown flag --stpes");
  CHECK(err({"--steps"}) == "--steps needs a value");
  CHECK(err({"--steps", "abc"}) == "--steps expects an integer, got 'abc'");
  CHECK(err({"--steps", "1.5"}) == "--steps expects an integer, got '1.5'");
  CHECK(err({"--steps", "0"}) == "--steps must be between 1 and 1000, got '0'");
  CHECK(err({"--lr", "-1"}) == "--lr must be at least 0, got '-1'");
  CHECK(err({"--lr", "1e-3x"}) == "--lr expects a number, got '1e-3x'");
  CHECK(err({"--schedule", "linear"}) == "--schedule must be one of cosine|wsd, got 'linear'");
  CHECK(err({"--quick=1"}) == "--quick takes no value");
  CHECK(err({"--name", "toolong"}) == "--name is too long, got 'toolong'");
  CHECK(err({"stray"}) == "unexpected argument 'stray'");
}

TEST_CASE("flags: usage lists every flag with its default") {
  Fixture x;
  const std::string u = x.f.usage();
  CHECK(u.find("--steps int") != std::string::npos);
  CHECK(u.find("(default 10)") != std::string::npos);
  CHECK(u.find("--schedule cosine|wsd") != std::string::npos);
  CHECK(u.find("--help") != std::string::npos);
}
