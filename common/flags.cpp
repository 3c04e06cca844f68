#include "common/flags.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <type_traits>


namespace ds {

namespace {
std::string quote(const std::string& s) { return "'" + s + "'"; }

std::string num_text(double x) {
  std::ostringstream o;
  o << x;
  return o.str();
}

// A quick value as it would be typed, exact for every int64 and float the flags hold.
std::string exact_text(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%") == std::string::npos) return a;
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

template <class T>
double parse_value(const std::string& name, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  if constexpr (std::is_integral_v<T>) {
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE || (std::is_unsigned_v<T> && x < 0))
      throw FlagError(name + " expects " + (std::is_unsigned_v<T> ? "a non-negative integer" : "an integer") + ", got " + quote(v));
    return static_cast<double>(x);
  } else {
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || (errno != ERANGE && std::isnan(x))) throw FlagError(name + " expects a number, got " + quote(v));
    // A number, but not one this flag's type holds: say which magnitudes it does.
    const double ax = std::fabs(x), lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    if (errno == ERANGE || !std::isfinite(x) || ax > hi || (ax > 0 && ax < lo))
      throw FlagError(name + " " + quote(v) + " is out of range: it takes 0 or a number between " + num_text(lo) + " and " + num_text(hi) +
                      " in magnitude");
    return x;
  }
}

std::string range_text(double lo, double hi) {
  if (lo > -1e300 && hi < 1e300) return "between " + num_text(lo) + " and " + num_text(hi);
  return lo > -1e300 ? "at least " + num_text(lo) : "at most " + num_text(hi);
}
}  // namespace

Flags::Flag& Flags::Flag::min(double v) { lo = v; return *this; }
Flags::Flag& Flags::Flag::max(double v) { hi = v; return *this; }
Flags::Flag& Flags::Flag::check(std::function<std::string(const std::string&)> c) { checker = std::move(c); return *this; }
Flags::Flag& Flags::Flag::quick_number(double v) {
  if (is_switch || !choices.empty() || type == "text") throw std::logic_error("Flags: " + name + " takes a text quick value");
  has_quick = true;
  quick_text = exact_text(v);
  return *this;
}
Flags::Flag& Flags::Flag::quick(const std::string& v) {
  if (is_switch || type == "int" || type == "uint" || type == "float") throw std::logic_error("Flags: " + name + " takes a numeric quick value");
  has_quick = true;
  quick_text = v;
  return *this;
}
Flags::Flag& Flags::Flag::quick(bool on) {
  if (!is_switch) throw std::logic_error("Flags: " + name + " is not a switch");
  has_quick = on;
  return *this;
}

Flags::Flags(std::string program, std::string description) : program_(std::move(program)), description_(std::move(description)) {}

Flags::Flag& Flags::declare(const std::string& name, const std::string& type, const std::string& help, std::string def,
                            std::function<void(const std::string&)> set) {
  if (find(name)) throw std::logic_error("Flags: " + name + " declared twice");
  auto f = std::make_unique<Flag>();
  f->name = name;
  f->type = type;
  f->help = help;
  f->default_text = std::move(def);
  f->set = std::move(set);
  flags_.push_back(std::move(f));
  return *flags_.back();
}

Flags::Flag* Flags::find(const std::string& name) {
  for (auto& f : flags_)
    if (f->name == name) return f.get();
  return nullptr;
}

const Flags::Flag* Flags::find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f->name == name) return f.get();
  return nullptr;
}

bool Flags::given(const std::string& name) const {
  for (const auto& g : given_)
    if (g == name) return true;
  return false;
}

void Flags::apply(Flag& f, const std::string& value) {
  f.set(value);
  if (f.checker) {
    const std::string why = f.checker(value);
    if (!why.empty()) throw FlagError(f.name + " " + why + ", got " + quote(value));
  }
}

namespace {
// Numeric flags parse, then check the flag's range. The Flag lives in a unique_ptr, so its
// address is stable and the setter can read the range set later by min()/max().
template <class T>
std::function<void(const std::string&)> numeric_setter(T& var, const std::string& name, const double* lo, const double* hi) {
  return [&var, name, lo, hi](const std::string& v) {
    const double x = parse_value<T>(name, v);
    if (x < *lo || x > *hi) throw FlagError(name + " must be " + range_text(*lo, *hi) + ", got " + quote(v));
    var = static_cast<T>(x);
  };
}
}  // namespace

#define DS_FLAGS_NUMERIC(T, TYPE)                                                         \
  Flags::Flag& Flags::add(const std::string& name, T& var, const std::string& help) {     \
    Flag& f = declare(name, TYPE, help, num_text(static_cast<double>(var)), nullptr);     \
    f.set = numeric_setter<T>(var, name, &f.lo, &f.hi);                          \
    return f;                                                                             \
  }
DS_FLAGS_NUMERIC(int, "int")
DS_FLAGS_NUMERIC(int64_t, "int")
DS_FLAGS_NUMERIC(uint64_t, "uint")
DS_FLAGS_NUMERIC(double, "float")
DS_FLAGS_NUMERIC(float, "float")
#undef DS_FLAGS_NUMERIC

Flags::Flag& Flags::add(const std::string& name, std::string& var, const std::string& help) {
  return declare(name, "text", help, var.empty() ? "" : "\"" + var + "\"", [&var](const std::string& v) { var = v; });
}

Flags::Flag& Flags::add_flag(const std::string& name, bool& var, const std::string& help) {
  Flag& f = declare(name, "", help, var ? "on" : "off", [&var](const std::string&) { var = true; });
  f.is_switch = true;
  return f;
}

Flags::Flag& Flags::add_choice(const std::string& name, std::string& var, const std::vector<std::string>& choices,
                               const std::string& help) {
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
  Flag& f = declare(name, list, help, var, [&var, name, choices, list](const std::string& v) {
    for (const auto& c : choices)
      if (c == v) { var = v; return; }
    throw FlagError(name + " must be one of " + list + ", got " + quote(v));
  });
  f.choices = choices;
  return f;
}

bool Flags::parse_args(const std::vector<std::string>& args) {
  given_.clear();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    if (a == "--help" || a == "-h") return false;
    const size_t eq = a.find('=');
    const bool has_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_value) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    Flag* f = find(a);
    if (!f) throw FlagError(a.rfind("-", 0) == 0 ? "unknown flag " + a : "unexpected argument " + quote(a));
    if (f->is_switch) {
      if (has_value) throw FlagError(a + " takes no value");
    } else if (!has_value) {
      if (i + 1 >= args.size()) throw FlagError(a + " needs a value");
      value = args[++i];
    }
    apply(*f, value);
    given_.push_back(a);
  }
  // --quick shrinks what the command line left at its default; what was typed wins.
  const Flag* q = find("--quick");
  if (q && q->is_switch && given("--quick"))
    for (auto& f : flags_)
      if (f->has_quick && !given(f->name)) apply(*f, f->quick_text);
  return true;
}

void Flags::parse(int argc, char** argv) {
  command_.clear();
  for (int i = 0; i < argc; ++i) command_ += (i ? " " : "") + shell_quote(argv[i]);
  try {
    if (!parse_args(std::vector<std::string>(argv + 1, argv + argc))) {
      std::fputs(usage().c_str(), stdout);
      std::exit(0);
    }
  } catch (const FlagError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", program_.c_str(), e.what());
    std::exit(2);
  }
}

std::string Flags::usage() const {
  std::ostringstream o;
  o << program_ << ": " << description_ << "\n\nusage: " << program_ << " [flags]\n\nflags:\n";
  size_t w = 0;
  for (const auto& f : flags_) w = std::max(w, f->name.size() + (f->type.empty() ? 0 : f->type.size() + 1));
  for (const auto& f : flags_) {
    std::string left = f->name + (f->type.empty() ? "" : " " + f->type);
    o << "  " << left << std::string(w + 2 - left.size(), ' ') << f->help;
    std::string quick = f->has_quick ? (f->is_switch ? "on" : f->quick_text) : "";
    if (f->has_quick && f->type == "float") quick = num_text(std::stod(f->quick_text));
    if (!f->is_switch && !f->default_text.empty()) o << " (default " << f->default_text << (quick.empty() ? "" : ", --quick " + quick) << ")";
    else if (!quick.empty()) o << " (--quick " << quick << ")";
    o << "\n";
  }
  o << "  --help" << std::string(w + 2 - 6, ' ') << "show this message\n";
  return o.str();
}

}  // namespace ds
