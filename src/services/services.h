// services: one-stop services (一窗受理、信息共享、并联审批、限时办结). Service items as data, and
// applications from the one form to intake, parallel approval and completion (issue 7).
//
// Contract:
// - A ServiceItem (政务服务事项) is read from config/services/<file>.yaml: code, name, type, the
//   competent and implementing departments, the window that takes applications (intake
//   department), legal basis, conditions, required materials, statutory and promised limits in
//   working days (a promised limit above the statutory one is a load error), fees, the BPMN
//   process that runs the approvals, and the form: a JSON Schema file beside it, and for each of
//   its properties where the value comes from (the applicant, or a registry item read through the
//   exchange as one implementing department) and which departments see it. Every mistake is a
//   load error naming file, line and field; nothing is half-loaded.
// - Prefill never reads around the exchange: a registry item is read with Exchange::read as the
//   department named, through a grant it holds, so the read is recorded and the person sees it
//   under who read my data. No grant, no prefill: the field is asked instead, and its source says
//   why.
// - An application (办件) is a draft until submitted. Submitting checks the form against its
//   schema (errors name the property), the identifiers the form declares (citizen IDs, USCCs),
//   that every key material is there, and then every intake check registered (add_intake_check:
//   credit and later modules add theirs). A submit given an Idempotency-Key returns the
//   application that key made, however often it is retried.
// - Intake by an official of the intake department: accept, reject with a reason, or accept with
//   missing non-key materials named (容缺受理). Acceptance starts the process's instance in the
//   same transaction, with the promised limit as its deadline: the clock starts there.
// - Each implementing department decides its own task: approve; refuse, with reasons and the
//   legal basis; or ask for correction (补正), naming what is missing, which suspends the instance
//   (its clock stops) until the applicant supplies it. When the instance completes the
//   application is approved; a refusal ends it (the process's terminate end).
// - When the last department approves, each license of the service (licenses in its file) is
//   issued by its department in the same transaction (license::Licenses::issue), signed with that
//   department's key, and the applicant is told.
// - Every change of an application is one transaction with its transparency-log entry
//   (services.*) and, where the workflow moves, the workflow's step.
// - Who sees what: the applicant sees the whole application and its progress (which department
//   holds it, what it is doing, the expected completion date); an official of a department that
//   implements the service, or of the intake department, sees the form fields and materials
//   meant for that department only; anyone else gets services.application_not_found.
//
// Errors: config.* and services.* for configuration (services.promised_over_statutory,
// services.unknown_department, services.unknown_process_field, services.bad_schema, ...);
// services.unknown_service, services.application_not_found (not_found); services.form_invalid,
// services.bad_field, services.material_missing, services.unknown_material (invalid_argument);
// services.file_too_large (too_large); services.bad_file_type (unsupported);
// services.wrong_state, services.already_rated (conflict); services.not_your_task,
// services.not_intake (permission_denied); and those of the exchange and the workflow.
//
// Thread safety: ServiceCatalog is immutable once loaded; Applications may be used from many
// threads at once (add_intake_check before that).
#pragma once

#include "audit/audit.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "base/result.h"
#include "catalog/catalog.h"
#include "license/license.h"
#include "notification/notification.h"
#include "registry/registry.h"
#include "store/store.h"
#include "workflow/workflow.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace onewindow::services {

// ---- Service items -----------------------------------------------------------------------------

enum class MaterialForm { original, copy, electronic };
std::string_view material_form_name(MaterialForm form);  // "original", "copy", "electronic"

struct MaterialDefinition {
  std::string code;  // a-z, 0-9 and _
  std::string name;  // Chinese
  std::string english_name;
  MaterialForm form = MaterialForm::original;
  bool key = true;  // a key material cannot be missing at acceptance (容缺 only for the others)
  std::vector<std::string> departments;    // who needs it; all implementing departments when empty
  std::vector<std::string> content_types;  // accepted uploads: application/pdf, image/jpeg, image/png
  std::int64_t max_bytes = 10 * 1024 * 1024;
  std::string replaced_by;  // what the government holds that can stand in for it, in words
};

// Where a form field's value comes from.
struct FieldSource {
  std::string name;           // the schema property
  std::string registry;       // empty: asked from the applicant
  std::string item;           // the registry's data item
  std::string through;        // the implementing department whose grant reads it
  std::string check;          // "", "citizen_id" or "uscc": checked at submit
  std::vector<std::string> departments;  // who sees it; all implementing departments when empty
};

struct Fee {
  std::string name;
  std::string amount;  // yuan, as written ("0", "50.00")
};

// A license an implementing department issues when the application is approved.
struct LicenseIssue {
  std::string type;  // the license type's key (config/licenses/types.yaml)
  // Who holds it: "applicant" (the applicant, themselves or their enterprise), "new_enterprise"
  // (the enterprise the application establishes: a unified social credit code is made for it at
  // approval, the same for every license of the application), "new_person" (the person the
  // application registers, a newborn: a citizen ID number is made from the birth date and sex).
  std::string holder = "applicant";
  std::string holder_name;  // the form field naming the holder (new_enterprise, new_person)
  std::string birth_date;   // new_person: the form fields of the birth date and the sex (1, 2)
  std::string sex;
  std::string division;     // the form field of the GB/T 2260 division; the issuer's when empty
  std::map<std::string, std::string> data;  // license item -> form field
};

// A record the completed application writes into a base registry, as its authority's act: the
// newborn in the person registry, the new enterprise in the legal-person registry. Its key is
// the identifier made for the new holder (the same as on its licenses), and it is written in the
// transaction of the approval that completes the application, so that the next service prefills
// from it. Checked at load: the registry and its fields exist, `department` is the authority of
// every field written, and every required field is given.
struct RecordWrite {
  std::string registry;    // "person"
  std::string holder;      // new_person or new_enterprise: whose identifier is the key
  std::string department;  // the authority writing it ("police")
  std::map<std::string, std::string> fields;  // registry field -> form field
  std::map<std::string, std::string> values;  // registry field -> a value as written ("active")
  std::vector<std::string> completed_on;      // registry fields given the day it completes
};

struct FormSchema;  // the compiled JSON Schema (valijson), internal

struct ServiceItem {
  std::string code;  // "QD-QYKB-001"
  std::string name;
  std::string english_name;
  std::string type;  // administrative_licensing, administrative_confirmation, public_service, other
  std::string competent_department;
  std::vector<std::string> implementing_departments;
  std::string intake_department = "approval";
  std::vector<std::string> applicant_kinds;  // "citizen", "enterprise_user"
  std::string legal_basis;
  std::vector<std::string> conditions;
  std::vector<MaterialDefinition> materials;
  int statutory_limit = 0;  // working days
  int promised_limit = 0;   // working days, at most the statutory limit
  std::vector<Fee> fees;
  std::string process;  // the BPMN process id (config/processes)
  nlohmann::json form_schema;
  std::vector<FieldSource> fields;  // in the schema's property order
  std::vector<LicenseIssue> licenses;
  std::vector<RecordWrite> records;
  std::string file;
  std::shared_ptr<const FormSchema> compiled_schema;

  const MaterialDefinition* material(std::string_view code) const;
  const FieldSource* field(std::string_view name) const;
  bool implemented_by(std::string_view department) const;
  // The guide a citizen reads: everything but the file and the compiled schema.
  nlohmann::json guide() const;
  // Checks form values against the schema: services.form_invalid naming the property.
  Status validate_form(const nlohmann::json& values) const;
};

class ServiceCatalog {
 public:
  // Every *.yaml of `directory` (the schema files beside them), checked against the node's
  // departments and the registries' items.
  // `licenses`, when given, checks each license a service issues: its type exists, its issuer
  // implements the service, its items are the type's.
  static Result<ServiceCatalog> load(const std::filesystem::path& directory, const std::set<std::string>& department_keys,
                                     const registry::RegistryCatalog& registries,
                                     const license::LicenseConfiguration* licenses = nullptr);

  const ServiceItem* find(std::string_view code) const;
  const std::vector<ServiceItem>& all() const { return services_; }

 private:
  std::vector<ServiceItem> services_;
};

// ---- Applications ------------------------------------------------------------------------------

// Who applies: a citizen or an enterprise user, for themselves (their citizen ID) or their
// enterprise (its USCC).
struct Applicant {
  std::string account_id;
  std::string kind;       // "citizen", "enterprise_user"
  std::string holder_id;  // the citizen ID or USCC the application is for
  std::string name;
};

// An official acting on applications.
struct Official {
  std::string account_id;
  std::string department_key;
  std::vector<std::string> roles;
};

struct Material {
  std::string code;
  std::string file_name;
  std::string content_type;
  std::int64_t size = 0;
  std::string digest;  // SM3, hex (of the license's signed document, for a license)
  std::string uploaded_at;
  std::string license;  // the identifier of the electronic license presented instead of a file
  nlohmann::json to_json() const;
};

// An uploaded material's bytes, with the type it was accepted as.
struct MaterialFile {
  std::string content_type;
  std::string content;
};

struct Application {
  std::string id;  // "app_..."
  std::string service;  // the service item's code
  std::string applicant;
  std::string holder_id;
  // draft, submitted, accepted, correction, rejected, refused, approved
  std::string state;
  nlohmann::json form = nlohmann::json::object();
  // property -> {"source": "applicant" | "registry" | "none", "registry", "item", "through",
  // "log_index", "why"}
  nlohmann::json sources = nlohmann::json::object();
  std::vector<Material> materials;
  std::vector<std::string> missing;  // materials accepted missing (容缺) or asked for in a correction
  std::string instance_id;
  std::string reason;  // of a rejection, refusal or correction
  std::string legal_basis;  // of a refusal
  std::string submitted_at;
  std::string accepted_at;
  std::string due_on;  // YYYY-MM-DD: the expected completion date, moved by corrections
  std::string finished_at;
  std::string created_at;
  std::string updated_at;
  // The applicant's rating once it is finished (好差评): 1 to 5, 0 while unrated.
  int rating = 0;
  std::string rating_comment;
  std::string rated_at;
  std::string follow_up_instance;  // the rating_follow_up instance a bad rating started
  // The licenses issued at approval: {"type", "identifier", "department"}.
  nlohmann::json licenses = nlohmann::json::array();
  // The records written into base registries at approval: {"registry", "key", "department", "log_index"}.
  nlohmann::json records = nlohmann::json::array();
  nlohmann::json to_json() const;

  // The material given for `code`, or nullptr.
  const Material* material(std::string_view code) const;
  // Keeps `given` as the material of its code, in place of an earlier one.
  void replace_material(Material given);
};

// One act on an application as the services keep it: draft, attach, submit, intake, decide,
// correction_supplied, rate.
struct ApplicationEvent {
  std::int64_t sequence = 0;
  std::string at;
  std::string actor;       // the account
  std::string department;  // the official's department; empty for the applicant's acts
  std::string action;
  nlohmann::json details;  // intake: decision, missing; decide: outcome, task, step
  std::int64_t log_index = 0;
  nlohmann::json to_json() const;
};

// A department's decision on its task.
struct Decision {
  std::string task_id;
  std::string outcome;  // "approve", "refuse", "correction"
  std::string reason;
  std::string legal_basis;           // required to refuse
  std::vector<std::string> missing;  // required for a correction: material codes or form fields
};

// A check run at submit, after the platform's own: ok, or an Error naming what is wrong.
using IntakeCheck = std::function<Status(const ServiceItem& service, const Application& application)>;

struct ApplicationOptions {
  std::filesystem::path material_directory;  // where uploaded files are kept (made if missing)
  license::Licenses* licenses = nullptr;      // issues the services' licenses at approval; none: no licenses
  registry::Registries* registries = nullptr;  // takes the services' records at approval; none: no records
};

class Applications {
 public:
  Applications(store::Database& database, audit::TransparencyLog& log, const ServiceCatalog& services,
               catalog::Exchange& exchange, workflow::Engine& engine, const Clock& clock, ApplicationOptions options);

  static std::vector<store::Migration> migrations();

  void add_intake_check(std::string name, IntakeCheck check);
  // A channel the applicant is told through (accepted, rejected, correction needed, approved,
  // refused), in the transaction of the change. Before other calls.
  void add_channel(notification::Channel& channel) { channels_.push_back(&channel); }

  // A new draft for the applicant: every registry field read through the exchange (recorded),
  // the values given laid over it. With an idempotency key the same key gives the same
  // application back, and `submit` submits it at once (submit()'s checks).
  // `replayed`, when given, is set to whether the key had made the application before.
  Result<Application> create(std::string_view service_code, const Applicant& applicant, const nlohmann::json& values,
                             const std::string& idempotency_key, bool submit, bool* replayed = nullptr);
  // Sets form values of a draft (or one in correction); a field from a registry keeps its source
  // unless the applicant changes its value, which makes it the applicant's.
  Result<Application> update_form(std::string_view id, const Applicant& applicant, const nlohmann::json& values);
  // Keeps an uploaded file for a material, checked against its size and type limits (the type
  // by the file's first bytes too, not only as declared); replaces an earlier upload.
  Result<Application> attach(std::string_view id, const Applicant& applicant, std::string_view material,
                             std::string_view file_name, std::string_view content_type, std::string_view content);
  // Presents one of the applicant's own electronic licenses instead of a material's paper (or
  // file): the license must be the applicant's (a citizen's, or their enterprise's) and valid
  // now, its signature checked; the material then names it, and every department that needs the
  // material verifies it as anyone can. services.no_licenses when the platform issues none.
  Result<Application> attach_license(std::string_view id, const Applicant& applicant, std::string_view material,
                                     std::string_view identifier);
  Result<Application> submit(std::string_view id, const Applicant& applicant);

  Result<Application> of_applicant(std::string_view id, const Applicant& applicant) const;
  Result<std::vector<Application>> applications_of(const Applicant& applicant) const;
  // What the official's department may see of the application: its fields and materials only.
  Result<nlohmann::json> for_official(std::string_view id, const Official& official) const;
  // Submitted applications waiting at the official's window, oldest first.
  Result<std::vector<Application>> awaiting_intake(const Official& official) const;
  // The applicant's view of progress: the open tasks (department, step, since, due), the
  // expected completion date and the history of the application.
  Result<nlohmann::json> progress(std::string_view id, const Applicant& applicant) const;
  // The printable (PDF) of a license the application issued, for its applicant: the parent who
  // applied keeps the newborn's papers, the founder the new enterprise's, though neither is the
  // license's holder. services.license_not_issued when the application did not issue it.
  Result<std::string> license_pdf(std::string_view id, const Applicant& applicant, std::string_view identifier,
                                  std::string_view public_url) const;

  // decision: "accept", "reject" (reason required) or "accept_with_missing" (missing names
  // non-key materials not yet given).
  Result<Application> intake(std::string_view id, std::string_view decision, std::string_view reason,
                             const std::vector<std::string>& missing, const Official& official);
  Result<Application> decide(std::string_view id, const Decision& decision, const Official& official);
  // The applicant has supplied what a correction asked for: the instance resumes.
  Result<Application> supply_correction(std::string_view id, const Applicant& applicant);
  // The applicant rates a finished application once (好差评, GB/T 39734): 5 非常满意 to 1 非常不满意,
  // with a comment (required for 1 and 2). A bad rating (1 or 2) starts the process
  // rating_follow_up for the service's competent department: a call back, then the fix.
  Result<Application> rate(std::string_view id, const Applicant& applicant, int level, std::string_view comment);

  // For supervision, which sees every application whole (the caller checks the permission).
  Result<Application> find(std::string_view id) const;
  Result<std::vector<ApplicationEvent>> events(std::string_view id) const;
  // Applications submitted on the local days from..to (both included), drafts not counted,
  // oldest first.
  Result<std::vector<Application>> submitted_between(Date from, Date to) const;

  // The bytes of an uploaded material, for the applicant or an official who may see it.
  Result<MaterialFile> material_content(std::string_view id, std::string_view material, const Applicant* applicant,
                                       const Official* official) const;

  const ServiceCatalog& services() const { return services_; }

 private:
  Result<Application> load(store::Session& session, std::string_view id) const;
  Result<Application> load_of(store::Session& session, std::string_view id, const Applicant& applicant) const;
  Status store(store::Session& session, const Application& application) const;
  Status record_event(store::Session& session, const Application& application, const std::string& actor,
                      const std::string& department, const std::string& action, const nlohmann::json& details,
                      std::int64_t log_index) const;
  Result<std::int64_t> log_act(store::Session& session, const Application& application, const std::string& actor,
                               const std::string& action, const std::string& basis, nlohmann::json details) const;
  Result<const ServiceItem*> service_of(const Application& application) const;
  // Issues every license of the service and writes its records into the registries, in the
  // approval's transaction: what an approved application gives its holders.
  Status issue_on_approval(store::Session& session, const ServiceItem& service, Application& application) const;
  // The first identifier `draw` gives (for attempts 0, 1, ...) that the registries the service
  // writes the holder into do not hold; services.no_free_identifier after `attempts`.
  Result<std::string> unused_identifier(store::Session& session, const ServiceItem& service, std::string_view holder,
                                        int attempts, const std::function<Result<std::string>(int attempt)>& draw) const;
  // The fields of a record the application writes (its key aside).
  nlohmann::json record_fields(const RecordWrite& record, const Application& application) const;
  Status notify(store::Session& session, const Application& application, const std::string& kind,
                const std::string& subject, const std::string& body) const;
  Status check_submission(const ServiceItem& service, const Application& application) const;
  Result<Application> submit_in(store::Session& session, Application application, const Applicant& applicant);
  // Runs `work` in a write transaction, again when the workflow step in it lost a race.
  Result<Application> in_transaction(const std::function<Result<Application>(store::Session&)>& work);

  store::Database& database_;
  audit::TransparencyLog& log_;
  const ServiceCatalog& services_;
  catalog::Exchange& exchange_;
  workflow::Engine& engine_;
  const Clock& clock_;
  ApplicationOptions options_;
  std::vector<std::pair<std::string, IntakeCheck>> intake_checks_;
  std::vector<notification::Channel*> channels_;
};

}  // namespace onewindow::services
