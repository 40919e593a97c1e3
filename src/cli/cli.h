// cli: the `onewindow` command (serve, demo, migrate, version) and the server's settings.
//
// Settings come from, in rising order of precedence: built-in defaults, a YAML file (--config
// FILE or ONEWINDOW_CONFIG), environment variables (ONEWINDOW_<KEY>, e.g. ONEWINDOW_HTTP_THREADS
// for http.threads) and command-line flags. A wrong or unknown key is an error naming the file,
// line and key; a wrong environment variable names the variable. docs/configuration.md lists
// every setting.
#pragma once

#include "api/api.h"
#include "audit/audit.h"
#include "identity/identity.h"
#include "oidc/oidc.h"
#include "pki/pki.h"
#include "catalog/catalog.h"
#include "license/license.h"
#include "registry/registry.h"
#include "services/services.h"
#include "supervision/supervision.h"
#include "workflow/workflow.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "base/result.h"
#include "store/store.h"

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace onewindow::cli {

struct Settings {
  std::string listen = "127.0.0.1:8080";
  // Where people and other systems reach this server (the OpenID Connect issuer and the base of
  // links); empty means http://<listen>.
  std::string public_url;
  std::string data_dir = "data";
  std::string config_dir;  // defaults to the source tree's config/ (build_info)
  // The built web UI (index.html and assets/); defaults to the source tree's web/dist
  // (build_info). Empty: no UI is served, only the API.
  std::string web_dir;
  struct {
    std::string url = "sqlite";
    int pool_size = 4;
    int busy_timeout_milliseconds = 5000;
    std::string sqlite_synchronous = "normal";
  } database;
  struct {
    int threads = 2;
    long long max_body_bytes = 16 * 1024 * 1024;  // materials of applications are uploaded whole
    long long max_header_bytes = 16 * 1024;
    int request_timeout_seconds = 30;
    int shutdown_grace_seconds = 20;
    bool access_log = true;
  } http;
  struct {
    std::string level = "info";
  } log;
  struct {
    // 32 hex characters (16 bytes). Encrypts private keys and TOTP secrets at rest. Empty: a key
    // is generated once into data_dir/key-encryption-key, fine for a demo, not for production.
    std::string key_encryption_key;
    bool secure_cookies = false;  // set behind HTTPS
    // How long a looked-up session is answered from memory (identity/recent_lookups.h): changes
    // made on this node hold at once, another node's within this time. 0: never kept.
    int session_lookup_milliseconds = 1000;
  } security;
  struct {
    std::string division = "370200";  // which node of config/departments.yaml this server is
  } node;
};

// One setting: its key in the YAML file, its environment variable, and what it holds.
struct SettingDescription {
  std::string key;
  std::string environment_variable;
  std::string description;
  std::string default_value;
};
std::vector<SettingDescription> describe_settings();

// Overrides given on the command line, by key ("listen", "data_dir", "database.url").
using FlagOverrides = std::map<std::string, std::string>;

// Builds the settings from defaults, the file (if any), the environment and the flags.
// `environment` is looked up by name (tests pass their own; the program passes getenv).
Result<Settings> load_settings(const std::optional<std::filesystem::path>& file,
                               const std::function<const char*(const char*)>& environment,
                               const FlagOverrides& flags);

// Everything the server holds while it runs, composed from the settings: configuration data
// loaded and checked, the database opened and migrated, every route added. Members are
// destroyed in reverse order, the routes before what they refer to.
struct Platform {
  Settings settings;
  std::unique_ptr<store::Database> database;
  SystemClock clock;
  std::optional<WorkingDayCalendar> calendar;
  std::optional<DivisionCodes> divisions;
  std::optional<identity::DirectoryConfiguration> directory_configuration;
  std::optional<crypto::Sm4Envelope> key_encryption;
  std::unique_ptr<pki::CertificateAuthority> certificate_authority;
  std::unique_ptr<audit::TransparencyLog> transparency_log;
  std::unique_ptr<identity::Directory> directory;
  std::unique_ptr<oidc::Provider> single_sign_on;
  std::optional<registry::RegistryCatalog> registry_catalog;
  std::unique_ptr<registry::Registries> registries;
  std::unique_ptr<registry::Imports> imports;
  std::unique_ptr<registry::ImportQueue> import_queue;  // stopped before what it uses goes
  std::optional<catalog::CatalogConfiguration> catalog_configuration;
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<catalog::Exchange> exchange;
  std::unique_ptr<catalog::Subscriptions> subscriptions;  // its delivery threads stop before what they use goes
  std::unique_ptr<workflow::Engine> workflow;  // its timer thread stops before what it uses goes
  std::optional<license::LicenseConfiguration> license_configuration;
  std::unique_ptr<license::Licenses> licenses;
  std::optional<services::ServiceCatalog> service_catalog;
  std::unique_ptr<notification::Inbox> inbox;
  std::unique_ptr<services::Applications> applications;
  std::unique_ptr<supervision::Supervision> supervision;  // its worker stops before what it uses goes
  std::unique_ptr<supervision::Reports> reports;
  // Secrets of relying parties registered from config/oidc_clients.yaml at this start, shown
  // once (client id, secret).
  std::vector<std::pair<std::string, std::string>> new_client_secrets;
  api::Metrics metrics;
  api::SystemContext system;
  api::Router router;

  ~Platform();  // stops the tree-head signer before the database goes
};
// background_work: run uploaded imports on a thread and resume interrupted ones (the server);
// a one-shot command such as `onewindow import` leaves them to the server.
Result<std::unique_ptr<Platform>> build_platform(Settings settings, bool background_work = true);

// Creates the demo accounts (once) and returns the lines that describe them, secrets included,
// for `onewindow demo` to print. Kept in data_dir/demo-accounts.txt, readable by its owner only.
Result<std::vector<std::string>> seed_demo(Platform& platform);

// The HTTP server's options from the settings (listen address, threads, limits).
Result<api::ServerOptions> server_options(const Settings& settings);

// The schema of every module, in the order of the layers.
std::vector<store::Migration> all_migrations();
// Opens the database the settings name and applies the missing migrations.
Result<std::unique_ptr<store::Database>> open_database(const Settings& settings);

// `onewindow generate`: synthetic persons and enterprises as CSV files (synthetic/).
struct GenerateOptions {
  std::int64_t persons = 0;
  std::int64_t enterprises = 0;
  std::uint64_t seed = 20261123;
  std::string directory = "generated";
  std::string encoding = "utf-8";
  // Fixed rather than the real today, so that a seed makes the same files on any day.
  std::string today = "2026-01-01";
};
int generate_command(const Settings& settings, const GenerateOptions& options);

// `onewindow import`: one CSV file into a registry as one department, with a progress bar on
// standard error; running it again after an interruption resumes the import.
struct ImportOptions {
  std::string registry;
  std::string file;
  std::string department;
  std::string reason = "bulk import";
  std::string encoding = "utf-8";
  int batch_rows = 1000;
};
int import_command(const Settings& settings, const ImportOptions& options);

// Runs the command line; returns the process exit status.
int run(int argc, char** argv);

}  // namespace onewindow::cli
