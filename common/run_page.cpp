#include "common/run_page.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"
#include "common/svg.hpp"

namespace ds::run_page {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
struct Recorded {
  std::string path;   // weakly canonical
  Plot plot;
};
std::mutex g_mu;
std::string g_command;
std::vector<Recorded> g_plots;

std::string canonical(const std::string& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? p : c.string();
}

std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%") == std::string::npos) return a;
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string esc(const std::string& s) { return svg::esc(s); }   // XML-escaped and valid UTF-8 (the command may hold any bytes)

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// A summary value as one short cell: numbers to 6 digits, long arrays as count, first and last.
std::string cell(const json& v) {
  if (v.is_number()) return number(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    if (v.size() <= 8) {
      for (const auto& e : v) s += (s.empty() ? "" : ", ") + cell(e);
      return "[" + s + "]";
    }
    return std::to_string(v.size()) + " values: " + cell(v.front()) + " ... " + cell(v.back());
  }
  return v.dump();
}

void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& rows) {
  if (!j.is_object()) { rows.push_back({prefix, cell(j)}); return; }
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

void set_command(int argc, char** argv) {
  std::string c;
  for (int i = 0; i < argc; ++i) {
    if (i) c += ' ';
    c += shell_quote(argv[i]);
  }
  std::lock_guard<std::mutex> lock(g_mu);
  g_command = c;
}

const std::string& command() { return g_command; }

void add_plot(const std::string& svg_path, const std::string& title, const std::string& caption) {
  const std::string path = canonical(svg_path);
  std::lock_guard<std::mutex> lock(g_mu);
  for (const auto& r : g_plots)
    if (r.path == path) return;
  g_plots.push_back({path, {fs::path(path).filename().string(), title, caption}});
}

std::vector<Plot> plots_in(const std::string& dir) {
  const std::string d = canonical(dir);
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<Plot> out;
  for (const auto& r : g_plots)
    if (fs::path(r.path).parent_path().string() == d) out.push_back(r.plot);
  return out;
}

std::string render_run(const std::string& program, const std::string& summary_json, const std::vector<Plot>& plots) {
  std::string h = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(program) + "</title>\n" + kStyle + "</head><body>\n";
  h += "<p><a href=\"../index.html\">all runs</a></p>\n<h1>" + esc(program) + "</h1>\n";
  if (!command().empty()) h += "<p>Made by <code>" + esc(command()) + "</code></p>\n";
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(parse_or_empty(summary_json), "", rows);
  if (!rows.empty()) {
    h += "<h2>Headline numbers</h2>\n<table>\n";
    for (const auto& [k, v] : rows)
      if (k != "command") h += "<tr><td>" + esc(k) + "</td><td class=\"n\">" + esc(v) + "</td></tr>\n";
    h += "</table>\n<p><a href=\"summary.json\">summary.json</a></p>\n";
  }
  if (!plots.empty()) h += "<h2>Plots</h2>\n";
  for (const Plot& p : plots) {
    const std::string csv = fs::path(p.file).replace_extension(".csv").string();
    h += "<figure><img src=\"" + esc(p.file) + "\" alt=\"" + esc(p.title) + "\">\n<figcaption><b>" + esc(p.title) + "</b>";
    if (!p.caption.empty()) h += " &mdash; " + esc(p.caption);
    h += " (<a href=\"" + esc(csv) + "\">data</a>)</figcaption></figure>\n";
  }
  return h + "</body></html>\n";
}

void write_runs_index(const std::string& runs_dir) {
  struct Run {
    std::string name, command;
    fs::file_time_type when;
  };
  std::vector<Run> runs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(runs_dir, ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / "index.html")) continue;
    Run r{e.path().filename().string(), "", fs::last_write_time(e.path() / "index.html", ec)};
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

void write_pages(const std::string& dir, const std::string& summary_json) {
  const fs::path d = fs::path(canonical(dir));
  const std::string program = command().empty() ? d.filename().string() : fs::path(command().substr(0, command().find(' '))).filename().string();
  write_file_atomic((d / "index.html").string(), std::string_view(render_run(program, summary_json, plots_in(d.string()))));
  if (d.parent_path().filename() == "runs") write_runs_index(d.parent_path().string());
}

}  // namespace ds::run_page
