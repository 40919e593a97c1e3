#include "services/forms.h"

// Without it valijson prints and aborts the process on a schema it cannot read: a bad service
// file must be a load error instead.
#define VALIJSON_USE_EXCEPTIONS 1

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace onewindow::services {

struct FormSchema {
  valijson::Schema schema;
};

Result<std::shared_ptr<const FormSchema>> compile_schema(const nlohmann::json& schema) {
  auto compiled = std::make_shared<FormSchema>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, compiled->schema);
  } catch (const std::exception& failure) {
    return Error(ErrorKind::invalid_argument, "services.bad_schema", failure.what());
  }
  return std::shared_ptr<const FormSchema>(std::move(compiled));
}

Status check_against(const FormSchema& schema, const nlohmann::json& values) {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(values);
  if (validator.validate(schema.schema, adapter, &results)) return ok_status();
  // valijson's context is a path like ["<root>", "[child_name]"]: the first property below the
  // root names the field. Messages say what the rule is, never the value (it may be personal).
  nlohmann::json errors = nlohmann::json::array();
  std::string first;
  std::string first_message;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    std::string field = "form";
    for (const std::string& part : error.context) {
      if (part.size() > 2 && part.front() == '[' && part.back() == ']') {
        field = part.substr(1, part.size() - 2);
        break;
      }
    }
    // A missing property is reported at the object: its name is in the description.
    const std::string marker = "required property '";
    if (auto at = error.description.find(marker); field == "form" && at != std::string::npos) {
      auto end = error.description.find('\'', at + marker.size());
      if (end != std::string::npos) field = error.description.substr(at + marker.size(), end - at - marker.size());
    }
    if (first.empty() || (first == "form" && field != "form")) {
      first = field;
      first_message = error.description;
    }
    errors.push_back({{"field", field}, {"message", error.description}});
  }
  if (first.empty()) first = "form";
  return Error(ErrorKind::invalid_argument, "services.form_invalid", "the form fails its schema at " + first + ": " + first_message,
               {{"field", first}, {"errors", errors}});
}

}  // namespace onewindow::services
