#include "synthetic/synthetic.h"

#include "base/csv.h"
#include "base/identifiers.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace onewindow::synthetic {
namespace {

// ---- Helpers ----

using onewindow::testing::TemporaryDirectory;

constexpr Date today{2026, 11, 23};

const DivisionCodes& divisions() {
  static const DivisionCodes table = [] {
    Result<DivisionCodes> loaded = DivisionCodes::load(onewindow::testing::config_dir() / "divisions.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().message);
    return loaded.ok() ? std::move(loaded).value() : DivisionCodes();
  }();
  return table;
}

Options options_for(std::int64_t persons, std::int64_t enterprises, std::uint64_t seed = 20261123) {
  Options options;
  options.persons = persons;
  options.enterprises = enterprises;
  options.seed = seed;
  options.today = today;
  return options;
}

std::vector<GeneratedFile> generate_or_fail(const Options& options, const std::filesystem::path& directory) {
  Result<std::vector<GeneratedFile>> files = generate(options, divisions(), directory);
  EXPECT_TRUE(files.ok()) << (files.ok() ? "" : files.error().code + ": " + files.error().message);
  return files.ok() ? std::move(files).value() : std::vector<GeneratedFile>{};
}

// Every record of a UTF-8 CSV file, the header first.
std::vector<std::vector<std::string>> read_records(const std::filesystem::path& path) {
  std::ifstream input(path, std::ios::binary);
  EXPECT_TRUE(input.good()) << path;
  CsvReader reader(input);
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> fields;
  for (;;) {
    Result<bool> more = reader.next(fields);
    EXPECT_TRUE(more.ok()) << path << " line " << reader.next_line();
    if (!more.ok() || !*more) break;
    records.push_back(fields);
  }
  return records;
}

// Whole years from `birth` to `day`.
int age_years(Date birth, Date day) {
  int age = day.year() - birth.year();
  if (day.month() < birth.month() || (day.month() == birth.month() && day.day() < birth.day())) --age;
  return age;
}

const std::vector<std::string> file_names = {"person.police.csv", "person.civil.csv", "legal_person.market.csv",
                                             "legal_person.tax.csv", "legal_person.hrss.csv"};

// ---- Determinism ----

TEST(SyntheticTest, SameSeedGivesIdenticalBytes) {
  TemporaryDirectory first;
  TemporaryDirectory second;
  generate_or_fail(options_for(3000, 400), first.path());
  generate_or_fail(options_for(3000, 400), second.path());
  for (const std::string& name : file_names) {
    const std::string bytes = onewindow::testing::read_file(first.path() / name);
    EXPECT_FALSE(bytes.empty()) << name;
    EXPECT_EQ(bytes, onewindow::testing::read_file(second.path() / name)) << name;
  }
}

TEST(SyntheticTest, DifferentSeedGivesDifferentContent) {
  TemporaryDirectory first;
  TemporaryDirectory second;
  generate_or_fail(options_for(1000, 200, 1), first.path());
  generate_or_fail(options_for(1000, 200, 2), second.path());
  for (const std::string& name : file_names) {
    EXPECT_NE(onewindow::testing::read_file(first.path() / name), onewindow::testing::read_file(second.path() / name))
        << name;
  }
}

// The persons of a run are the first persons of a larger one, whatever the number of enterprises.
TEST(SyntheticTest, PersonsDoNotDependOnTheRestOfTheRun) {
  TemporaryDirectory small;
  TemporaryDirectory large;
  generate_or_fail(options_for(1000, 0), small.path());
  generate_or_fail(options_for(2000, 300), large.path());
  const auto small_rows = read_records(small.path() / "person.police.csv");
  const auto large_rows = read_records(large.path() / "person.police.csv");
  ASSERT_EQ(small_rows.size(), 1001u);
  ASSERT_EQ(large_rows.size(), 2001u);
  EXPECT_TRUE(std::equal(small_rows.begin(), small_rows.end(), large_rows.begin()));
}

// ---- Content ----

TEST(SyntheticTest, EveryValueIsValidAndEveryIdentifierUnique) {
  TemporaryDirectory directory;
  const std::int64_t persons = 20'000;
  const std::int64_t enterprises = 2'000;
  const std::vector<GeneratedFile> files = generate_or_fail(options_for(persons, enterprises), directory.path());
  ASSERT_EQ(files.size(), 5u);

  std::set<std::string> qingdao;
  for (const Division* division : divisions().children("370200")) qingdao.insert(division->code);
  ASSERT_EQ(qingdao.size(), 10u);

  // Persons.
  const auto police = read_records(directory.path() / "person.police.csv");
  ASSERT_EQ(police.size(), static_cast<std::size_t>(persons) + 1);
  EXPECT_EQ(police[0], (std::vector<std::string>{"id_number", "name", "sex", "birth_date", "ethnicity",
                                                 "household_address", "household_division", "current_address",
                                                 "phone"}));
  EXPECT_EQ(files[0].registry, "person");
  EXPECT_EQ(files[0].department, "police");
  EXPECT_EQ(files[0].path, directory.path() / "person.police.csv");
  EXPECT_EQ(files[0].rows, persons);

  const std::regex phone("1[3-9][0-9]{9}");
  std::set<std::string> id_numbers;
  std::map<std::string, std::string> name_of;
  std::map<std::string, Date> birth_of;
  int men = 0;
  int moved = 0;
  int han = 0;
  Date oldest = today;
  for (std::size_t row = 1; row < police.size(); ++row) {
    const std::vector<std::string>& fields = police[row];
    ASSERT_EQ(fields.size(), 9u) << "row " << row;
    const std::string& id_number = fields[0];
    ASSERT_TRUE(validate_citizen_id(id_number, today).ok()) << "row " << row;
    EXPECT_TRUE(id_numbers.insert(id_number).second) << "row " << row << " repeats an ID number";
    const Result<CitizenId> parsed = CitizenId::parse(id_number, today);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(qingdao.contains(std::string(parsed->division_code()))) << "row " << row;
    EXPECT_LT(parsed->birth_date(), today);
    EXPECT_EQ(parsed->birth_date().to_string(), fields[3]);
    EXPECT_NE(id_number.substr(14, 3), "000");
    // Sex from the sequence's parity.
    ASSERT_TRUE(fields[2] == "1" || fields[2] == "2") << "row " << row;
    EXPECT_EQ(fields[2] == "1", parsed->sex() == Sex::male) << "row " << row;
    if (fields[2] == "1") ++men;

    EXPECT_GE(fields[1].size(), 6u) << "row " << row;  // a surname and a given name, 3 bytes each
    EXPECT_LE(fields[1].size(), 12u) << "row " << row;
    ASSERT_EQ(fields[4].size(), 2u);
    EXPECT_GE(fields[4], "01");
    EXPECT_LE(fields[4], "56");
    if (fields[4] == "01") ++han;
    EXPECT_TRUE(fields[5].starts_with("山东省青岛市")) << fields[5];
    EXPECT_TRUE(fields[7].starts_with("山东省青岛市")) << fields[7];
    EXPECT_TRUE(qingdao.contains(fields[6])) << "row " << row;
    const Division* household = divisions().find(fields[6]);
    ASSERT_NE(household, nullptr);
    EXPECT_NE(fields[5].find(household->name), std::string::npos) << fields[5];
    if (fields[6] != parsed->division_code()) ++moved;
    EXPECT_TRUE(std::regex_match(fields[8], phone)) << fields[8];
    oldest = std::min(oldest, parsed->birth_date());
    name_of[id_number] = fields[1];
    birth_of.emplace(id_number, parsed->birth_date());
  }
  EXPECT_NEAR(men, persons / 2, persons / 20);
  EXPECT_GT(han, persons * 95 / 100);
  EXPECT_LT(han, persons);
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, persons / 4);
  EXPECT_LT(oldest, Date(1940, 1, 1));                 // ages spread up to 95
  EXPECT_GT(oldest, Date(today.year() - 97, 1, 1));

  const auto civil = read_records(directory.path() / "person.civil.csv");
  EXPECT_EQ(civil[0], (std::vector<std::string>{"id_number", "marital_status"}));
  EXPECT_EQ(files[1].rows + 1, static_cast<std::int64_t>(civil.size()));
  const std::set<std::string> marital_codes = {"10", "20", "30", "40", "90"};
  std::set<std::string> civil_ids;
  int adults = 0;
  for (const auto& [id_number, birth] : birth_of) {
    if (birth <= Date(today.year() - 18, today.month(), today.day()).plus_days(-1)) ++adults;
  }
  for (std::size_t row = 1; row < civil.size(); ++row) {
    ASSERT_EQ(civil[row].size(), 2u);
    EXPECT_TRUE(civil_ids.insert(civil[row][0]).second);
    ASSERT_TRUE(birth_of.contains(civil[row][0])) << "row " << row << " is no generated person";
    EXPECT_LE(birth_of[civil[row][0]], Date(today.year() - 18, today.month(), today.day())) << "a minor";
    EXPECT_TRUE(marital_codes.contains(civil[row][1])) << civil[row][1];
  }
  EXPECT_NEAR(static_cast<double>(civil.size() - 1), adults * 0.8, adults * 0.03);

  // Enterprises.
  const auto market = read_records(directory.path() / "legal_person.market.csv");
  ASSERT_EQ(market.size(), static_cast<std::size_t>(enterprises) + 1);
  EXPECT_EQ(market[0], (std::vector<std::string>{"uscc", "name", "entity_type", "legal_representative",
                                                 "legal_representative_id", "registered_capital", "business_scope",
                                                 "address", "division", "establishment_date", "status"}));
  const std::set<std::string> entity_types = {"limited_liability_company", "joint_stock_company", "branch",
                                              "sole_proprietorship",       "partnership",         "farmers_cooperative",
                                              "individual_business",       "foreign_invested"};
  const std::set<std::string> statuses = {"active", "revoked", "deregistered", "moved_out"};
  const std::regex decimal("[0-9]+\\.[0-9]{2}");
  std::set<std::string> codes;
  std::set<std::string> types_seen;
  int active = 0;
  for (std::size_t row = 1; row < market.size(); ++row) {
    const std::vector<std::string>& fields = market[row];
    ASSERT_EQ(fields.size(), 11u) << "row " << row;
    const std::string& uscc = fields[0];
    ASSERT_TRUE(validate_unified_social_credit_code(uscc).ok()) << uscc;
    EXPECT_TRUE(codes.insert(uscc).second) << uscc << " repeats";
    EXPECT_EQ(uscc[0], '9');
    EXPECT_EQ(uscc.substr(2, 6), fields[8]);
    EXPECT_TRUE(qingdao.contains(fields[8]));
    EXPECT_GE(fields[1].size(), 6u);
    EXPECT_TRUE(entity_types.contains(fields[2])) << fields[2];
    types_seen.insert(fields[2]);
    EXPECT_EQ(uscc[1], fields[2] == "individual_business" ? '2' : fields[2] == "farmers_cooperative" ? '3' : '1');
    if (fields[2] == "branch") {
      EXPECT_TRUE(fields[5].empty());
      EXPECT_TRUE(fields[1].ends_with("分公司")) << fields[1];
    } else {
      EXPECT_TRUE(std::regex_match(fields[5], decimal)) << fields[5];
    }
    // The representative is a generated adult, under the name the person has.
    ASSERT_TRUE(name_of.contains(fields[4])) << "row " << row << ": representative is no generated person";
    EXPECT_EQ(name_of[fields[4]], fields[3]);
    const Result<Date> established = Date::parse(fields[9]);
    ASSERT_TRUE(established.ok()) << fields[9];
    EXPECT_GE(*established, Date(1990, 1, 1));
    EXPECT_LT(*established, today);
    EXPECT_GE(age_years(birth_of[fields[4]], *established), 18) << "row " << row;
    EXPECT_TRUE(fields[7].starts_with("山东省青岛市")) << fields[7];
    EXPECT_FALSE(fields[6].empty());
    EXPECT_TRUE(statuses.contains(fields[10])) << fields[10];
    if (fields[10] == "active") ++active;
  }
  EXPECT_EQ(types_seen, entity_types);
  EXPECT_GT(active, enterprises * 3 / 4);

  const auto tax = read_records(directory.path() / "legal_person.tax.csv");
  EXPECT_EQ(tax[0], (std::vector<std::string>{"uscc", "tax_registration_status", "taxpayer_type"}));
  EXPECT_EQ(tax.size(), market.size());
  for (std::size_t row = 1; row < tax.size(); ++row) {
    EXPECT_TRUE(codes.contains(tax[row][0]));
    EXPECT_TRUE(tax[row][1] == "normal" || tax[row][1] == "abnormal" || tax[row][1] == "deregistered");
    EXPECT_TRUE(tax[row][2] == "general" || tax[row][2] == "small_scale");
  }

  const auto hrss = read_records(directory.path() / "legal_person.hrss.csv");
  EXPECT_EQ(hrss[0], (std::vector<std::string>{"uscc", "social_insurance_registration_date", "insured_employee_count"}));
  EXPECT_GT(hrss.size(), market.size() / 2);
  std::set<std::string> insured;
  for (std::size_t row = 1; row < hrss.size(); ++row) {
    EXPECT_TRUE(codes.contains(hrss[row][0]));
    EXPECT_TRUE(insured.insert(hrss[row][0]).second);
    const Result<Date> registered = Date::parse(hrss[row][1]);
    ASSERT_TRUE(registered.ok());
    EXPECT_LT(*registered, today);
    EXPECT_TRUE(std::regex_match(hrss[row][2], std::regex("0|[1-9][0-9]*"))) << hrss[row][2];
  }
}

TEST(SyntheticTest, RowsEndWithCarriageReturnAndLineFeed) {
  TemporaryDirectory directory;
  generate_or_fail(options_for(200, 50), directory.path());
  for (const std::string& name : file_names) {
    const std::string bytes = onewindow::testing::read_file(directory.path() / name);
    ASSERT_TRUE(bytes.ends_with("\r\n")) << name;
    std::size_t line_feeds = 0;
    for (std::size_t at = 0; at < bytes.size(); ++at) {
      if (bytes[at] != '\n') continue;
      ++line_feeds;
      EXPECT_TRUE(at > 0 && bytes[at - 1] == '\r') << name << " byte " << at;
    }
    EXPECT_EQ(line_feeds, read_records(directory.path() / name).size()) << name;
  }
}

TEST(SyntheticTest, WithoutPersonsRepresentativesHaveNamesButNoIdNumbers) {
  TemporaryDirectory directory;
  generate_or_fail(options_for(0, 100), directory.path());
  const auto market = read_records(directory.path() / "legal_person.market.csv");
  ASSERT_EQ(market.size(), 101u);
  for (std::size_t row = 1; row < market.size(); ++row) {
    EXPECT_FALSE(market[row][3].empty());
    EXPECT_TRUE(market[row][4].empty());
  }
  EXPECT_EQ(read_records(directory.path() / "person.police.csv").size(), 1u);  // the header only
}

TEST(SyntheticTest, OnlyTheFinalFilesRemain) {
  TemporaryDirectory directory;
  const std::filesystem::path target = directory.path() / "made" / "here";
  generate_or_fail(options_for(100, 10), target);
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(target)) names.insert(entry.path().filename().string());
  EXPECT_EQ(names, std::set<std::string>(file_names.begin(), file_names.end()));
}

// ---- Encoding ----

TEST(SyntheticTest, Gb18030OutputHoldsTheSameText) {
  TemporaryDirectory utf8;
  TemporaryDirectory gb18030;
  generate_or_fail(options_for(500, 100), utf8.path());
  Options options = options_for(500, 100);
  options.encoding = TextEncoding::gb18030;
  generate_or_fail(options, gb18030.path());
  for (const std::string& name : file_names) {
    const std::string text = onewindow::testing::read_file(utf8.path() / name);
    const std::string bytes = onewindow::testing::read_file(gb18030.path() / name);
    if (name != "legal_person.tax.csv" && name != "legal_person.hrss.csv" && name != "person.civil.csv") {
      EXPECT_NE(text, bytes) << name;  // these hold Chinese text
    }
    const Result<std::string> converted = to_utf8(bytes, TextEncoding::gb18030);
    ASSERT_TRUE(converted.ok()) << name;
    EXPECT_EQ(*converted, text) << name;
  }
}

// ---- Progress ----

TEST(SyntheticTest, ProgressIsReportedAboutAHundredTimesAndEndsComplete) {
  TemporaryDirectory directory;
  std::vector<Progress> reports;
  Result<std::vector<GeneratedFile>> files =
      generate(options_for(12'345, 678), divisions(), directory.path(),
               [&](const Progress& progress) { reports.push_back(progress); });
  ASSERT_TRUE(files.ok());
  ASSERT_FALSE(reports.empty());
  EXPECT_LE(reports.size(), 101u);
  EXPECT_GE(reports.size(), 50u);
  for (std::size_t at = 1; at < reports.size(); ++at) EXPECT_GT(reports[at].done, reports[at - 1].done);
  EXPECT_EQ(reports.back().done, 12'345 + 678);
  EXPECT_EQ(reports.back().total, 12'345 + 678);
}

// ---- Errors ----

TEST(SyntheticTest, NegativeCountsAreRefused) {
  TemporaryDirectory directory;
  Result<std::vector<GeneratedFile>> persons = generate(options_for(-1, 0), divisions(), directory.path());
  ASSERT_FALSE(persons.ok());
  EXPECT_EQ(persons.error().code, "synthetic.bad_count");
  EXPECT_EQ(persons.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(persons.error().details["field"], "persons");

  Result<std::vector<GeneratedFile>> enterprises = generate(options_for(0, -5), divisions(), directory.path());
  ASSERT_FALSE(enterprises.ok());
  EXPECT_EQ(enterprises.error().code, "synthetic.bad_count");
  EXPECT_EQ(enterprises.error().details["field"], "enterprises");
  EXPECT_TRUE(std::filesystem::is_empty(directory.path()));
}

TEST(SyntheticTest, TooEarlyTodayIsRefused) {
  TemporaryDirectory directory;
  Options options = options_for(10, 10);
  options.today = Date(1990, 1, 1);
  Result<std::vector<GeneratedFile>> files = generate(options, divisions(), directory.path());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.error().code, "synthetic.bad_today");
}

TEST(SyntheticTest, AnUnwritableDirectoryIsAnErrorNamingThePath) {
  TemporaryDirectory directory;
  // A path under a plain file cannot become a directory, whoever runs the test.
  const std::filesystem::path blocker = directory.write("blocker", "not a directory");
  const std::filesystem::path target = blocker / "out";
  Result<std::vector<GeneratedFile>> files = generate(options_for(10, 10), divisions(), target);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.error().code, "synthetic.write_failed");
  EXPECT_EQ(files.error().kind, ErrorKind::unavailable);
  EXPECT_NE(files.error().message.find(blocker.string()), std::string::npos) << files.error().message;
  EXPECT_TRUE(files.error().details.contains("path"));
}

TEST(SyntheticTest, DivisionsWithoutQingdaoAreRefused) {
  TemporaryDirectory directory;
  const std::filesystem::path file =
      directory.write("divisions.yaml", "divisions:\n  - {code: \"110000\", name: 北京市, name_en: Beijing}\n");
  Result<DivisionCodes> other = DivisionCodes::load(file);
  ASSERT_TRUE(other.ok()) << other.error().message;
  Result<std::vector<GeneratedFile>> files = generate(options_for(10, 10), *other, directory.path() / "out");
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.error().code, "synthetic.no_divisions");
}

}  // namespace
}  // namespace onewindow::synthetic
