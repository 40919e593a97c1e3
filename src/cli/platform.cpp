// The composition of the platform: every module created from the settings and wired together,
// in the order of the layers. The only place that knows all modules.
#include "cli/cli.h"

#include "services/services.h"

#include "base/build_info.h"
#include "base/config.h"
#include "base/log.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>

namespace onewindow::cli {

namespace {

// The key-encryption key from the settings, or (when none is set) from data_dir, made on first
// use. A key kept beside the data protects nothing against a stolen disk: the log says so.
Result<crypto::Bytes> key_encryption_key(const Settings& settings) {
  if (!settings.security.key_encryption_key.empty()) {
    auto key = crypto::from_hex(settings.security.key_encryption_key);
    if (!key.ok() || key->size() != crypto::sm4_key_size) {
      return Error::invalid("config.bad_value", "security.key_encryption_key",
                            "security.key_encryption_key must be 32 hex characters (16 bytes)");
    }
    return key;
  }
  std::filesystem::path file = std::filesystem::path(settings.data_dir) / "key-encryption-key";
  std::error_code error;
  std::filesystem::create_directories(settings.data_dir, error);
  if (std::filesystem::exists(file)) {
    std::ifstream in(file);
    std::string hex;
    in >> hex;
    auto key = crypto::from_hex(hex);
    if (!key.ok() || key->size() != crypto::sm4_key_size) {
      return Error::invalid("config.bad_value", "security.key_encryption_key",
                            file.string() + " does not hold 32 hex characters");
    }
    return key;
  }
  auto key = crypto::random_bytes(crypto::sm4_key_size);
  if (!key.ok()) return key.take_error();
  {
    std::ofstream out(file);
    out << crypto::to_hex(*key) << "\n";
    if (!out) return Error(ErrorKind::internal, "config.write", "cannot write " + file.string());
  }
  ::chmod(file.c_str(), 0600);
  log::warn("no security.key_encryption_key is set: generated one into " + file.string() +
            "; set ONEWINDOW_SECURITY_KEY_ENCRYPTION_KEY from a secret store in production");
  return key;
}

// Secrets made for relying parties at this start go to a file only its owner can read, never to
// the log: the operator hands them to the sites and deletes the file.
Status hand_over_client_secrets(const Settings& settings,
                                const std::vector<std::pair<std::string, std::string>>& secrets) {
  if (secrets.empty()) return ok_status();
  std::filesystem::path file = std::filesystem::path(settings.data_dir) / "oidc-client-secrets.txt";
  {
    std::ofstream out(file, std::ios::app);
    for (const auto& [client, secret] : secrets) out << client << " " << secret << "\n";
    if (!out) return Error(ErrorKind::internal, "config.write", "cannot write " + file.string());
  }
  ::chmod(file.c_str(), 0600);
  for (const auto& [client, secret] : secrets) {
    log::warn("a new secret for OpenID Connect client " + client + " is in " + file.string() +
              ": give it to the relying party, then delete the file");
  }
  return ok_status();
}

// Every config/processes/NAME.bpmn as the deployment NAME: a new version when its text changed,
// nothing when it did not. A missing directory holds no processes.
Status deploy_processes(workflow::Engine& engine, const std::filesystem::path& directory) {
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) return ok_status();
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".bpmn") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream input(file, std::ios::binary);
    std::ostringstream text;
    text << input.rdbuf();
    auto deployed = engine.deploy(file.stem().string(), text.str(), {"system", "", {}});
    if (!deployed.ok()) {
      Error failed = deployed.take_error();
      failed.message = file.string() + ": " + failed.message;
      failed.details["file"] = file.string();
      return failed;
    }
  }
  return ok_status();
}

}  // namespace

Platform::~Platform() {
  if (supervision) supervision->stop();
  if (workflow) workflow->stop_timers();
  if (subscriptions) subscriptions->stop_delivery();
  if (exchange) exchange->stop_indexing();
  if (transparency_log) transparency_log->stop_signing();
}

std::vector<store::Migration> all_migrations() {
  std::vector<store::Migration> migrations;
  for (auto&& module : {audit::TransparencyLog::migrations(), pki::CertificateAuthority::migrations(),
                        identity::Directory::migrations(), oidc::Provider::migrations(),
                        registry::Registries::migrations(), catalog::Catalog::migrations(), catalog::Exchange::migrations(),
                        catalog::Subscriptions::migrations(), notification::Inbox::migrations(),
                        services::Applications::migrations(), workflow::Engine::migrations(),
                        license::Licenses::migrations(), supervision::Supervision::migrations()}) {
    migrations.insert(migrations.end(), module.begin(), module.end());
  }
  return migrations;
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

Result<std::unique_ptr<Platform>> build_platform(Settings settings, bool background_work) {
  auto platform = std::make_unique<Platform>();
  platform->settings = std::move(settings);
  const Settings& configured = platform->settings;
  const std::filesystem::path config_dir = configured.config_dir;

  // Configuration data first: a mistake in it stops the start before anything is touched.
  auto calendar = WorkingDayCalendar::load(config_dir / "calendar");
  if (!calendar.ok()) return calendar.take_error();
  platform->calendar.emplace(std::move(calendar).value());
  auto divisions = DivisionCodes::load(config_dir / "divisions.yaml");
  if (!divisions.ok()) return divisions.take_error();
  platform->divisions.emplace(std::move(divisions).value());
  auto policy = identity::AccessPolicy::load(config_dir / "roles.yaml");
  if (!policy.ok()) return policy.take_error();
  auto departments = identity::DirectoryConfiguration::load(config_dir / "departments.yaml");
  if (!departments.ok()) return departments.take_error();
  platform->directory_configuration.emplace(std::move(departments).value());
  const identity::Node* node = nullptr;
  for (const auto& candidate : platform->directory_configuration->nodes) {
    if (candidate.division == configured.node.division) node = &candidate;
  }
  if (node == nullptr) {
    return Error::invalid("config.bad_value", "node.division",
                          "node.division " + configured.node.division + " is not one of the nodes in departments.yaml");
  }

  std::set<std::string> department_keys;
  for (const auto& department : platform->directory_configuration->departments) department_keys.insert(department.key);
  auto catalog = registry::RegistryCatalog::load(config_dir / "registries", department_keys);
  if (!catalog.ok()) return catalog.take_error();
  platform->registry_catalog.emplace(std::move(catalog).value());
  std::vector<license::Department> issuers;
  for (const auto& department : platform->directory_configuration->departments) {
    issuers.push_back({department.key, department.name, department.english_name, department.unified_social_credit_code,
                       department.division});
  }
  auto license_types = license::LicenseConfiguration::load(config_dir / "licenses" / "types.yaml", std::move(issuers));
  if (!license_types.ok()) return license_types.take_error();
  platform->license_configuration.emplace(std::move(license_types).value());

  auto key = key_encryption_key(configured);
  if (!key.ok()) return key.take_error();
  auto envelope = crypto::Sm4Envelope::create(*key);
  if (!envelope.ok()) return envelope.take_error();
  platform->key_encryption.emplace(std::move(envelope).value());

  auto database = open_database(configured);
  if (!database.ok()) return database.take_error();
  platform->database = std::move(database).value();

  // Trust: the node's certificate and key, the transparency log signed with it, the directory.
  auto authority = pki::CertificateAuthority::open(*platform->database, *key, platform->clock,
                                                   {node->division, node->name});
  if (!authority.ok()) return authority.take_error();
  platform->certificate_authority = std::make_unique<pki::CertificateAuthority>(std::move(authority).value());
  auto node_key = platform->certificate_authority->node_key();
  if (!node_key.ok()) return node_key.take_error();
  platform->transparency_log =
      std::make_unique<audit::TransparencyLog>(*platform->database, std::move(node_key).value(), platform->clock);
  ONEWINDOW_TRY(platform->transparency_log->start_signing());
  platform->certificate_authority->record_acts_in(*platform->transparency_log);
  identity::Options identity_options;
  identity_options.recent_lookup_lifetime = std::chrono::milliseconds(configured.security.session_lookup_milliseconds);
  platform->directory = std::make_unique<identity::Directory>(*platform->database, *platform->transparency_log,
                                                              *platform->key_encryption, std::move(policy).value(),
                                                              platform->clock, identity_options);
  ONEWINDOW_TRY(platform->directory->synchronise_departments(*platform->directory_configuration));

  // Where people reach this server: the OpenID Connect issuer, and the verify URL of licenses.
  std::string public_url = configured.public_url.empty() ? "http://" + configured.listen : configured.public_url;
  while (public_url.ends_with('/')) public_url.pop_back();
  oidc::Options single_sign_on;
  single_sign_on.issuer = public_url;
  if (Status valid = oidc::validate_options(single_sign_on); !valid.ok()) {
    Error error = valid.take_error();
    error.message = "public_url: " + error.message;
    error.details["field"] = "public_url";
    return error;
  }
  platform->single_sign_on = std::make_unique<oidc::Provider>(*platform->database, *platform->transparency_log,
                                                              *platform->directory, *platform->key_encryption,
                                                              platform->clock, single_sign_on);
  auto clients = oidc::ClientConfiguration::load(config_dir / "oidc_clients.yaml");
  if (!clients.ok()) return clients.take_error();
  auto registered = platform->single_sign_on->register_configured_clients(
      *clients, [](const char* name) { return std::getenv(name); });
  if (!registered.ok()) return registered.take_error();
  for (const auto& client : *registered) {
    if (!client.secret.empty()) platform->new_client_secrets.emplace_back(client.client.client_id, client.secret);
  }
  ONEWINDOW_TRY(hand_over_client_secrets(configured, platform->new_client_secrets));

  platform->registries = std::make_unique<registry::Registries>(*platform->database, *platform->transparency_log,
                                                                *platform->registry_catalog, *platform->divisions,
                                                                platform->clock);
  ONEWINDOW_TRY(platform->registries->prepare());
  platform->imports = std::make_unique<registry::Imports>(*platform->database, *platform->registries, platform->clock);

  // The catalog publishes every base registry, kept up to date with its definition.
  auto catalog_configuration = catalog::CatalogConfiguration::load(config_dir / "catalog", *platform->registry_catalog);
  if (!catalog_configuration.ok()) return catalog_configuration.take_error();
  platform->catalog_configuration.emplace(std::move(catalog_configuration).value());
  std::map<std::string, std::string> department_codes;
  for (const auto& department : platform->directory_configuration->departments) {
    department_codes[department.key] = department.unified_social_credit_code;
  }
  platform->catalog = std::make_unique<catalog::Catalog>(*platform->database, *platform->transparency_log,
                                                        *platform->catalog_configuration, department_codes,
                                                        platform->clock);
  ONEWINDOW_TRY(platform->catalog->publish_registries(*platform->registry_catalog));
  platform->exchange = std::make_unique<catalog::Exchange>(*platform->database, *platform->transparency_log,
                                                          *platform->catalog, *platform->registries, platform->clock);
  platform->subscriptions = std::make_unique<catalog::Subscriptions>(*platform->database, *platform->transparency_log,
                                                                    *platform->catalog, platform->clock);
  // Before any write: every change of a subscribed registry goes into the outbox with it.
  platform->registries->add_change_listener(platform->subscriptions->change_listener());
  if (background_work) {
    platform->subscriptions->start_delivery();
    platform->exchange->start_indexing();
    platform->import_queue = std::make_unique<registry::ImportQueue>(*platform->imports);
    // Uploads interrupted by the last stop go on where their last batch ended.
    auto interrupted = platform->imports->unfinished("upload");
    if (!interrupted.ok()) return interrupted.take_error();
    for (const auto& import : *interrupted) platform->import_queue->submit(import.id);
  }

  platform->workflow = std::make_unique<workflow::Engine>(*platform->database, *platform->transparency_log,
                                                         *platform->calendar, platform->clock);
  ONEWINDOW_TRY(deploy_processes(*platform->workflow, config_dir / "processes"));
  // Timers that fell due while the server was down fire at once.
  if (background_work) platform->workflow->start_timers();

  // Electronic licenses, signed by the issuing departments: each gets a certificate when it has none.
  platform->licenses = std::make_unique<license::Licenses>(*platform->database, *platform->transparency_log,
                                                          *platform->certificate_authority,
                                                          *platform->license_configuration, platform->clock);
  ONEWINDOW_TRY(platform->licenses->ensure_certificates());

  auto service_catalog = services::ServiceCatalog::load(config_dir / "services", department_keys, *platform->registry_catalog,
                                                       &*platform->license_configuration);
  if (!service_catalog.ok()) return service_catalog.take_error();
  platform->service_catalog.emplace(std::move(service_catalog).value());
  auto deployed = platform->workflow->deployments();
  if (!deployed.ok()) return deployed.take_error();
  for (const auto& service : platform->service_catalog->all()) {
    if (std::none_of(deployed->begin(), deployed->end(), [&](const workflow::Deployment& deployment) {
          return std::find(deployment.processes.begin(), deployment.processes.end(), service.process) !=
                 deployment.processes.end();
        })) {
      return config_error("services.unknown_process", service.file, 0, "process",
                          "no process " + service.process + " is deployed from config/processes");
    }
  }
  platform->applications = std::make_unique<services::Applications>(
      *platform->database, *platform->transparency_log, *platform->service_catalog, *platform->exchange,
      *platform->workflow, platform->clock,
      services::ApplicationOptions{std::filesystem::path(configured.data_dir) / "materials", platform->licenses.get(),
                                   platform->registries.get()});
  platform->inbox = std::make_unique<notification::Inbox>(*platform->database, platform->clock);
  platform->applications->add_channel(*platform->inbox);

  // Electronic supervision: the clock worker and the anomaly rules, told through the inbox.
  supervision::Configuration supervision_configuration;
  if (std::filesystem::exists(config_dir / "supervision" / "supervision.yaml")) {
    auto loaded = supervision::Configuration::load(config_dir / "supervision" / "supervision.yaml");
    if (!loaded.ok()) return loaded.take_error();
    supervision_configuration = std::move(loaded).value();
  }
  std::map<std::string, supervision::ProcessOwner> owners;
  for (const auto& service : platform->service_catalog->all()) {
    owners[service.process] = {service.code, service.competent_department, service.implementing_departments};
  }
  identity::Directory& directory = *platform->directory;
  supervision::Recipients recipients;
  // The accounts still able to read their inbox.
  auto enabled_ids = [](Result<std::vector<identity::Account>> accounts) -> Result<std::vector<std::string>> {
    if (!accounts.ok()) return accounts.take_error();
    std::vector<std::string> ids;
    for (const auto& account : *accounts) {
      if (!account.disabled) ids.push_back(account.id);
    }
    return ids;
  };
  recipients.of_department = [&directory, enabled_ids](const std::string& key) -> Result<std::vector<std::string>> {
    auto department = directory.department_by_key(key);
    if (!department.ok()) return std::vector<std::string>{};
    return enabled_ids(directory.accounts_of_department(department->id));
  };
  recipients.supervisors = [&directory, enabled_ids]() -> Result<std::vector<std::string>> {
    return enabled_ids(directory.accounts_of_kind(identity::AccountKind::supervisor));
  };
  platform->supervision = std::make_unique<supervision::Supervision>(
      *platform->database, *platform->transparency_log, *platform->workflow, *platform->calendar, platform->clock,
      supervision_configuration, std::move(owners), std::move(recipients), platform->applications.get());
  platform->supervision->add_channel(*platform->inbox);
  std::map<std::string, std::string> department_names;
  for (const auto& department : platform->directory_configuration->departments) {
    department_names[department.key] = department.name;
  }
  platform->reports = std::make_unique<supervision::Reports>(*platform->applications, *platform->workflow,
                                                             *platform->transparency_log, *platform->calendar,
                                                             platform->clock, std::move(department_names));
  if (background_work) platform->supervision->start();

  platform->system.database = platform->database.get();
  platform->system.metrics = &platform->metrics;
  platform->system.version = build_info::version;
  api::Router& router = platform->router;
  api::add_system_routes(router, platform->system);
  api::add_calendar_routes(router, *platform->calendar, platform->clock);
  api::add_identifier_routes(router, *platform->divisions, platform->clock);
  api::add_identity_routes(router, *platform->directory, configured.security.secure_cookies);
  api::add_audit_routes(router, *platform->transparency_log);
  api::add_pki_routes(router, *platform->certificate_authority);
  api::add_oidc_routes(router, *platform->single_sign_on, *platform->directory);
  api::add_registry_routes(router, *platform->registries, *platform->directory,
                           {background_work ? platform->imports.get() : nullptr, platform->import_queue.get(),
                            std::filesystem::path(configured.data_dir) / "imports"});
  api::add_catalog_routes(router, *platform->catalog, *platform->catalog_configuration, *platform->directory);
  api::add_exchange_routes(router, *platform->exchange, *platform->subscriptions, *platform->directory,
                           platform->metrics);
  api::add_workflow_routes(router, *platform->workflow, *platform->directory);
  api::add_services_routes(router, *platform->applications, *platform->directory, public_url);
  api::add_notification_routes(router, *platform->inbox);
  api::add_supervision_routes(router, *platform->supervision, *platform->reports, platform->metrics);
  api::add_license_routes(router, *platform->licenses, *platform->directory, public_url);
  api::add_web_routes(router, configured.web_dir);
  router.set_authenticator(api::make_authenticator(*platform->directory, platform->single_sign_on.get()));
  router.set_policy(&platform->directory->policy());
  // Every route must name a permission that exists: a typo would otherwise lock everyone out,
  // or worse, be read as something else.
  ONEWINDOW_TRY(router.check_permissions(platform->directory->policy()));
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

}  // namespace onewindow::cli
