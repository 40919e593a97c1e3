// `onewindow generate` and `onewindow import`: synthetic data, and CSV files into the registries.
#include "cli/cli.h"

#include "base/csv.h"
#include "base/log.h"
#include "synthetic/synthetic.h"

#include <chrono>
#include <cstdio>
#include <iostream>

namespace onewindow::cli {

namespace {

int fail_with(const Error& error) {
  std::cerr << "\nonewindow: " << error.message << " [" << error.code << "]\n";
  return error.kind == ErrorKind::invalid_argument ? 2 : 1;
}

// One line on standard error, redrawn in place: [#####.....]  42%  then what is counted.
class ProgressBar {
 public:
  void show(int percentage, const std::string& counts) {
    auto now = std::chrono::steady_clock::now();
    if (percentage < 100 && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    constexpr int width = 30;
    int filled = percentage * width / 100;
    std::string bar = "\r[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    std::fprintf(stderr, "%s%3d%%  %s   ", bar.c_str(), percentage, counts.c_str());
    std::fflush(stderr);
  }
  void finish() { std::fprintf(stderr, "\n"); }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int generate_command(const Settings& settings, const GenerateOptions& options) {
  auto divisions = DivisionCodes::load(std::filesystem::path(settings.config_dir) / "divisions.yaml");
  if (!divisions.ok()) return fail_with(divisions.error());
  auto encoding = parse_text_encoding(options.encoding);
  if (!encoding.ok()) return fail_with(encoding.error());
  synthetic::Options generate;
  generate.persons = options.persons;
  generate.enterprises = options.enterprises;
  generate.seed = options.seed;
  generate.encoding = *encoding;
  auto today = Date::parse(options.today, "today");
  if (!today.ok()) return fail_with(today.error());
  generate.today = *today;
  ProgressBar bar;
  auto files = synthetic::generate(generate, *divisions, options.directory, [&](const synthetic::Progress& progress) {
    int percentage = progress.total > 0 ? static_cast<int>(progress.done * 100 / progress.total) : 100;
    bar.show(percentage, std::to_string(progress.done) + " of " + std::to_string(progress.total) + " rows");
  });
  if (!files.ok()) return fail_with(files.error());
  bar.finish();
  std::cout << "generated in " << bar.seconds() << " s (seed " << options.seed << ", " << options.encoding << "):\n";
  for (const auto& file : *files) {
    std::cout << "  " << file.path.string() << "  " << file.rows << " rows of " << file.registry << ", fields of "
              << file.department << "\n";
  }
  std::cout << "import each with: onewindow import REGISTRY FILE --department DEPARTMENT"
            << (*encoding == TextEncoding::gb18030 ? " --encoding gb18030" : "") << "\n";
  return 0;
}

int import_command(const Settings& settings, const ImportOptions& options) {
  auto platform = build_platform(settings, false);
  if (!platform.ok()) return fail_with(platform.error());
  Platform& running = **platform;
  auto encoding = parse_text_encoding(options.encoding);
  if (!encoding.ok()) return fail_with(encoding.error());
  bool known_department = false;
  for (const auto& department : running.directory_configuration->departments) {
    known_department = known_department || department.key == options.department;
  }
  if (!known_department) {
    return fail_with(Error::invalid("cli.unknown_department", "department",
                                    "--department must be the key of a department of departments.yaml"));
  }
  registry::ImportRequest request;
  request.registry = options.registry;
  request.file = options.file;
  request.encoding = *encoding;
  request.reason = options.reason;
  // The command line acts for the department on the server's own machine; the log names it so.
  request.writer = {"command_line", options.department};
  request.batch_rows = options.batch_rows;
  auto begun = running.imports->begin(request);
  if (!begun.ok()) return fail_with(begun.error());
  std::cerr << (begun->resumed ? "resuming import " : "import ") << begun->id << " of " << options.file << " into "
            << options.registry << (begun->resumed ? " after " + std::to_string(begun->rows_read) + " rows" : "") << "\n";
  ProgressBar bar;
  std::int64_t first_read = begun->rows_read;
  auto ended = running.imports->run(begun->id, [&](const registry::ImportStatus& status) {
    double rate = static_cast<double>(status.rows_read - first_read) / std::max(bar.seconds(), 1e-3);
    bar.show(status.percentage(), std::to_string(status.rows_read) + " rows, " + std::to_string(status.rows_rejected) +
                                      " rejected, " + std::to_string(static_cast<std::int64_t>(rate)) + " rows/s");
  });
  bar.finish();
  running.transparency_log->stop_signing();
  if (!ended.ok()) return fail_with(ended.error());
  double seconds = bar.seconds();
  std::cout << "import " << ended->id << " " << ended->state << ": " << ended->rows_read << " rows read, "
            << ended->rows_created << " created, " << ended->rows_updated << " updated, " << ended->rows_rejected
            << " rejected, in " << seconds << " s ("
            << static_cast<std::int64_t>((ended->rows_read - first_read) / std::max(seconds, 1e-3)) << " rows/s)\n";
  if (ended->rows_rejected > 0) {
    auto report = running.imports->rejections_csv(ended->id);
    if (!report.ok()) return fail_with(report.error());
    std::filesystem::path file = std::filesystem::path(settings.data_dir) / (ended->id + "-rejections.csv");
    std::FILE* out = std::fopen(file.c_str(), "wb");
    if (out == nullptr || std::fwrite(report->data(), 1, report->size(), out) != report->size()) {
      if (out != nullptr) std::fclose(out);
      return fail_with(Error(ErrorKind::unavailable, "cli.report_not_written", "cannot write " + file.string()));
    }
    std::fclose(out);
    std::cout << "rejected rows (line, field, reason): " << file.string() << "\n";
  }
  running.database->close();
  return ended->state == "finished" ? 0 : 1;
}

}  // namespace onewindow::cli
