// synthetic: the deterministic generator of test data behind `onewindow generate`. It writes CSV
// files of natural persons and enterprises of Qingdao, one file per registry and authority
// department, ready for import into the base registries (config/registries/*.yaml).
//
// Contract:
// - Deterministic: the same Options give byte-identical files on every platform and standard
//   library. Randomness comes from the module's own generator and its own mapping of numbers to
//   ranges, never from <random>'s distributions.
// - Every value passes its field's validators in config/registries/: citizen ID numbers (valid
//   check character, sequence parity matching sex) and unified social credit codes (both check
//   characters) are valid and unique within a run, by construction rather than by remembering
//   the ones already made. Every legal_representative_id is the ID number of a person of the
//   same run.
// - The persons of a run do not depend on the number of enterprises; the first N persons of a
//   run with more persons are the persons of a run with N.
// - A file appears under its final name only when complete: all are written under temporary
//   names and renamed at the end; on failure the temporary files are removed.
//
// Errors:
//   synthetic.bad_count      (invalid) persons or enterprises negative or over the maximum
//   synthetic.bad_today      (invalid) today too early to place the registration dates before it
//   synthetic.no_divisions   (invalid) the division table has no county-level Qingdao division
//   synthetic.write_failed   (unavailable) the directory or a file cannot be created or written;
//                            details {"path"}
//
// Thread safety: generate() keeps no state between calls; calls writing into different
// directories may run at once.
#pragma once

#include "base/clock.h"
#include "base/csv.h"
#include "base/identifiers.h"
#include "base/result.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace onewindow::synthetic {

// Beyond these the runs would take hours, and ID numbers could run short in the busiest
// divisions and birth days; they are far above any test's needs.
inline constexpr std::int64_t max_persons = 100'000'000;
inline constexpr std::int64_t max_enterprises = 10'000'000;

struct Options {
  std::int64_t persons = 0;
  std::int64_t enterprises = 0;
  std::uint64_t seed = 20261123;
  // Birth, establishment and registration dates all fall before this day; it must be after
  // 1990-01-01, the earliest establishment date.
  Date today;
  TextEncoding encoding = TextEncoding::utf8;
};

// Records written so far and in all (persons, then enterprises); reported at most about a
// hundred times a run, and always once at the end with done == total.
struct Progress {
  std::int64_t done = 0;
  std::int64_t total = 0;
};

struct GeneratedFile {
  std::string registry;    // "person", "legal_person"
  std::string department;  // the authority of the file's fields: "police", "civil", ...
  std::filesystem::path path;
  std::int64_t rows = 0;   // records, not counting the header row
};

// Writes into `directory` (created if missing), each file a header row of the registry's field
// names, then one row per record, CRLF line ends, in options.encoding:
//   person.police.csv        id_number,name,sex,birth_date,ethnicity,household_address,
//                            household_division,current_address,phone
//   person.civil.csv         id_number,marital_status  (about 80% of adults)
//   legal_person.market.csv  uscc,name,entity_type,legal_representative,legal_representative_id,
//                            registered_capital,business_scope,address,division,
//                            establishment_date,status
//   legal_person.tax.csv     uscc,tax_registration_status,taxpayer_type
//   legal_person.hrss.csv    uscc,social_insurance_registration_date,insured_employee_count
// Returns the five files in that order. Divisions are the county-level children of Qingdao
// (370200) in `divisions`. `progress`, when given, is called on the calling thread.
Result<std::vector<GeneratedFile>> generate(const Options& options, const DivisionCodes& divisions,
                                            const std::filesystem::path& directory,
                                            const std::function<void(const Progress&)>& progress = {});

}  // namespace onewindow::synthetic
