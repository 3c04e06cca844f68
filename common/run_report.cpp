#include "common/run_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"
#include "common/svg.hpp"

namespace ds {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
std::string esc(const std::string& s) { return svg::esc(s); }   // XML-escaped and valid UTF-8 (the command may hold any bytes)

bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0; }

// "1234567" -> "1,234,567" (digits only, no sign).
std::string group_thousands(const std::string& digits) {
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string plain_number(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  char buf[48];
  if (a >= 9999.5 || (a >= 1000 && v == std::round(v))) {
    std::snprintf(buf, sizeof buf, "%.0f", a);
    return (v < 0 ? "-" : "") + group_thousands(buf);
  }
  if (v == std::round(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, a >= 1e-4 ? "%.4g" : "%.3g", v);
  std::string s = buf;
  const size_t e = s.find("e-0");   // 5e-05 -> 5e-5
  if (e != std::string::npos) s.erase(e + 2, 1);
  return s;
}

std::string bytes_text(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (std::fabs(b) >= 1000.0 && u < 4) { b /= 1000.0; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

// A summary value as one short cell; long arrays as count, first and last.
std::string cell(const std::string& key, const json& v) {
  if (v.is_number()) return headline_number(key, v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    if (v.size() <= 8) {
      for (const auto& e : v) s += (s.empty() ? "" : ", ") + cell(key, e);
      return "[" + s + "]";
    }
    return std::to_string(v.size()) + " values: " + cell(key, v.front()) + " ... " + cell(key, v.back());
  }
  return v.dump();
}

void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& rows) {
  if (!j.is_object()) { rows.push_back({prefix, cell(prefix, j)}); return; }
  for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, rows);
}

json parse_or_empty(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return json::object();
  }
}

const char* kStyle =
    "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
    "code{background:#f3f3f3;padding:2px 5px;border-radius:3px}table{border-collapse:collapse}"
    "td,th{padding:3px 12px;border-bottom:1px solid #e5e5e5;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{margin:2em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{margin-top:.4em}</style>\n";
}  // namespace

std::string headline_number(const std::string& key, double v) {
  if (!std::isfinite(v)) return "-";
  if (ends_with(key, "bytes")) return bytes_text(v);
  if (ends_with(key, "tokens_per_second")) return plain_number(v >= 100 ? std::round(v) : v) + " tokens/s";
  if (ends_with(key, "seconds")) return plain_number(v) + " s";
  return plain_number(v);
}

RunReport::RunReport(std::string dir, std::string program, std::string command)
    : dir_(std::move(dir)), program_(std::move(program)), command_(std::move(command)) {}

void RunReport::add(const std::string& file, const std::string& title, const std::string& caption) {
  for (const Plot& p : plots_)
    if (p.file == file) return;
  plots_.push_back({file, title, caption});
}

void RunReport::plot(const std::string& file, const LineChart& c) { write_line_chart(path(file), c); add(file, c.title, c.caption); }
void RunReport::plot(const std::string& file, const BarChart& c) { write_bar_chart(path(file), c); add(file, c.title, c.caption); }
void RunReport::plot(const std::string& file, const Heatmap& c) { write_heatmap(path(file), c); add(file, c.title, c.caption); }
void RunReport::plot(const std::string& file, const Gantt& c) { write_gantt(path(file), c); add(file, c.title, c.caption); }

std::string RunReport::render(const std::string& summary_json) const {
  std::string h = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(program_) + "</title>\n" + kStyle + "</head><body>\n";
  h += "<p><a href=\"../index.html\">all runs</a></p>\n<h1>" + esc(program_) + "</h1>\n";
  if (!command_.empty()) h += "<p>Made by <code>" + esc(command_) + "</code></p>\n";
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(parse_or_empty(summary_json), "", rows);
  if (!rows.empty()) {
    h += "<h2>Headline numbers</h2>\n<table>\n";
    for (const auto& [k, v] : rows)
      if (k != "command") h += "<tr><td>" + esc(k) + "</td><td class=\"n\">" + esc(v) + "</td></tr>\n";
    h += "</table>\n<p><a href=\"summary.json\">summary.json</a></p>\n";
  }
  if (!plots_.empty()) h += "<h2>Plots</h2>\n";
  for (const Plot& p : plots_) {
    const std::string csv = fs::path(p.file).replace_extension(".csv").string();
    h += "<figure><img src=\"" + esc(p.file) + "\" alt=\"" + esc(p.title) + "\">\n<figcaption><b>" + esc(p.title) + "</b>";
    if (!p.caption.empty()) h += " &mdash; " + esc(p.caption);
    h += " (<a href=\"" + esc(csv) + "\">data</a>)</figcaption></figure>\n";
  }
  return h + "</body></html>\n";
}

void RunReport::write(const Summary& summary) const {
  Summary s = summary;
  if (!command_.empty()) s.set("command", command_);
  const std::string text = s.dump();
  write_file_atomic(path("summary.json"), std::string_view(text));
  write_file_atomic(path("index.html"), std::string_view(render(text)));
  std::error_code ec;
  const fs::path d = fs::weakly_canonical(fs::absolute(dir_), ec);
  if (!ec && d.parent_path().filename() == "runs") write_runs_index(d.parent_path().string());
}

void write_runs_index(const std::string& runs_dir) {
  struct Run {
    std::string name, command;
  };
  std::vector<Run> runs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(runs_dir, ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / "index.html")) continue;
    Run r{e.path().filename().string(), ""};
    if (fs::exists(e.path() / "summary.json")) {
      const json s = parse_or_empty(read_text_file((e.path() / "summary.json").string()));
      if (s.contains("command") && s["command"].is_string()) r.command = s["command"].get<std::string>();
    }
    runs.push_back(r);
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.name < b.name; });
  std::string h = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>runs</title>\n" + std::string(kStyle) + "</head><body>\n";
  h += "<h1>Runs</h1>\n<p>Every program run so far that wrote into this folder; open one to see its numbers and plots.</p>\n<table>\n";
  h += "<tr><th>run</th><th>command</th></tr>\n";
  for (const Run& r : runs)
    h += "<tr><td><a href=\"" + esc(r.name) + "/index.html\">" + esc(r.name) + "</a></td><td><code>" + esc(r.command) + "</code></td></tr>\n";
  h += "</table>\n</body></html>\n";
  write_file_atomic((fs::path(runs_dir) / "index.html").string(), std::string_view(h));
}

}  // namespace ds
