// The page a reader opens in a browser after a run: every program's --out folder gets an
// index.html with the command that made it, its headline numbers (summary.json) and each plot
// with a one-line caption saying what to look for; runs/index.html links every run made so far.
//
// Nothing here needs a program's cooperation beyond what it already does: Flags::parse records
// the command, each write_* plot function records its SVG (title and caption), and
// Summary::write writes the pages next to summary.json.
#pragma once

#include <string>
#include <vector>

namespace ds::run_page {

struct Plot {
  std::string file;      // the SVG's file name, relative to the run folder
  std::string title, caption;
};

void set_command(int argc, char** argv);   // shell-quoted, as it was typed
const std::string& command();
// Called by the plot writers; a plot written twice is listed once, at its first place.
void add_plot(const std::string& svg_path, const std::string& title, const std::string& caption);
std::vector<Plot> plots_in(const std::string& dir);   // those recorded under dir, in order

// index.html of one run folder, from its summary (JSON text) and the plots recorded in it.
std::string render_run(const std::string& program, const std::string& summary_json, const std::vector<Plot>& plots);
// Writes dir/index.html (atomically) and, when dir's parent folder is called "runs", that
// folder's index.html listing every run folder in it that has an index.html.
void write_pages(const std::string& dir, const std::string& summary_json);
void write_runs_index(const std::string& runs_dir);

}  // namespace ds::run_page
