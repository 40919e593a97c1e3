// Fuzz target: the one form of a service application as its route reads it: the body through
// api::Request::json_body, then the form checked against the real JSON Schemas of
// config/services/*.form.json with the services' own checks (services/forms.h, which
// ServiceItem::validate_form calls).
//
// Contract checked: any body gives ok or an error (http.* for the body, services.form_invalid
// naming a field for the form), never a crash, leak or undefined behaviour; the schemas compile.
#include "api/api.h"
#include "services/forms.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {
using namespace onewindow;

const std::vector<std::shared_ptr<const services::FormSchema>>& schemas() {
  static const auto* loaded = [] {
    auto* compiled = new std::vector<std::shared_ptr<const services::FormSchema>>();
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(ONEWINDOW_FUZZ_CONFIG_DIR) + "/services")) {
      if (entry.path().string().ends_with(".form.json")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream contents;
      contents << in.rdbuf();
      auto schema = services::compile_schema(nlohmann::json::parse(contents.str(), nullptr, false));
      if (!schema.ok()) std::abort();  // the fuzz build's config/ is broken, not the check
      compiled->push_back(std::move(schema).value());
    }
    if (compiled->empty()) std::abort();
    return compiled;
  }();
  return *loaded;
}

void check(const services::FormSchema& schema, const nlohmann::json& values) {
  auto status = services::check_against(schema, values);
  if (status.ok()) return;
  if (status.error().code != "services.form_invalid" || !status.error().details["field"].is_string()) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  api::Request request;
  request.method = "POST";
  request.headers["content-type"] = "application/json";
  request.body.assign(reinterpret_cast<const char*>(data), size);
  auto body = request.json_body();
  if (!body.ok()) {
    if (body.error().code.rfind("http.", 0) != 0) __builtin_trap();
    return 0;
  }
  for (const auto& schema : schemas()) {
    // The body as the form itself, and its "form" member as a submitted application holds it.
    check(*schema, *body);
    if (auto form = body->find("form"); form != body->end()) check(*schema, *form);
  }
  return 0;
}
