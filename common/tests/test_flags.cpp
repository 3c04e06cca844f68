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

namespace {
// A program's flags with --quick values beside their defaults.
struct QuickFixture {
  Flags f{"prog", "a test program"};
  int64_t steps = 100, batch = 8;
  float lr = 2e-3f;
  std::string preset = "mini";
  bool quick = false, small = false;
  QuickFixture() {
    f.add_flag("--quick", quick, "tiny run");
    f.add("--steps", steps, "training steps").min(1).quick(2);
    f.add("--batch", batch, "batch").min(1).quick(4);
    f.add("--lr", lr, "learning rate").min(0).quick(3e-3);
    f.add_choice("--preset", preset, {"tiny", "mini"}, "size").quick("tiny");
    f.add_flag("--small", small, "small").quick(true);
  }
};
}  // namespace

TEST_CASE("flags: --quick sets the quick values of the flags the command line left alone") {
  QuickFixture x;
  CHECK(x.f.parse_args({"--quick"}));
  CHECK(x.steps == 2);
  CHECK(x.batch == 4);
  CHECK(x.lr == 3e-3f);
  CHECK(x.preset == "tiny");
  CHECK(x.small);
  QuickFixture y;
  CHECK(y.f.parse_args({"--steps", "7"}));   // without --quick the quick values do nothing
  CHECK(y.steps == 7);
  CHECK(y.batch == 8);
  CHECK(y.preset == "mini");
  CHECK(!y.small);
}

TEST_CASE("flags: a flag given explicitly wins over --quick, before or after it") {
  QuickFixture x;
  CHECK(x.f.parse_args({"--batch", "16", "--quick", "--preset=mini"}));
  CHECK(x.batch == 16);
  CHECK(x.preset == "mini");
  CHECK(x.steps == 2);
  CHECK(x.f.given("--batch"));
  CHECK(!x.f.given("--steps"));
  QuickFixture y;
  CHECK(y.f.parse_args({"--quick", "--steps=50"}));
  CHECK(y.steps == 50);
  CHECK(y.batch == 4);
}

TEST_CASE("flags: usage shows the --quick value beside the default, and a bad quick value is the program's bug") {
  QuickFixture x;
  const std::string u = x.f.usage();
  CHECK(u.find("(default 100, --quick 2)") != std::string::npos);
  CHECK(u.find("(default 0.002, --quick 0.003)") != std::string::npos);
  CHECK(u.find("(default mini, --quick tiny)") != std::string::npos);
  Flags f("prog", "p");
  bool q = false;
  int64_t n = 5;
  f.add_flag("--quick", q, "tiny");
  f.add("--n", n, "n").min(1).quick(0);
  CHECK_THROWS_AS(f.parse_args({"--quick"}), FlagError);   // the range applies to quick values too
  std::string s;
  CHECK_THROWS_AS(f.add("--s", s, "s").quick(3), std::logic_error);
}

TEST_CASE("flags: parse records the command line, shell-quoted") {
  Flags f("prog", "p");
  std::string data;
  f.add("--data", data, "file");
  char a0[] = "./prog", a1[] = "--data=it's.txt";
  char* argv[] = {a0, a1};
  f.parse(2, argv);
  CHECK(f.command() == "./prog '--data=it'\\''s.txt'");
  CHECK(data == "it's.txt");
}
