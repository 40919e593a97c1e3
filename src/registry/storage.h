// Private to registry/: what records.cpp and imports.cpp share about storage.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace onewindow::registry {

// The text a lookup row holds for a value: a string as it is (so that a name prefix is a range
// of lookups), anything else as its JSON text.
inline std::string lookup_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Registry migration 3: imports and their rejected rows. next_offset and next_line say where the
// next batch starts in the file; they change only with a batch's rows, in its transaction.
inline constexpr const char* import_schema = R"(CREATE TABLE registry_import (
      id TEXT PRIMARY KEY,
      registry TEXT NOT NULL,
      department TEXT NOT NULL,
      account TEXT NOT NULL,
      reason TEXT NOT NULL,
      origin TEXT NOT NULL,
      file TEXT NOT NULL,
      file_size BIGINT NOT NULL,
      file_digest TEXT NOT NULL,
      encoding TEXT NOT NULL,
      columns TEXT NOT NULL,
      batch_rows BIGINT NOT NULL,
      state TEXT NOT NULL,
      error TEXT NOT NULL,
      next_offset BIGINT NOT NULL,
      next_line BIGINT NOT NULL,
      rows_read BIGINT NOT NULL,
      rows_created BIGINT NOT NULL,
      rows_updated BIGINT NOT NULL,
      rows_rejected BIGINT NOT NULL,
      started_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      finished_at TEXT NOT NULL);
    CREATE INDEX registry_import_unfinished ON registry_import (state, origin, started_at);
    CREATE TABLE registry_import_rejection (
      import_id TEXT NOT NULL REFERENCES registry_import (id),
      line BIGINT NOT NULL,
      field TEXT NOT NULL,
      code TEXT NOT NULL,
      message TEXT NOT NULL,
      PRIMARY KEY (import_id, line)))";

}  // namespace onewindow::registry
