// The page a reader opens in a browser after a run: every program's --out folder gets an
// index.html with the command that made it, its headline numbers (summary.json) and each plot
// with a one-line caption saying what to look for; runs/index.html links every run made so far.
//
// A program holds one RunReport (start_run returns it) and writes through it: plot() writes a
// chart's SVG and CSV into the run folder and lists it, write() writes summary.json (with the
// command) and the pages. Nothing is recorded anywhere else.
#pragma once

#include <string>
#include <vector>

#include "common/plot.hpp"
#include "common/summary.hpp"

namespace ds {

class RunReport {
 public:
  struct Plot {
    std::string file;   // relative to the run folder
    std::string title, caption;
  };

  // dir: the run folder; program: the page's title; command: shown on the page and saved in summary.json.
  RunReport(std::string dir, std::string program, std::string command);

  const std::string& dir() const { return dir_; }
  const std::string& command() const { return command_; }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  const std::vector<Plot>& plots() const { return plots_; }

  // Writes dir/file (and the CSV beside it) and lists the plot on the page; a file written twice
  // is listed once, at its first place.
  void plot(const std::string& file, const LineChart& chart);
  void plot(const std::string& file, const BarChart& chart);
  void plot(const std::string& file, const Heatmap& chart);
  void plot(const std::string& file, const Gantt& chart);

  // summary.json (with "command"), index.html, and runs/index.html when the run folder's parent
  // is called "runs".
  void write(const Summary& summary) const;
  // The index.html of the run, from its summary (JSON text).
  std::string render(const std::string& summary_json) const;

 private:
  void add(const std::string& file, const std::string& title, const std::string& caption);
  std::string dir_, program_, command_;
  std::vector<Plot> plots_;
};

// A headline number as a reader writes it, with the unit its key names: "101.7 MB" for *bytes,
// "5,620 tokens/s" for *tokens_per_second, "12.4 s" for *seconds, otherwise four significant
// digits ("0.6108", "12.35") and thousands separated ("2,400").
std::string headline_number(const std::string& key, double v);

// Writes runs_dir/index.html listing every run folder in it that has an index.html.
void write_runs_index(const std::string& runs_dir);

}  // namespace ds
