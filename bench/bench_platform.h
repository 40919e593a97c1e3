// What the benchmarks of a whole platform share: its settings over a scratch directory, generated
// persons imported into it, officials logged in, and GETs over one keep-alive connection.
#pragma once

#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "base/csv.h"
#include "bench_support.h"
#include "cli/cli.h"
#include "identity/identity.h"
#include "synthetic/synthetic.h"

namespace onewindow::bench {

inline cli::Settings bench_settings(const std::filesystem::path& data_directory) {
  cli::Settings settings = or_die(cli::load_settings(std::nullopt, [](const char*) -> const char* { return nullptr; }, {}));
  settings.data_dir = data_directory.string();
  settings.config_dir = (std::filesystem::path(ONEWINDOW_SOURCE_DIR) / "config").string();
  settings.http.access_log = false;
  settings.log.level = "warn";
  return settings;
}

inline std::vector<std::string> read_keys(const std::filesystem::path& file) {
  std::ifstream input(file, std::ios::binary);
  CsvReader reader(input);
  std::vector<std::string> fields;
  std::vector<std::string> keys;
  or_die(reader.next(fields));  // the header
  while (or_die(reader.next(fields))) keys.push_back(fields[0]);
  return keys;
}

// Generates `count` persons (seed 7) and imports them as public security; returns their keys.
inline std::vector<std::string> import_persons(cli::Platform& platform, std::int64_t count, const std::filesystem::path& scratch) {
  auto divisions = or_die(DivisionCodes::load(std::filesystem::path(platform.settings.config_dir) / "divisions.yaml"));
  auto files = or_die(synthetic::generate({count, 0, 7, Date(2026, 1, 1)}, divisions, scratch / "csv"));
  registry::ImportRequest request{"person", files[0].path, TextEncoding::utf8, "bench", {"bench", "police"}};
  auto begun = or_die(platform.imports->begin(request));
  auto finished = or_die(platform.imports->run(begun.id));
  if (finished.rows_created != count) std::abort();
  return read_keys(files[0].path);
}

// An official of the department, logged in: the header that carries the bearer token.
inline std::string logged_in_official(cli::Platform& platform, const std::string& username, const std::string& department_key) {
  auto department = or_die(platform.directory->department_by_key(department_key));
  auto created = or_die(platform.directory->create_account(
      {identity::AccountKind::official, username, "bench password 1", "办事员", department.id, {}, "", "", ""}, nullptr));
  std::string code = or_die(identity::Directory::totp_code(created.totp_secret, std::chrono::system_clock::now()));
  auto login = or_die(platform.directory->login({username, "bench password 1", code, "127.0.0.1", identity::SessionKind::bearer}));
  return "Authorization: Bearer " + login.token;
}

// A platform on SQLite in a scratch directory holding `count` generated persons, served over
// HTTP on a free loopback port; what the read benchmarks start from.
struct ServedPersons {
  ScratchDirectory directory;
  std::unique_ptr<cli::Platform> platform;
  std::unique_ptr<api::Server> server;
  std::vector<std::string> keys;
  std::string base_url;

  ServedPersons(const std::string& name, std::int64_t count) : directory(name) {
    std::fprintf(stderr, "%s: importing %lld generated persons...\n", name.c_str(), static_cast<long long>(count));
    cli::Settings settings = bench_settings(directory.path() / "data");
    settings.listen = "127.0.0.1:" + std::to_string(free_port());
    platform = or_die(cli::build_platform(settings, false));
    keys = import_persons(*platform, count, directory.path());
    server = std::make_unique<api::Server>(platform->router, platform->metrics, or_die(cli::server_options(settings)));
    or_die(server->start());
    base_url = "http://" + settings.listen;
  }
  ~ServedPersons() {
    if (server) server->drain_and_stop();
  }
  ServedPersons(const ServedPersons&) = delete;
  ServedPersons& operator=(const ServedPersons&) = delete;
};

// The registry's own point reads of the persons, in-process, by their authority (public security).
inline void registry_point_reads(benchmark::State& state, ServedPersons& persons) {
  std::size_t next = 0;
  for (auto _ : state) {
    auto record = persons.platform->registries->read("person", persons.keys[next++ % persons.keys.size()], {"police"});
    if (!record.ok()) state.SkipWithError(record.error().message.c_str());
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(state.iterations());
}

// One keep-alive connection that GETs with a header and reports whether the answer was 200. The
// bodies are not kept: benchmarks beside each other pay the same for receiving them.
class HttpConnection {
 public:
  explicit HttpConnection(const std::string& header)
      : curl_(curl_easy_init()), headers_(curl_slist_append(nullptr, header.c_str())) {
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t size, std::size_t count, void*) { return size * count; });
  }
  ~HttpConnection() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Empty when the answer was 200, else what went wrong.
  std::string get(const std::string& url) {
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    if (curl_easy_perform(curl_) != CURLE_OK) return "request failed";
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    return status == 200 ? std::string() : "status " + std::to_string(status);
  }

 private:
  CURL* curl_;
  curl_slist* headers_;
};

// GETs of url(i) over one keep-alive connection with the header, each of which must answer 200.
inline void http_gets(benchmark::State& state, const std::string& header, const std::function<std::string(std::size_t)>& url) {
  HttpConnection connection(header);
  std::size_t next = 0;
  for (auto _ : state) {
    std::string failed = connection.get(url(next++));
    if (!failed.empty()) state.SkipWithError(failed.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace onewindow::bench
