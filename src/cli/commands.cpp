// The onewindow command line: serve, demo, migrate, version. Composes the modules into one
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

namespace onewindow::cli {

namespace {

struct CommonFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<std::string> config_dir;
  std::optional<std::string> database_url;
};

void add_common_flags(CLI::App& command, CommonFlags& flags, bool with_listen) {
  command.add_option("--config", flags.config_file, "YAML settings file (also ONEWINDOW_CONFIG)");
  if (with_listen) {
    command.add_option("--listen", flags.listen, "address and port to listen on [127.0.0.1:8080]");
  }
  command.add_option("--data-dir", flags.data_dir, "directory for the SQLite database and stored files [data]");
  command.add_option("--config-dir", flags.config_dir, "directory of calendars, divisions and other configuration data");
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
  if (flags.database_url) overrides["database.url"] = *flags.database_url;
  return load_settings(file, [](const char* name) { return std::getenv(name); }, overrides);
}

int fail(const Error& error) {
  std::cerr << "onewindow: " << error.message << " [" << error.code << "]\n";
  return error.kind == ErrorKind::invalid_argument ? 2 : 1;
}

Result<std::unique_ptr<store::Database>> open_database(const Settings& settings) {
  store::Options options;
  options.url = settings.database.url;
  options.data_directory = settings.data_dir;
  options.pool_size = settings.database.pool_size;
  options.busy_timeout_milliseconds = settings.database.busy_timeout_milliseconds;
  options.sqlite_synchronous = settings.database.sqlite_synchronous;
  auto database = store::Database::open(options);
  if (!database.ok()) return database;
  auto applied = (*database)->migrate(all_migrations());
  if (!applied.ok()) return applied.take_error();
  for (const auto& migration : *applied) {
    log::info("migration applied: " + migration.module + " " + std::to_string(migration.version) + " " + migration.name);
  }
  return database;
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
              << "Demo accounts: none yet; people, departments and logins arrive with identity/.\n"
              << "Stop with Ctrl-C.\n"
              << std::flush;
  }

  int received = 0;
  sigwait(&stop_signals, &received);
  log::info(std::string("received ") + (received == SIGTERM ? "SIGTERM" : "SIGINT") +
            ": finishing requests in flight, then stopping");
  server.drain_and_stop();
  running.database->close();
  log::info("stopped cleanly");
  return 0;
}

}  // namespace

Result<std::unique_ptr<Platform>> build_platform(Settings settings) {
  auto platform = std::make_unique<Platform>();
  platform->settings = std::move(settings);
  const std::filesystem::path config_dir = platform->settings.config_dir;
  auto calendar = WorkingDayCalendar::load(config_dir / "calendar");
  if (!calendar.ok()) return calendar.take_error();
  platform->calendar.emplace(std::move(calendar).value());
  auto divisions = DivisionCodes::load(config_dir / "divisions.yaml");
  if (!divisions.ok()) return divisions.take_error();
  platform->divisions.emplace(std::move(divisions).value());

  auto database = open_database(platform->settings);
  if (!database.ok()) return database.take_error();
  platform->database = std::move(database).value();

  platform->system.database = platform->database.get();
  platform->system.metrics = &platform->metrics;
  platform->system.version = build_info::version;
  api::add_system_routes(platform->router, platform->system);
  api::add_calendar_routes(platform->router, *platform->calendar, platform->clock);
  api::add_identifier_routes(platform->router, *platform->divisions, platform->clock);
  return platform;
}

Result<api::ServerOptions> server_options(const Settings& settings) {
  auto listen = api::parse_listen_address(settings.listen);
  if (!listen.ok()) return listen.take_error();
  api::ServerOptions options;
  options.address = listen->first;
  options.port = listen->second;
  options.threads = settings.http.threads;
  options.max_body_bytes = static_cast<std::size_t>(settings.http.max_body_bytes);
  options.max_header_bytes = static_cast<std::size_t>(settings.http.max_header_bytes);
  options.request_timeout = std::chrono::seconds(settings.http.request_timeout_seconds);
  options.shutdown_grace = std::chrono::seconds(settings.http.shutdown_grace_seconds);
  options.access_log = settings.http.access_log;
  return options;
}

// Lower layers first, so that foreign keys always point at tables that exist.
std::vector<store::Migration> all_migrations() { return {}; }

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
  auto* settings_command = app.add_subcommand("settings", "List every setting with its environment variable and default");

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

  CommonFlags& flags = serve_command->parsed() ? serve_flags : demo_command->parsed() ? demo_flags : migrate_flags;
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
  return serve(*settings, demo_command->parsed());
}

}  // namespace onewindow::cli
