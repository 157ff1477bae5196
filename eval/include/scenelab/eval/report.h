#pragma once
// Reports built from run folders alone (results.json, sweep.json/csv,
// metrics.csv, figures/), so a report can be rebuilt years later without
// recomputing anything. Writes index.html (self-contained: figures are
// embedded) and report.md (figures copied next to it).
#include <string>
#include <vector>

#include "scenelab/eval/stats.h"

namespace scenelab::eval {

struct ReportOptions {
  std::string title = "scenelab report";
  int gallery_classes = 15;  // galleries shown per run (first classes in order)
};

// Returns the path of index.html. Throws Error naming a run folder that has
// neither results.json nor sweep.json.
std::string BuildReport(const std::vector<std::string>& run_dirs, const std::string& out_dir,
                        const ReportOptions& opts = {});

// McNemar + Holm between run folders from their predictions.csv; throws
// Error when the runs were not scored on the same test images.
SignificanceTable RunSignificance(const std::vector<std::string>& run_dirs, const std::vector<std::string>& names,
                                  double alpha = 0.05);

std::string HtmlEscape(const std::string& s);
std::string Base64(const std::vector<unsigned char>& bytes);

}  // namespace scenelab::eval
