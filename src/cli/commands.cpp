// The onewindow command line: serve, demo, migrate, generate, import, audit, settings, version. Composes the modules into one
// server; the only place that knows all of them.
#include "cli/cli.h"

#include "api/api.h"
#include "base/build_info.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "base/log.h"
#include "store/store.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <pthread.h>
#include <unistd.h>

namespace onewindow::cli {

namespace {

struct CommonFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<std::string> config_dir;
  std::optional<std::string> web_dir;
  std::optional<std::string> database_url;
};

void add_common_flags(CLI::App& command, CommonFlags& flags, bool with_listen) {
  command.add_option("--config", flags.config_file, "YAML settings file (also ONEWINDOW_CONFIG)");
  if (with_listen) {
    command.add_option("--listen", flags.listen, "address and port to listen on [127.0.0.1:8080]");
  }
  command.add_option("--data-dir", flags.data_dir, "directory for the SQLite database and stored files [data]");
  command.add_option("--config-dir", flags.config_dir, "directory of calendars, divisions and other configuration data");
  command.add_option("--web-dir", flags.web_dir, "directory of the built web UI, served at / (\"\": none)");
  command.add_option("--database-url", flags.database_url, "sqlite (default), sqlite:FILE or postgresql://...");
}

Result<Settings> settings_from(const CommonFlags& flags) {
  std::optional<std::filesystem::path> file;
  if (flags.config_file) file = *flags.config_file;
  else if (const char* from_environment = std::getenv("ONEWINDOW_CONFIG")) file = from_environment;
  FlagOverrides overrides;
  if (flags.listen) overrides["listen"] = *flags.listen;
  if (flags.data_dir) overrides["data_dir"] = *flags.data_dir;
  if (flags.config_dir) overrides["config_dir"] = *flags.config_dir;
  if (flags.web_dir) overrides["web_dir"] = *flags.web_dir;
  if (flags.database_url) overrides["database.url"] = *flags.database_url;
  return load_settings(file, [](const char* name) { return std::getenv(name); }, overrides);
}

int fail(const Error& error) {
  std::cerr << "onewindow: " << error.message << " [" << error.code << "]\n";
  return error.kind == ErrorKind::invalid_argument ? 2 : 1;
}

// Blocks SIGINT and SIGTERM in every thread started from now on, so that only the main thread
// receives them, through sigwait.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int serve(const Settings& settings, bool demo) {
  sigset_t stop_signals = block_stop_signals();
  auto platform = build_platform(settings);
  if (!platform.ok()) return fail(platform.error());
  Platform& running = **platform;
  std::vector<std::string> demo_lines;
  if (demo) {
    auto seeded = seed_demo(running);
    if (!seeded.ok()) return fail(seeded.error());
    demo_lines = std::move(seeded).value();
  }

  auto options = server_options(running.settings);
  if (!options.ok()) return fail(options.error());
  api::Server server(running.router, running.metrics, *options);
  running.system.server = &server;
  Status started = server.start();
  if (!started.ok()) return fail(started.error());

  std::string url = "http://" + running.settings.listen;
  log::info("onewindow " + std::string(build_info::version) + " listening on " + url + " (database: " +
            std::string(store::backend_name(running.database->backend())) + ", data: " + running.settings.data_dir + ")");
  if (demo) {
    std::cout << "\nonewindow demo is running at " << url << "/\n"
              << "  health:   " << url << "/healthz\n"
              << "  API:      " << url << "/api/openapi.json\n"
              << "  metrics:  " << url << "/metrics\n"
              << "  log in:   POST " << url << "/api/v1/session {\"username\", \"password\", \"totp\"}\n";
    for (const std::string& line : demo_lines) std::cout << line << "\n";
    std::cout << "Stop with Ctrl-C.\n" << std::flush;
  }

  int received = 0;
  sigwait(&stop_signals, &received);
  log::info(std::string("received ") + (received == SIGTERM ? "SIGTERM" : "SIGINT") +
            ": finishing requests in flight, then stopping");
  server.drain_and_stop();
  running.transparency_log->stop_signing();
  running.database->close();
  log::info("stopped cleanly");
  return 0;
}

// `onewindow audit verify`: progress on standard error, the verdict on standard output.
int verify_audit_log(const Settings& settings) {
  auto database = open_database(settings);
  if (!database.ok()) return fail(database.error());
  // Every key the node has held: its certificate rotates, and older tree heads keep the old key.
  auto node_keys = pki::node_public_keys(**database);
  if (!node_keys.ok()) return fail(node_keys.error());
  auto started = std::chrono::steady_clock::now();
  std::int64_t last_percent = -1;
  auto report = audit::verify_log(**database, *node_keys, [&](std::int64_t done, std::int64_t total) {
    std::int64_t percent = total > 0 ? done * 100 / total : 100;
    if (percent != last_percent && isatty(2)) std::cerr << "\rverifying: " << percent << "% (" << done << " of " << total << ")" << std::flush;
    last_percent = percent;
  });
  if (isatty(2)) std::cerr << "\n";
  (*database)->close();
  if (!report.ok()) return fail(report.error());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << report->summary() << " (" << seconds << " s)\n";
  return report->ok() ? 0 : 1;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"onewindow: integrated e-government platform (one-stop services, registries, exchange, supervision)",
               "onewindow"};
  app.require_subcommand(1);
  app.set_version_flag("--version", build_info::version);

  CommonFlags serve_flags, demo_flags, migrate_flags;
  auto* serve_command = app.add_subcommand("serve", "Run the platform's HTTP server until SIGTERM or Ctrl-C");
  add_common_flags(*serve_command, serve_flags, true);
  auto* demo_command = app.add_subcommand("demo", "Run the platform with demo data in data/demo, printing the URL and demo accounts");
  add_common_flags(*demo_command, demo_flags, true);
  auto* migrate_command = app.add_subcommand("migrate", "Apply the database migrations that are missing, then exit");
  add_common_flags(*migrate_command, migrate_flags, false);
  auto* version_command = app.add_subcommand("version", "Print the version");
  CommonFlags audit_flags;
  auto* audit_command = app.add_subcommand("audit", "Check the transparency log");
  audit_command->require_subcommand(1);
  auto* verify_command = audit_command->add_subcommand(
      "verify", "Recompute the whole log from the stored entries and check every signed tree head; "
                "names the first entry changed, removed or reordered (exit 1)");
  add_common_flags(*verify_command, audit_flags, false);
  auto* settings_command = app.add_subcommand("settings", "List every setting with its environment variable and default");

  CommonFlags generate_flags, import_flags;
  GenerateOptions generate_options;
  auto* generate_command_line = app.add_subcommand(
      "generate", "Write synthetic persons and enterprises of Qingdao as CSV files, the same files for the same seed");
  generate_command_line->add_option("--persons", generate_options.persons, "natural persons to make")->check(CLI::NonNegativeNumber);
  generate_command_line->add_option("--enterprises", generate_options.enterprises, "enterprises to make")
      ->check(CLI::NonNegativeNumber);
  generate_command_line->add_option("--seed", generate_options.seed, "the seed [20261123]");
  generate_command_line->add_option("--output", generate_options.directory, "directory for the files [generated]");
  generate_command_line->add_option("--today", generate_options.today,
                                    "the day the data is made for, YYYY-MM-DD: dates fall before it [2026-01-01]");
  generate_command_line->add_option("--encoding", generate_options.encoding, "utf-8 or gb18030 [utf-8]");
  add_common_flags(*generate_command_line, generate_flags, false);

  ImportOptions import_options;
  auto* import_command_line = app.add_subcommand(
      "import", "Import a CSV file into a registry as one department: valid rows in batches, rejected rows reported "
                "with their line; run again after an interruption to resume");
  import_command_line->add_option("registry", import_options.registry, "person, legal_person, ...")->required();
  import_command_line->add_option("file", import_options.file, "CSV file: a header row of field names, then rows")
      ->required();
  import_command_line->add_option("--department", import_options.department,
                                  "the department writing (the authority of every column but the key)")
      ->required();
  import_command_line->add_option("--reason", import_options.reason, "why, kept with every change [bulk import]");
  import_command_line->add_option("--encoding", import_options.encoding, "utf-8 or gb18030 [utf-8]");
  import_command_line->add_option("--batch-rows", import_options.batch_rows, "rows per transaction [1000]")
      ->check(CLI::Range(1, 100000));
  add_common_flags(*import_command_line, import_flags, false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }

  if (version_command->parsed()) {
    std::cout << "onewindow " << build_info::version << "\n";
    return 0;
  }
  if (settings_command->parsed()) {
    for (const auto& setting : describe_settings()) {
      std::cout << setting.key << " (" << setting.environment_variable << ", default " << setting.default_value
                << "): " << setting.description << "\n";
    }
    return 0;
  }

  CommonFlags& flags = serve_command->parsed()           ? serve_flags
                       : demo_command->parsed()          ? demo_flags
                       : verify_command->parsed()        ? audit_flags
                       : generate_command_line->parsed() ? generate_flags
                       : import_command_line->parsed()   ? import_flags
                                                         : migrate_flags;
  if (demo_command->parsed() && !flags.data_dir && !std::getenv("ONEWINDOW_DATA_DIR")) flags.data_dir = "data/demo";
  auto settings = settings_from(flags);
  if (!settings.ok()) return fail(settings.error());
  Status logging = log::configure(settings->log.level);
  if (!logging.ok()) return fail(logging.error());

  if (migrate_command->parsed()) {
    auto database = open_database(*settings);
    if (!database.ok()) return fail(database.error());
    auto applied = (*database)->applied_migrations();
    if (!applied.ok()) return fail(applied.error());
    std::cout << "database " << store::backend_name((*database)->backend()) << " is up to date: "
              << applied->size() << " migrations applied in all\n";
    (*database)->close();
    return 0;
  }
  if (verify_command->parsed()) return verify_audit_log(*settings);
  if (generate_command_line->parsed()) return generate_command(*settings, generate_options);
  if (import_command_line->parsed()) return import_command(*settings, import_options);
  return serve(*settings, demo_command->parsed());
}

}  // namespace onewindow::cli
