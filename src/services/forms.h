// Private to services/: JSON Schema for forms, through valijson.
#pragma once

#include "base/result.h"

#include <nlohmann/json.hpp>

#include <memory>

namespace onewindow::services {

struct FormSchema;

// Compiles a JSON Schema (draft 7): services.bad_schema with valijson's reason when it cannot.
Result<std::shared_ptr<const FormSchema>> compile_schema(const nlohmann::json& schema);

// services.form_invalid when `values` fail the schema; details.field is the first property at
// fault (the top-level property, or "form" for the whole), and details.errors every problem
// found as {"field", "message"}.
Status check_against(const FormSchema& schema, const nlohmann::json& values);

}  // namespace onewindow::services
