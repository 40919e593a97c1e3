// Fuzz target: CSV import as `onewindow import` reads a file: base/csv.h's CsvReader and text
// encodings, then each cell checked against its registry field (registry::validate_text).
//
// Input: the first byte picks the encoding (even: UTF-8, odd: GB18030) and the registry
// (bit 1: person or legal_person, the real definitions of config/registries/); the rest is the
// file. The first record is the header: a column naming a field is checked as that field, any
// other column as the registry's key field.
// Contract checked: reading gives records or one csv.* error and never crashes, leaks or reaches
// undefined behaviour; a reader made at offset() of a record, as an import resumes, reads the
// same next record as the reader that went on; records written back with write_csv_record read
// back the same; every cell's check gives ok or an error with a code.
#include "base/csv.h"
#include "base/identifiers.h"
#include "identity/identity.h"
#include "registry/registry.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {
using namespace onewindow;

struct Configuration {
  registry::RegistryCatalog registries;
  DivisionCodes divisions;
};

const Configuration& configuration() {
  static const Configuration loaded = [] {
    const std::string directory = ONEWINDOW_FUZZ_CONFIG_DIR;
    auto departments = identity::DirectoryConfiguration::load(directory + "/departments.yaml");
    if (!departments.ok()) std::abort();  // the fuzz build's config/ is broken, not the reader
    std::set<std::string> keys;
    for (const auto& department : departments->departments) keys.insert(department.key);
    auto registries = registry::RegistryCatalog::load(directory + "/registries", keys);
    auto divisions = DivisionCodes::load(directory + "/divisions.yaml");
    if (!registries.ok() || !divisions.ok()) std::abort();
    return Configuration{std::move(registries).value(), std::move(divisions).value()};
  }();
  return loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const TextEncoding encoding = (data[0] & 1) ? TextEncoding::gb18030 : TextEncoding::utf8;
  const Configuration& config = configuration();
  const auto& all = config.registries.all();
  const registry::RegistryDefinition& definition = all.at((data[0] & 2) ? 1 % all.size() : 0);
  const std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Date today(2026, 12, 1);

  // The whole file, with where each record ends, as the import reads it.
  std::istringstream input(file);
  CsvReader reader(input);
  std::vector<std::vector<std::string>> records;
  std::vector<std::pair<std::int64_t, std::int64_t>> resume_points;  // offset and line after each
  std::vector<std::string> fields;
  bool failed = false;
  while (records.size() < 10000) {
    auto more = reader.next(fields);
    if (!more.ok()) {
      if (more.error().code.rfind("csv.", 0) != 0) __builtin_trap();
      failed = true;
      break;
    }
    if (!*more) break;
    records.push_back(fields);
    resume_points.emplace_back(reader.offset(), reader.next_line());
  }

  // Resumed after the header, as an interrupted import starts again: the same records follow.
  if (!records.empty() && records.size() < 10000) {
    auto [offset, line] = resume_points.front();
    std::istringstream resumed_input(file);
    resumed_input.seekg(static_cast<std::streamoff>(offset));
    CsvReader resumed(resumed_input, line, offset);
    for (std::size_t i = 1;; ++i) {
      auto more = resumed.next(fields);
      if (!more.ok()) {
        if (!failed || i != records.size()) __builtin_trap();
        break;
      }
      if (!*more) {
        if (failed || i != records.size()) __builtin_trap();
        break;
      }
      if (i >= records.size() || fields != records[i]) __builtin_trap();
      if (resumed.offset() != resume_points[i].first || resumed.line() != resume_points[i - 1].second) __builtin_trap();
    }
  }

  // Written back, the records read back the same (unless the text starts with a byte order
  // mark, which the reader skips by contract).
  if (!failed && records.size() < 10000) {
    std::string written;
    for (const auto& record : records) write_csv_record(written, record);
    if (written.rfind("\xEF\xBB\xBF", 0) != 0) {
      std::istringstream again_input(written);
      CsvReader again(again_input);
      for (const auto& record : records) {
        auto more = again.next(fields);
        if (!more.ok() || !*more || fields != record) __builtin_trap();
      }
      auto end = again.next(fields);
      if (!end.ok() || *end) __builtin_trap();
    }
  }

  // Every cell checked as the registry's field of its column (the key where none matches).
  std::vector<const registry::FieldDefinition*> columns;
  for (std::size_t row = 0; row < records.size(); ++row) {
    for (std::size_t i = 0; i < records[row].size(); ++i) {
      auto text = to_utf8(records[row][i], encoding);
      if (!text.ok()) {
        if (text.error().code != "csv.bad_encoding") __builtin_trap();
        continue;
      }
      if (row == 0) {
        const registry::FieldDefinition* field = definition.field(*text);
        columns.push_back(field != nullptr ? field : definition.field(definition.key));
        continue;
      }
      const registry::FieldDefinition* field = i < columns.size() ? columns[i] : definition.field(definition.key);
      if (field == nullptr) continue;
      auto checked = registry::validate_text(*field, *text, today, config.divisions);
      if (!checked.ok() && checked.error().code.empty()) __builtin_trap();
    }
  }
  return 0;
}
