// Applications: the one form prefilled through the exchange, materials, submit, intake, the
// departments' decisions and corrections; see services.h.
#include "services/services.h"

#include "crypto/crypto.h"

#include <algorithm>
#include <fstream>
#include <map>

namespace onewindow::services {

namespace {

// An application is kept whole as JSON (document), with the columns it is found by beside it.
// service_event is its own history (intake, decisions, corrections), each row naming its
// transparency-log entry. Uploaded files live under the material directory; service_material is
// not a table of its own: materials are part of the document, with their SM3 digests.
constexpr const char* schema_v1 = R"(
    CREATE TABLE service_application (
      id TEXT PRIMARY KEY,
      service TEXT NOT NULL,
      applicant TEXT NOT NULL,
      state TEXT NOT NULL,
      idempotency_key TEXT,
      instance_id TEXT NOT NULL,
      intake_department TEXT NOT NULL,
      submitted_at TEXT NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      document TEXT NOT NULL,
      UNIQUE (applicant, idempotency_key));
    CREATE INDEX service_application_applicant ON service_application (applicant, created_at);
    CREATE INDEX service_application_intake ON service_application (intake_department, state, submitted_at);
    CREATE TABLE service_event (
      application_id TEXT NOT NULL,
      sequence BIGINT NOT NULL,
      at TEXT NOT NULL,
      actor TEXT NOT NULL,
      department TEXT NOT NULL,
      action TEXT NOT NULL,
      details TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      PRIMARY KEY (application_id, sequence));
)";

constexpr const char* application_columns = "SELECT document FROM service_application";
constexpr int most_conflict_retries = 8;

Error not_found(std::string_view id) {
  return Error(ErrorKind::not_found, "services.application_not_found", "no application " + std::string(id), {{"field", "id"}});
}

Error wrong_state(const Application& application, const std::string& wanted) {
  return Error(ErrorKind::conflict, "services.wrong_state",
               "application " + application.id + " is " + application.state + "; this needs it " + wanted,
               {{"field", "state"}, {"state", application.state}});
}

Application application_from(const nlohmann::json& json) {
  Application application;
  application.id = json.at("id");
  application.service = json.at("service");
  application.applicant = json.at("applicant");
  application.holder_id = json.at("holder_id");
  application.state = json.at("state");
  application.form = json.at("form");
  application.sources = json.at("sources");
  for (const auto& material : json.at("materials")) {
    application.materials.push_back({material.at("code"), material.at("file_name"), material.at("content_type"),
                                     material.at("size"), material.at("digest"), material.at("uploaded_at"),
                                     material.value("license", "")});
  }
  application.missing = json.at("missing").get<std::vector<std::string>>();
  application.instance_id = json.at("instance_id");
  application.reason = json.at("reason");
  application.legal_basis = json.at("legal_basis");
  application.submitted_at = json.at("submitted_at");
  application.accepted_at = json.at("accepted_at");
  application.due_on = json.at("due_on");
  application.finished_at = json.at("finished_at");
  application.created_at = json.at("created_at");
  application.updated_at = json.at("updated_at");
  application.rating = json.value("rating", 0);
  application.rating_comment = json.value("rating_comment", "");
  application.rated_at = json.value("rated_at", "");
  application.follow_up_instance = json.value("follow_up_instance", "");
  application.licenses = json.value("licenses", nlohmann::json::array());
  application.records = json.value("records", nlohmann::json::array());
  return application;
}

// What a file's first bytes say it is; "" when none of the accepted types.
std::string sniffed_type(std::string_view content) {
  if (content.starts_with("%PDF-")) return "application/pdf";
  if (content.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
  if (content.starts_with("\xFF\xD8\xFF")) return "image/jpeg";
  return "";
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Whether an official of `department`, which takes or implements the service, sees a field or
// material meant for `meant_for` (every implementing department when empty): the window sees all.
bool department_sees(const ServiceItem& service, const std::string& department, const std::vector<std::string>& meant_for) {
  return department == service.intake_department || meant_for.empty() || contains(meant_for, department);
}

// The last day before a deadline, in China Standard Time: a deadline is the moment its last
// working day ends (midnight after it), and that day is the one to show, "2026-12-04".
std::string last_day_before(const std::string& deadline) {
  auto time = parse_timestamp(deadline);
  if (!time.ok()) return "";
  return local_date(*time - std::chrono::milliseconds(1)).to_string();
}

}  // namespace

nlohmann::json Material::to_json() const {
  return {{"code", code},       {"file_name", file_name},     {"content_type", content_type}, {"size", size},
          {"digest", digest},   {"uploaded_at", uploaded_at}, {"license", license}};
}

const Material* Application::material(std::string_view code) const {
  for (const Material& given : materials) {
    if (given.code == code) return &given;
  }
  return nullptr;
}

void Application::replace_material(Material given) {
  std::erase_if(materials, [&](const Material& kept) { return kept.code == given.code; });
  materials.push_back(std::move(given));
}

nlohmann::json Application::to_json() const {
  nlohmann::json material_list = nlohmann::json::array();
  for (const auto& material : materials) material_list.push_back(material.to_json());
  return {{"id", id},
          {"service", service},
          {"applicant", applicant},
          {"holder_id", holder_id},
          {"state", state},
          {"form", form},
          {"sources", sources},
          {"materials", material_list},
          {"missing", missing},
          {"instance_id", instance_id},
          {"reason", reason},
          {"legal_basis", legal_basis},
          {"submitted_at", submitted_at},
          {"accepted_at", accepted_at},
          {"due_on", due_on},
          {"finished_at", finished_at},
          {"created_at", created_at},
          {"updated_at", updated_at},
          {"rating", rating},
          {"rating_comment", rating_comment},
          {"rated_at", rated_at},
          {"follow_up_instance", follow_up_instance},
          {"licenses", licenses},
          {"records", records}};
}

Applications::Applications(store::Database& database, audit::TransparencyLog& log, const ServiceCatalog& services,
                           catalog::Exchange& exchange, workflow::Engine& engine, const Clock& clock,
                           ApplicationOptions options)
    : database_(database),
      log_(log),
      services_(services),
      exchange_(exchange),
      engine_(engine),
      clock_(clock),
      options_(std::move(options)) {}

std::vector<store::Migration> Applications::migrations() {
  return {{"services", 1, "applications and their history", schema_v1, ""}};
}

void Applications::add_intake_check(std::string name, IntakeCheck check) {
  intake_checks_.emplace_back(std::move(name), std::move(check));
}

Result<Application> Applications::load(store::Session& session, std::string_view id) const {
  auto row = session.query_one(std::string(application_columns) + " WHERE id = $1", {std::string(id)});
  if (!row.ok()) return row.take_error();
  if (!row->has_value()) return not_found(id);
  return application_from(nlohmann::json::parse((*row)->text(0)));
}

Result<Application> Applications::load_of(store::Session& session, std::string_view id, const Applicant& applicant) const {
  auto application = load(session, id);
  if (!application.ok()) return application.take_error();
  // Another applicant may not even learn that it exists.
  if (application->applicant != applicant.account_id) return not_found(id);
  return application;
}

Status Applications::store(store::Session& session, const Application& application) const {
  std::string document = application.to_json().dump();
  auto updated = session.execute(
      "UPDATE service_application SET state = $2, instance_id = $3, submitted_at = $4, updated_at = $5, document = $6 "
      "WHERE id = $1",
      {application.id, application.state, application.instance_id, application.submitted_at, application.updated_at,
       document});
  if (!updated.ok()) return updated.take_error();
  if (*updated == 1) return ok_status();
  return Error(ErrorKind::internal, "services.application_vanished", "application " + application.id + " vanished");
}

Result<std::int64_t> Applications::log_act(store::Session& session, const Application& application, const std::string& actor,
                                           const std::string& action, const std::string& basis,
                                           nlohmann::json details) const {
  details["service"] = application.service;
  details["state"] = application.state;
  auto recorded = log_.record(session, {actor, "", action, "service_application", application.id, basis, std::move(details)});
  if (!recorded.ok()) return recorded.take_error();
  return recorded->index;
}

Status Applications::record_event(store::Session& session, const Application& application, const std::string& actor,
                                  const std::string& department, const std::string& action, const nlohmann::json& details,
                                  std::int64_t log_index) const {
  auto last = session.query_one("SELECT COALESCE(MAX(sequence), 0) FROM service_event WHERE application_id = $1",
                                {application.id});
  if (!last.ok()) return last.take_error();
  return session
      .execute("INSERT INTO service_event (application_id, sequence, at, actor, department, action, details, log_index) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
               {application.id, (**last).integer(0) + 1, application.updated_at, actor, department, action, details.dump(),
                log_index})
      .status();
}

Status Applications::notify(store::Session& session, const Application& application, const std::string& kind,
                            const std::string& subject, const std::string& body) const {
  for (notification::Channel* channel : channels_) {
    ONEWINDOW_TRY(channel->deliver(session, {application.applicant, kind, subject, body, "/api/v1/applications/" + application.id}));
  }
  return ok_status();
}

namespace {

// Characters of an organization code's body (GB 11714): digits and capitals but I, O, S, V, Z.
constexpr std::string_view organization_characters = "0123456789ABCDEFGHJKLMNPQRTUWXY";

std::string random_characters(std::string_view alphabet, std::size_t count) {
  auto bytes = crypto::random_bytes(count);
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += alphabet[(bytes.ok() ? (*bytes)[i] : i) % alphabet.size()];
  return out;
}

std::string text_of(const nlohmann::json& value) {
  if (value.is_null()) return "";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

Status Applications::issue_on_approval(store::Session& session, const ServiceItem& service, Application& application) const {
  if (!options_.licenses || service.licenses.empty()) return ok_status();
  const license::LicenseConfiguration& configuration = options_.licenses->configuration();
  // The holders the application makes, once each: the same new enterprise or person on every license.
  std::string new_enterprise;
  std::string new_person;
  for (const LicenseIssue& issue : service.licenses) {
    const license::LicenseType* type = configuration.type(issue.type);
    if (!type) return Error(ErrorKind::internal, "services.unknown_license_type", "no license type " + issue.type);
    const license::Department* issuer = configuration.department(type->department);
    std::string division = issue.division.empty() ? (issuer ? issuer->division : "370200")
                                                  : text_of(application.form.value(issue.division, nlohmann::json()));
    license::IssueRequest request;
    request.type = issue.type;
    request.basis = service.name + " " + application.id;
    if (issue.holder == "applicant") {
      request.holder_id = application.holder_id;
      request.holder_name = text_of(application.form.value("applicant_name", nlohmann::json(application.applicant)));
    } else if (issue.holder == "new_enterprise") {
      if (new_enterprise.empty()) {
        auto made = unused_identifier(session, service, issue.holder, 20, [&](int) -> Result<std::string> {
          std::string body = random_characters(organization_characters, 8);
          auto organization = organization_code_check_character(body);
          if (!organization.ok()) return organization.take_error();
          std::string first = "91" + division + body + *organization;
          auto check = unified_social_credit_code_check_character(first);
          if (!check.ok()) return check.take_error();
          return first + *check;
        });
        if (!made.ok()) return made.take_error();
        new_enterprise = *made;
      }
      request.holder_id = new_enterprise;
      request.holder_name = text_of(application.form.value(issue.holder_name, nlohmann::json()));
    } else {
      if (new_person.empty()) {
        // A day, a district and a sex have 500 sequence numbers (GB 11643: three digits, the last
        // odd for a man and even for a woman). Twenty drawn at random, then each in turn, so that
        // a full day is found full rather than missed by chance.
        constexpr int drawn = 20;
        auto made = unused_identifier(session, service, issue.holder, drawn + 500, [&](int attempt) -> Result<std::string> {
          std::string birth = text_of(application.form.value(issue.birth_date, nlohmann::json()));
          birth.erase(std::remove(birth.begin(), birth.end(), '-'), birth.end());
          const int parity = text_of(application.form.value(issue.sex, nlohmann::json())) == "1" ? 1 : 0;
          int number = attempt < drawn ? std::stoi(random_characters("0123456789", 2)) * 5 + (random_characters("01234", 1)[0] - '0')
                                       : attempt - drawn;
          char sequence[4];
          std::snprintf(sequence, sizeof sequence, "%03d", (number / 5) * 10 + (number % 5) * 2 + parity);
          std::string first = division + birth + sequence;
          auto check = citizen_id_check_character(first);
          if (!check.ok()) return check.take_error();
          return first + *check;
        });
        if (!made.ok()) return made.take_error();
        new_person = *made;
      }
      request.holder_id = new_person;
      request.holder_name = text_of(application.form.value(issue.holder_name, nlohmann::json()));
    }
    request.jurisdiction = division;
    for (const auto& [item, field] : issue.data) {
      if (application.form.contains(field)) request.data[item] = text_of(application.form[field]);
    }
    auto issued = options_.licenses->issue(session, request, {"system", type->department});
    if (!issued.ok()) return issued.take_error();
    application.licenses.push_back(
        {{"type", issue.type}, {"name", type->name}, {"identifier", issued->identifier}, {"department", type->department},
         {"holder_id", request.holder_id}});
  }
  for (const RecordWrite& record : service.records) {
    const std::string& key = record.holder == "new_person" ? new_person : new_enterprise;
    auto written = options_.registries
                       ? options_.registries->write(session, record.registry, key, record_fields(record, application),
                                                    service.name + " " + application.id, {"system", record.department})
                       : Result<registry::WriteReceipt>(registry::WriteReceipt{});
    if (!written.ok()) return written.take_error();
    if (options_.registries) {
      application.records.push_back({{"registry", record.registry}, {"key", key}, {"department", record.department},
                                     {"log_index", written->log_index}});
    }
  }
  return ok_status();
}

Result<std::string> Applications::unused_identifier(store::Session& session, const ServiceItem& service,
                                                    std::string_view holder, int attempts,
                                                    const std::function<Result<std::string>(int attempt)>& draw) const {
  // The random digits of a citizen ID number meet one already given on the same day, in the same
  // district, about once in five hundred: a new holder's identifier is drawn again while the
  // registry it goes into holds it.
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto identifier = draw(attempt);
    if (!identifier.ok()) return identifier.take_error();
    bool taken = false;
    for (const RecordWrite& record : service.records) {
      if (record.holder != holder || !options_.registries) continue;
      auto found = options_.registries->exists(session, record.registry, *identifier);
      if (!found.ok()) return found.take_error();
      taken = taken || *found;
    }
    if (!taken) return identifier;
  }
  return Error(ErrorKind::conflict, "services.no_free_identifier",
               holder == "new_person"
                   ? "every citizen ID number of this birth date, district and sex is taken in the person registry"
                   : "twenty unified social credit codes drawn for the new enterprise were all taken; try the approval again");
}

nlohmann::json Applications::record_fields(const RecordWrite& record, const Application& application) const {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& [name, form_field] : record.fields) {
    auto value = application.form.find(form_field);
    if (value != application.form.end() && !value->is_null()) fields[name] = *value;
  }
  for (const auto& [name, value] : record.values) fields[name] = value;
  for (const std::string& name : record.completed_on) fields[name] = clock_.today().to_string();
  return fields;
}

Result<const ServiceItem*> Applications::service_of(const Application& application) const {
  const ServiceItem* service = services_.find(application.service);
  if (!service) {
    return Error(ErrorKind::internal, "services.unknown_service", "the service " + application.service + " is no longer configured");
  }
  return service;
}

Result<Application> Applications::in_transaction(const std::function<Result<Application>(store::Session&)>& work) {
  for (int attempt = 0;; ++attempt) {
    auto done = database_.write_value<Application>(work);
    if (done.ok() || done.error().code != "workflow.conflict" || attempt + 1 >= most_conflict_retries) return done;
  }
}

Result<Application> Applications::create(std::string_view service_code, const Applicant& applicant,
                                         const nlohmann::json& values, const std::string& idempotency_key, bool submit,
                                         bool* replayed) {
  if (replayed) *replayed = false;
  const ServiceItem* service = services_.find(service_code);
  if (!service) {
    return Error(ErrorKind::not_found, "services.unknown_service", "no service " + std::string(service_code),
                 {{"field", "service"}});
  }
  if (!contains(service->applicant_kinds, applicant.kind)) {
    return Error(ErrorKind::permission_denied, "services.not_for_applicant",
                 "service " + service->code + " is not for applicants of kind " + applicant.kind, {{"field", "service"}});
  }
  if (!values.is_object()) return Error::invalid("services.bad_field", "form", "form is an object of field values");
  for (const auto& [name, value] : values.items()) {
    if (!service->field(name)) {
      return Error(ErrorKind::invalid_argument, "services.unknown_form_field", "the form has no field " + name,
                   {{"field", name}});
    }
  }
  if (idempotency_key.size() > 200) {
    return Error::invalid("services.bad_field", "Idempotency-Key", "an idempotency key is at most 200 bytes");
  }
  auto made_with_key = [&]() -> Result<std::optional<Application>> {
    return database_.read_value<std::optional<Application>>(
        [&](store::Session& session) -> Result<std::optional<Application>> {
          auto row = session.query_one(std::string(application_columns) + " WHERE applicant = $1 AND idempotency_key = $2",
                                       {applicant.account_id, idempotency_key});
          if (!row.ok()) return row.take_error();
          if (!row->has_value()) return std::optional<Application>();
          return std::optional<Application>(application_from(nlohmann::json::parse((*row)->text(0))));
        });
  };
  if (!idempotency_key.empty()) {
    auto earlier = made_with_key();
    if (!earlier.ok()) return earlier.take_error();
    if (*earlier) {
      if ((*earlier)->service != service->code) {
        return Error(ErrorKind::conflict, "services.idempotency_key_reused",
                     "this Idempotency-Key was used for another service", {{"field", "Idempotency-Key"}});
      }
      if (replayed) *replayed = true;
      return **earlier;
    }
  }

  Application application;
  application.id = new_id("app");
  application.service = service->code;
  application.applicant = applicant.account_id;
  application.holder_id = applicant.holder_id;
  application.state = "draft";
  application.created_at = format_timestamp(clock_.now());
  application.updated_at = application.created_at;

  // Prefill: the registry fields read through the exchange, one recorded read per registry and
  // department, as that department under its own grant.
  std::map<std::pair<std::string, std::string>, std::vector<const FieldSource*>> reads;
  for (const FieldSource& field : service->fields) {
    if (field.registry.empty()) {
      application.sources[field.name] = {{"source", "applicant"}};
    } else {
      reads[{field.registry, field.through}].push_back(&field);
    }
  }
  for (const auto& [read, fields] : reads) {
    const auto& [registry_name, department] = read;
    auto resource = exchange_.catalog().registry_resource(registry_name);
    std::vector<std::string> items;
    for (const FieldSource* field : fields) {
      if (!contains(items, field->item)) items.push_back(field->item);
    }
    Result<nlohmann::json> answer = resource.ok()
        ? exchange_.read({resource->id, {applicant.holder_id}, items}, {"service:" + service->code, department})
        : Result<nlohmann::json>(resource.error());
    for (const FieldSource* field : fields) {
      nlohmann::json source = {{"registry", registry_name}, {"item", field->item}, {"through", department}};
      if (!answer.ok()) {
        // No grant, no prefill: the applicant is asked instead.
        source["source"] = "none";
        source["why"] = answer.error().code;
      } else {
        const nlohmann::json& record = (*answer)["records"][0];
        if (record.contains("fields") && record["fields"].contains(field->item)) {
          application.form[field->name] = record["fields"][field->item];
          source["source"] = "registry";
          source["log_index"] = (*answer)["receipt"]["log_index"];
        } else {
          source["source"] = "none";
          source["why"] = record.contains("error") ? record.value("error", "") : "registry.value_missing";
        }
      }
      application.sources[field->name] = source;
    }
  }
  for (const auto& [name, value] : values.items()) {
    if (application.form.contains(name) && application.form[name] == value) continue;
    application.form[name] = value;
    application.sources[name] = {{"source", "applicant"}};
  }

  auto made = in_transaction([&](store::Session& session) -> Result<Application> {
    Application draft = application;
    auto inserted = session.execute(
        "INSERT INTO service_application (id, service, applicant, state, idempotency_key, instance_id, intake_department, "
        "submitted_at, created_at, updated_at, document) VALUES ($1, $2, $3, $4, $5, '', $6, '', $7, $7, $8)",
        {draft.id, draft.service, draft.applicant, draft.state,
         idempotency_key.empty() ? store::Value{} : store::Value{idempotency_key}, service->intake_department,
         draft.created_at, draft.to_json().dump()});
    if (!inserted.ok()) return inserted.take_error();
    nlohmann::json prefilled = nlohmann::json::array();
    for (const auto& [name, source] : draft.sources.items()) {
      if (source.value("source", "") == "registry") prefilled.push_back(name);
    }
    auto logged = log_act(session, draft, applicant.account_id, "services.draft", "", {{"prefilled", prefilled}});
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(record_event(session, draft, applicant.account_id, "", "draft", {{"prefilled", prefilled}}, *logged));
    if (!submit) return draft;
    return submit_in(session, std::move(draft), applicant);
  });
  if (!made.ok() && made.error().code == "store.unique_violation" && !idempotency_key.empty()) {
    // The same key at the same moment: the other request made the application. (On PostgreSQL
    // the failed transaction can run nothing more, so it is looked up in a new one.)
    auto earlier = made_with_key();
    if (!earlier.ok()) return earlier.take_error();
    if (*earlier) {
      if (replayed) *replayed = true;
      return **earlier;
    }
  }
  return made;
}

Result<Application> Applications::update_form(std::string_view id, const Applicant& applicant, const nlohmann::json& values) {
  if (!values.is_object()) return Error::invalid("services.bad_field", "form", "form is an object of field values");
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load_of(session, id, applicant);
    if (!application.ok()) return application.take_error();
    if (application->state != "draft" && application->state != "correction") return wrong_state(*application, "a draft or in correction");
    auto service = service_of(*application);
    if (!service.ok()) return service.take_error();
    for (const auto& [name, value] : values.items()) {
      if (!(*service)->field(name)) {
        return Error(ErrorKind::invalid_argument, "services.unknown_form_field", "the form has no field " + name,
                     {{"field", name}});
      }
      if (application->form.contains(name) && application->form[name] == value) continue;
      if (value.is_null()) {
        application->form.erase(name);
      } else {
        application->form[name] = value;
      }
      application->sources[name] = {{"source", "applicant"}};
    }
    application->updated_at = format_timestamp(clock_.now());
    ONEWINDOW_TRY(store(session, *application));
    return application;
  });
}

Result<Application> Applications::attach(std::string_view id, const Applicant& applicant, std::string_view material_code,
                                         std::string_view file_name, std::string_view content_type, std::string_view content) {
  // Checked before anything is kept: the application's state and the material's limits.
  auto found = database_.read_value<Application>([&](store::Session& session) { return load_of(session, id, applicant); });
  if (!found.ok()) return found.take_error();
  if (found->state != "draft" && found->state != "correction") return wrong_state(*found, "a draft or in correction");
  auto service = service_of(*found);
  if (!service.ok()) return service.take_error();
  const MaterialDefinition* material = (*service)->material(material_code);
  if (!material) {
    return Error(ErrorKind::not_found, "services.unknown_material", "the service asks for no material " + std::string(material_code),
                 {{"field", "material"}});
  }
  if (content.empty()) return Error::invalid("services.bad_field", "file", "the file is empty");
  if (static_cast<std::int64_t>(content.size()) > material->max_bytes) {
    return Error(ErrorKind::too_large, "services.file_too_large",
                 material->name + " is at most " + std::to_string(material->max_bytes) + " bytes",
                 {{"field", "file"}, {"limit", material->max_bytes}});
  }
  std::string sniffed = sniffed_type(content);
  if (!contains(material->content_types, content_type) || sniffed != content_type) {
    std::string accepted;
    for (const auto& type : material->content_types) accepted += (accepted.empty() ? "" : ", ") + type;
    return Error(ErrorKind::unsupported, "services.bad_file_type",
                 material->name + " is taken as " + accepted + (sniffed.empty() || sniffed == content_type
                                                                    ? std::string("")
                                                                    : "; the file's contents are " + sniffed + ", not " +
                                                                          std::string(content_type)),
                 {{"field", "file"}, {"accepted", material->content_types}});
  }
  if (file_name.size() > 255) return Error::invalid("services.bad_field", "file_name", "a file name is at most 255 bytes");

  // The file first, under its digest: a crash before the row leaves a file nobody names, never a
  // row naming no file.
  std::string digest = crypto::to_hex(crypto::sm3(content));
  std::filesystem::path directory = options_.material_directory / found->id;
  std::error_code failure;
  std::filesystem::create_directories(directory, failure);
  std::filesystem::path path = directory / (std::string(material_code) + "-" + digest);
  std::filesystem::path partial = path;
  partial += ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      return Error(ErrorKind::unavailable, "services.material_not_kept", "the file could not be kept; try again",
                   {{"field", "file"}});
    }
  }
  std::filesystem::rename(partial, path, failure);
  if (failure) {
    return Error(ErrorKind::unavailable, "services.material_not_kept", "the file could not be kept; try again", {{"field", "file"}});
  }

  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load_of(session, id, applicant);
    if (!application.ok()) return application.take_error();
    if (application->state != "draft" && application->state != "correction") {
      return wrong_state(*application, "a draft or in correction");
    }
    application->updated_at = format_timestamp(clock_.now());
    application->replace_material({std::string(material_code), std::string(file_name), std::string(content_type),
                                   static_cast<std::int64_t>(content.size()), digest, application->updated_at, ""});
    auto logged = log_act(session, *application, applicant.account_id, "services.attach", "",
                          {{"material", std::string(material_code)}, {"digest", digest}, {"size", content.size()}});
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(store(session, *application));
    ONEWINDOW_TRY(record_event(session, *application, applicant.account_id, "", "attach",
                               {{"material", std::string(material_code)}, {"digest", digest}}, *logged));
    return application;
  });
}

Result<Application> Applications::attach_license(std::string_view id, const Applicant& applicant, std::string_view material_code,
                                                 std::string_view identifier) {
  if (!options_.licenses) {
    return Error(ErrorKind::unavailable, "services.no_licenses", "this platform issues no electronic licenses",
                 {{"field", "identifier"}});
  }
  license::Viewer holder;
  (applicant.kind == "citizen" ? holder.citizen_id : holder.legal_person) = applicant.holder_id;
  auto held = options_.licenses->license_for(identifier, holder);
  if (!held.ok()) {
    return Error(ErrorKind::not_found, "services.license_not_held", "you hold no license " + std::string(identifier),
                 {{"field", "identifier"}});
  }
  auto verification = options_.licenses->verify(identifier);
  if (!verification.ok()) return verification.take_error();
  if (verification->outcome != license::Verification::Outcome::valid || !verification->signature_valid) {
    return Error(ErrorKind::conflict, "services.license_not_valid", "license " + std::string(identifier) + " is not valid now",
                 {{"field", "identifier"}});
  }
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load_of(session, id, applicant);
    if (!application.ok()) return application.take_error();
    if (application->state != "draft" && application->state != "correction") {
      return wrong_state(*application, "a draft or in correction");
    }
    auto service = service_of(*application);
    if (!service.ok()) return service.take_error();
    if (!(*service)->material(material_code)) {
      return Error(ErrorKind::not_found, "services.unknown_material",
                   "the service asks for no material " + std::string(material_code), {{"field", "material"}});
    }
    application->updated_at = format_timestamp(clock_.now());
    std::string digest = crypto::to_hex(crypto::sm3(held->document));
    auto type = options_.licenses->configuration().type(held->type);
    application->replace_material({std::string(material_code), type ? type->name : held->type,
                                   "application/vnd.onewindow.license+json", 0, digest, application->updated_at,
                                   std::string(identifier)});
    auto logged = log_act(session, *application, applicant.account_id, "services.attach", "",
                          {{"material", std::string(material_code)}, {"license", std::string(identifier)}, {"digest", digest}});
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(store(session, *application));
    ONEWINDOW_TRY(record_event(session, *application, applicant.account_id, "", "attach",
                               {{"material", std::string(material_code)}, {"license", std::string(identifier)}}, *logged));
    return application;
  });
}

Status Applications::check_submission(const ServiceItem& service, const Application& application) const {
  ONEWINDOW_TRY(service.validate_form(application.form));
  const Date today = clock_.today();
  for (const FieldSource& field : service.fields) {
    if (field.check.empty() || !application.form.contains(field.name)) continue;
    const nlohmann::json& value = application.form[field.name];
    if (!value.is_string()) continue;  // the schema says what type it is
    Status valid = field.check == "citizen_id" ? validate_citizen_id(value.get<std::string>(), today, field.name)
                                               : validate_unified_social_credit_code(value.get<std::string>(), field.name);
    if (!valid.ok()) return valid;
  }
  for (const MaterialDefinition& material : service.materials) {
    if (!material.key) continue;
    if (!application.material(material.code)) {
      return Error(ErrorKind::invalid_argument, "services.material_missing", "the key material " + material.name + " is missing",
                   {{"field", "materials"}, {"material", material.code}});
    }
  }
  // What the application will write into a registry once approved is checked now, so that the
  // last approval is not the first to find a value the registry refuses. A refusal names the
  // form field it came from.
  for (const RecordWrite& record : service.records) {
    if (!options_.registries) break;
    Status fits = options_.registries->check(record.registry, record_fields(record, application), {"system", record.department});
    if (!fits.ok()) {
      Error error = fits.error();
      std::string registry_field = error.details.value("field", "");
      auto from = record.fields.find(registry_field);
      error.details["registry"] = record.registry;
      error.details["registry_field"] = registry_field;
      error.details["field"] = from == record.fields.end() ? std::string("form") : from->second;
      return error;
    }
  }
  for (const auto& [name, check] : intake_checks_) {
    Status passed = check(service, application);
    if (!passed.ok()) {
      Error error = passed.error();
      if (error.kind == ErrorKind::internal) return error;
      error.details["check"] = name;
      if (!error.details.contains("field")) error.details["field"] = "form";
      return error;
    }
  }
  return ok_status();
}

Result<Application> Applications::submit_in(store::Session& session, Application application, const Applicant& applicant) {
  if (application.state == "submitted" || application.state == "accepted") return application;  // a retried submit
  if (application.state != "draft") return wrong_state(application, "a draft");
  auto service = service_of(application);
  if (!service.ok()) return service.take_error();
  ONEWINDOW_TRY(check_submission(**service, application));
  application.state = "submitted";
  application.updated_at = format_timestamp(clock_.now());
  application.submitted_at = application.updated_at;
  auto logged = log_act(session, application, applicant.account_id, "services.submit", "", {});
  if (!logged.ok()) return logged.take_error();
  ONEWINDOW_TRY(store(session, application));
  ONEWINDOW_TRY(record_event(session, application, applicant.account_id, "", "submit", nlohmann::json::object(), *logged));
  return application;
}

Result<Application> Applications::submit(std::string_view id, const Applicant& applicant) {
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load_of(session, id, applicant);
    if (!application.ok()) return application.take_error();
    return submit_in(session, std::move(application).value(), applicant);
  });
}

Result<Application> Applications::of_applicant(std::string_view id, const Applicant& applicant) const {
  return database_.read_value<Application>([&](store::Session& session) { return load_of(session, id, applicant); });
}

Result<std::string> Applications::license_pdf(std::string_view id, const Applicant& applicant, std::string_view identifier,
                                              std::string_view public_url) const {
  auto application = of_applicant(id, applicant);
  if (!application.ok()) return application.take_error();
  for (const auto& issued : application->licenses) {
    if (issued.value("identifier", "") != identifier) continue;
    if (!options_.licenses) break;
    // The issuing department may print every license it signed; the applicant asks through it.
    return options_.licenses->pdf(identifier, license::Viewer{"", "", issued.value("department", "")}, public_url);
  }
  return Error(ErrorKind::not_found, "services.license_not_issued",
               "application " + std::string(id) + " issued no license " + std::string(identifier), {{"field", "identifier"}});
}

// The applications a condition finds, in one read transaction: at most `limit`, all when 0.
static Result<std::vector<Application>> applications_where(store::Database& database, const std::string& condition,
                                                           const store::Parameters& parameters, int limit = 1000) {
  return database.read_value<std::vector<Application>>([&](store::Session& session) -> Result<std::vector<Application>> {
    std::string sql = std::string(application_columns) + " " + condition;
    if (limit > 0) sql += " LIMIT " + std::to_string(limit);
    auto rows = session.query(sql, parameters);
    if (!rows.ok()) return rows.take_error();
    std::vector<Application> list;
    for (const auto& row : *rows) list.push_back(application_from(nlohmann::json::parse(row.text(0))));
    return list;
  });
}

Result<std::vector<Application>> Applications::applications_of(const Applicant& applicant) const {
  return applications_where(database_, "WHERE applicant = $1 ORDER BY created_at DESC, id DESC", {applicant.account_id});
}

Result<std::vector<Application>> Applications::awaiting_intake(const Official& official) const {
  return applications_where(database_, "WHERE intake_department = $1 AND state = 'submitted' ORDER BY submitted_at, id",
                            {official.department_key});
}

Result<nlohmann::json> Applications::for_official(std::string_view id, const Official& official) const {
  auto application = database_.read_value<Application>([&](store::Session& session) { return load(session, id); });
  if (!application.ok()) return application.take_error();
  auto service = service_of(*application);
  if (!service.ok()) return service.take_error();
  const std::string& department = official.department_key;
  bool intake = department == (*service)->intake_department;
  if (!intake && !(*service)->implemented_by(department)) return not_found(id);
  if (application->state == "draft") return not_found(id);  // a draft is the applicant's alone
  auto sees = [&](const std::vector<std::string>& meant_for) { return department_sees(**service, department, meant_for); };
  nlohmann::json form = nlohmann::json::object();
  nlohmann::json sources = nlohmann::json::object();
  for (const FieldSource& field : (*service)->fields) {
    if (!sees(field.departments)) continue;
    if (application->form.contains(field.name)) form[field.name] = application->form[field.name];
    if (application->sources.contains(field.name)) sources[field.name] = application->sources[field.name];
  }
  nlohmann::json materials = nlohmann::json::array();
  for (const Material& material : application->materials) {
    const MaterialDefinition* definition = (*service)->material(material.code);
    if (definition && sees(definition->departments)) materials.push_back(material.to_json());
  }
  nlohmann::json tasks = nlohmann::json::array();
  if (!application->instance_id.empty()) {
    auto open = engine_.tasks({application->instance_id, intake ? "" : department, "", false});
    if (!open.ok()) return open.take_error();
    for (const auto& task : *open) tasks.push_back(task.to_json());
  }
  return nlohmann::json{{"id", application->id},
                        {"service", application->service},
                        {"state", application->state},
                        {"form", form},
                        {"sources", sources},
                        {"materials", materials},
                        {"missing", application->missing},
                        {"reason", application->reason},
                        {"submitted_at", application->submitted_at},
                        {"accepted_at", application->accepted_at},
                        {"due_on", application->due_on},
                        {"tasks", tasks}};
}

Result<nlohmann::json> Applications::progress(std::string_view id, const Applicant& applicant) const {
  auto application = of_applicant(id, applicant);
  if (!application.ok()) return application.take_error();
  nlohmann::json holding = nlohmann::json::array();
  if (!application->instance_id.empty()) {
    auto tasks = engine_.tasks({application->instance_id, "", "", false});
    if (!tasks.ok()) return tasks.take_error();
    for (const auto& task : *tasks) {
      holding.push_back({{"department", task.candidate_department},
                         {"step", task.name},
                         {"status", task.status},
                         {"since", task.created_at},
                         {"due_at", task.due_at}});
    }
  }
  auto events = this->events(application->id);
  if (!events.ok()) return events.take_error();
  nlohmann::json history = nlohmann::json::array();
  for (const ApplicationEvent& event : *events) {
    // The applicant sees which department acted, not which official.
    nlohmann::json item = event.to_json();
    item.erase("actor");
    history.push_back(std::move(item));
  }
  return nlohmann::json{{"id", application->id},
                        {"state", application->state},
                        {"expected_completion", application->due_on},
                        {"missing", application->missing},
                        {"reason", application->reason},
                        {"tasks", holding},
                        {"history", history}};
}

nlohmann::json ApplicationEvent::to_json() const {
  return {{"sequence", sequence}, {"at", at},           {"actor", actor},          {"department", department},
          {"action", action},     {"details", details}, {"log_index", log_index}};
}

Result<Application> Applications::find(std::string_view id) const {
  return database_.read_value<Application>([&](store::Session& session) { return load(session, id); });
}

Result<std::vector<ApplicationEvent>> Applications::events(std::string_view id) const {
  return database_.read_value<std::vector<ApplicationEvent>>([&](store::Session& session) -> Result<std::vector<ApplicationEvent>> {
    auto rows = session.query(
        "SELECT sequence, at, actor, department, action, details, log_index FROM service_event WHERE application_id = $1 "
        "ORDER BY sequence",
        {std::string(id)});
    if (!rows.ok()) return rows.take_error();
    std::vector<ApplicationEvent> list;
    for (const auto& row : *rows) {
      list.push_back({row.integer(0), row.text(1), row.text(2), row.text(3), row.text(4),
                      nlohmann::json::parse(row.text(5)), row.integer(6)});
    }
    return list;
  });
}

Result<std::vector<Application>> Applications::submitted_between(Date from, Date to) const {
  return applications_where(database_, "WHERE submitted_at >= $1 AND submitted_at < $2 ORDER BY submitted_at, id",
                            {format_timestamp(local_day_start(from)), format_timestamp(local_day_start(to.plus_days(1)))},
                            0);
}

Result<Application> Applications::intake(std::string_view id, std::string_view decision, std::string_view reason,
                                         const std::vector<std::string>& missing, const Official& official) {
  if (decision != "accept" && decision != "reject" && decision != "accept_with_missing") {
    return Error::invalid("services.bad_field", "decision", "decision is accept, reject or accept_with_missing");
  }
  if (decision == "reject" && reason.empty()) return Error::invalid("services.bad_field", "reason", "a rejection states its reason");
  if (reason.size() > 2000) return Error::invalid("services.bad_field", "reason", "a reason is at most 2000 bytes");
  if (decision == "accept_with_missing" && missing.empty()) {
    return Error::invalid("services.bad_field", "missing", "accepting with missing materials names them");
  }
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load(session, id);
    if (!application.ok()) return application.take_error();
    auto service = service_of(*application);
    if (!service.ok()) return service.take_error();
    if (official.department_key != (*service)->intake_department) {
      if (!(*service)->implemented_by(official.department_key)) return not_found(id);
      return Error(ErrorKind::permission_denied, "services.not_intake",
                   "applications for " + (*service)->code + " are taken at the window of " + (*service)->intake_department);
    }
    if (application->state != "submitted") return wrong_state(*application, "submitted");
    application->updated_at = format_timestamp(clock_.now());
    nlohmann::json details = {{"decision", std::string(decision)}};
    if (decision == "reject") {
      application->state = "rejected";
      application->reason = std::string(reason);
      application->finished_at = application->updated_at;
    } else {
      if (decision == "accept_with_missing") {
        for (const std::string& code : missing) {
          const MaterialDefinition* material = (*service)->material(code);
          if (!material) {
            return Error(ErrorKind::invalid_argument, "services.unknown_material", "the service asks for no material " + code,
                         {{"field", "missing"}});
          }
          if (material->key) {
            return Error(ErrorKind::invalid_argument, "services.key_material",
                         material->name + " is a key material: an application cannot be accepted without it",
                         {{"field", "missing"}, {"material", code}});
          }
        }
        application->missing = missing;
        details["missing"] = missing;
      }
      workflow::StartRequest start;
      start.process_id = (*service)->process;
      start.business_key = application->id;
      start.module = "services";  // it moves with the application, through this module only
      start.variables = {{"application", application->id}, {"service", (*service)->code}};
      start.deadline_working_days = (*service)->promised_limit;
      auto instance = engine_.start(session, start, {official.account_id, official.department_key, official.roles});
      if (!instance.ok()) return instance.take_error();
      application->state = "accepted";
      application->instance_id = instance->id;
      application->accepted_at = application->updated_at;
      application->due_on = last_day_before(instance->due_at);
      details["instance"] = instance->id;
      details["due_on"] = application->due_on;
    }
    auto logged = log_act(session, *application, official.account_id, "services.intake", std::string(reason), details);
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(store(session, *application));
    ONEWINDOW_TRY(record_event(session, *application, official.account_id, official.department_key, "intake", details, *logged));
    if (application->state == "rejected") {
      ONEWINDOW_TRY(notify(session, *application, "application.rejected", (*service)->name + "：申请未予受理",
                           "原因：" + application->reason));
    } else {
      std::string body = "承诺办结日期：" + application->due_on;
      if (!application->missing.empty()) body += "；容缺受理，请补交材料";
      ONEWINDOW_TRY(notify(session, *application, "application.accepted", (*service)->name + "：申请已受理", body));
    }
    return application;
  });
}

Result<Application> Applications::decide(std::string_view id, const Decision& decision, const Official& official) {
  if (decision.outcome != "approve" && decision.outcome != "refuse" && decision.outcome != "correction") {
    return Error::invalid("services.bad_field", "outcome", "outcome is approve, refuse or correction");
  }
  if (decision.outcome == "refuse" && decision.reason.empty()) {
    return Error::invalid("services.bad_field", "reason", "a refusal states its reasons");
  }
  if (decision.outcome == "refuse" && decision.legal_basis.empty()) {
    return Error::invalid("services.bad_field", "legal_basis", "a refusal states its legal basis");
  }
  if (decision.outcome == "correction" && decision.missing.empty()) {
    return Error::invalid("services.bad_field", "missing", "a correction names what is missing");
  }
  if (decision.outcome == "correction" && decision.reason.empty()) {
    return Error::invalid("services.bad_field", "reason", "a correction says what to supply");
  }
  if (decision.reason.size() > 2000) return Error::invalid("services.bad_field", "reason", "a reason is at most 2000 bytes");
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load(session, id);
    if (!application.ok()) return application.take_error();
    auto service = service_of(*application);
    if (!service.ok()) return service.take_error();
    if (!(*service)->implemented_by(official.department_key)) return not_found(id);
    if (application->state != "accepted") return wrong_state(*application, "accepted, in approval");
    auto task = engine_.task(session, decision.task_id);
    if (!task.ok() || task->instance_id != application->instance_id || task->candidate_department != official.department_key) {
      return Error(ErrorKind::permission_denied, "services.not_your_task",
                   "task " + decision.task_id + " is not a task of your department on this application", {{"field", "task_id"}});
    }
    if (task->status != "open") {
      return Error(ErrorKind::conflict, "services.task_done", "task " + task->id + " is " + task->status, {{"field", "task_id"}});
    }
    workflow::Actor actor{official.account_id, official.department_key, official.roles};
    application->updated_at = format_timestamp(clock_.now());
    nlohmann::json details = {{"outcome", decision.outcome}, {"task", task->id}, {"step", task->name}};
    if (decision.outcome == "correction") {
      auto service_item = *service;
      for (const std::string& what : decision.missing) {
        if (!service_item->material(what) && !service_item->field(what)) {
          return Error(ErrorKind::invalid_argument, "services.unknown_material",
                       "the service has no material or form field " + what, {{"field", "missing"}});
        }
      }
      auto suspended = engine_.suspend(session, application->instance_id, decision.reason, actor);
      if (!suspended.ok()) return suspended.take_error();
      application->state = "correction";
      application->missing = decision.missing;
      application->reason = decision.reason;
      details["missing"] = decision.missing;
    } else {
      auto completed = engine_.complete(session, task->id, {decision.outcome, decision.reason, nlohmann::json::object()}, actor);
      if (!completed.ok()) return completed.take_error();
      auto instance = engine_.instance(session, application->instance_id);
      if (!instance.ok()) return instance.take_error();
      if (decision.outcome == "refuse") {
        application->reason = decision.reason;
        application->legal_basis = decision.legal_basis;
        details["legal_basis"] = decision.legal_basis;
      }
      if (instance->status == "completed") {
        application->state = "approved";
        application->finished_at = application->updated_at;
        ONEWINDOW_TRY(issue_on_approval(session, **service, *application));
        if (!application->licenses.empty()) details["licenses"] = application->licenses;
        if (!application->records.empty()) details["records"] = application->records;
      } else if (instance->status == "terminated") {
        application->state = "refused";
        application->finished_at = application->updated_at;
      }
    }
    auto logged = log_act(session, *application, official.account_id, "services.decide",
                          decision.outcome == "refuse" ? decision.legal_basis : "", details);
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(store(session, *application));
    ONEWINDOW_TRY(record_event(session, *application, official.account_id, official.department_key, "decide", details, *logged));
    const std::string& name = (*service)->name;
    if (application->state == "correction") {
      ONEWINDOW_TRY(notify(session, *application, "application.correction", name + "：请补正材料", decision.reason));
    } else if (application->state == "approved") {
      ONEWINDOW_TRY(notify(session, *application, "application.approved", name + "：已办结", "各部门均已审批通过"));
      for (const auto& issued : application->licenses) {
        ONEWINDOW_TRY(notify(session, *application, "license.issued", "电子证照已签发：" + issued.value("name", ""),
                             "证照标识：" + issued.value("identifier", "")));
      }
    } else if (application->state == "refused") {
      ONEWINDOW_TRY(notify(session, *application, "application.refused", name + "：不予许可",
                           "原因：" + decision.reason + "；依据：" + decision.legal_basis));
    }
    return application;
  });
}

Result<Application> Applications::supply_correction(std::string_view id, const Applicant& applicant) {
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load_of(session, id, applicant);
    if (!application.ok()) return application.take_error();
    if (application->state != "correction") return wrong_state(*application, "in correction");
    auto service = service_of(*application);
    if (!service.ok()) return service.take_error();
    for (const std::string& what : application->missing) {
      if ((*service)->material(what)) {
        if (!application->material(what)) {
          return Error(ErrorKind::invalid_argument, "services.material_missing",
                       "the correction asks for " + (*service)->material(what)->name, {{"field", "materials"}, {"material", what}});
        }
      } else if (!application->form.contains(what)) {
        return Error(ErrorKind::invalid_argument, "services.form_invalid", "the correction asks for the field " + what,
                     {{"field", what}});
      }
    }
    ONEWINDOW_TRY((*service)->validate_form(application->form));
    auto resumed = engine_.resume(session, application->instance_id, {applicant.account_id, "", {}});
    if (!resumed.ok()) return resumed.take_error();
    nlohmann::json details = {{"supplied", application->missing}};
    application->state = "accepted";
    application->missing.clear();
    application->reason.clear();
    application->due_on = last_day_before(resumed->due_at);
    application->updated_at = format_timestamp(clock_.now());
    details["due_on"] = application->due_on;
    auto logged = log_act(session, *application, applicant.account_id, "services.correction_supplied", "", details);
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(store(session, *application));
    ONEWINDOW_TRY(record_event(session, *application, applicant.account_id, "", "correction_supplied", details, *logged));
    return application;
  });
}

Result<Application> Applications::rate(std::string_view id, const Applicant& applicant, int level, std::string_view comment) {
  if (level < 1 || level > 5) return Error::invalid("services.bad_field", "level", "a rating is 1 (非常不满意) to 5 (非常满意)");
  if (level <= 2 && comment.empty()) {
    return Error::invalid("services.bad_field", "comment", "a bad rating says what went wrong, so that it can be fixed");
  }
  if (comment.size() > 2000) return Error::invalid("services.bad_field", "comment", "a comment is at most 2000 bytes");
  return in_transaction([&](store::Session& session) -> Result<Application> {
    auto application = load_of(session, id, applicant);
    if (!application.ok()) return application.take_error();
    if (application->state != "approved" && application->state != "refused" && application->state != "rejected") {
      return wrong_state(*application, "finished");
    }
    if (application->rating != 0) {
      return Error(ErrorKind::conflict, "services.already_rated", "application " + application->id + " is rated already",
                   {{"field", "level"}});
    }
    auto service = service_of(*application);
    if (!service.ok()) return service.take_error();
    application->rating = level;
    application->rating_comment = std::string(comment);
    application->updated_at = format_timestamp(clock_.now());
    application->rated_at = application->updated_at;
    nlohmann::json details = {{"level", level}};
    if (level <= 2) {
      workflow::StartRequest start;
      start.process_id = "rating_follow_up";
      start.business_key = "rating:" + application->id;
      start.variables = {{"application", application->id}, {"department", (*service)->competent_department}, {"level", level}};
      auto instance = engine_.start(session, start, {applicant.account_id, "", {}});
      if (!instance.ok()) return instance.take_error();
      application->follow_up_instance = instance->id;
      details["follow_up"] = instance->id;
    }
    auto logged = log_act(session, *application, applicant.account_id, "services.rate", "", details);
    if (!logged.ok()) return logged.take_error();
    ONEWINDOW_TRY(store(session, *application));
    ONEWINDOW_TRY(record_event(session, *application, applicant.account_id, "", "rate", details, *logged));
    return application;
  });
}

Result<MaterialFile> Applications::material_content(std::string_view id, std::string_view material,
                                                   const Applicant* applicant, const Official* official) const {
  auto application = database_.read_value<Application>([&](store::Session& session) { return load(session, id); });
  if (!application.ok()) return application.take_error();
  auto service = service_of(*application);
  if (!service.ok()) return service.take_error();
  const MaterialDefinition* definition = (*service)->material(material);
  bool allowed = applicant && applicant->account_id == application->applicant;
  if (!allowed && official && application->state != "draft" && definition) {
    const std::string& department = official->department_key;
    allowed = ((*service)->implemented_by(department) || department == (*service)->intake_department) &&
              department_sees(**service, department, definition->departments);
  }
  if (!allowed) return not_found(id);
  const Material* kept = application->material(material);
  if (!kept) {
    return Error(ErrorKind::not_found, "services.material_not_given", "no file for " + std::string(material), {{"field", "material"}});
  }
  if (!kept->license.empty()) {
    return Error(ErrorKind::not_found, "services.material_is_license",
                 "this material is the electronic license " + kept->license + ": GET /api/v1/licenses/" + kept->license + "/verify",
                 {{"field", "material"}, {"license", kept->license}});
  }
  std::ifstream in(options_.material_directory / application->id / (kept->code + "-" + kept->digest), std::ios::binary);
  if (!in) return Error(ErrorKind::internal, "services.material_lost", "the file of " + kept->code + " is not where it was kept");
  return MaterialFile{kept->content_type, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
}

}  // namespace onewindow::services
