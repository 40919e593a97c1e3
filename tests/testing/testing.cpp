#include "testing.h"

#include "store/store.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <spawn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

extern char** environ;

namespace onewindow::testing {

namespace {
std::string random_suffix() {
  static std::atomic<unsigned> counter{0};
  std::random_device device;
  return std::to_string(::getpid()) + "_" + std::to_string(device() % 1000000) + "_" +
         std::to_string(counter++);
}
}  // namespace

TemporaryDirectory::TemporaryDirectory()
    : path_(std::filesystem::temp_directory_path() / ("onewindow_test_" + random_suffix())) {
  std::filesystem::create_directories(path_);
}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TemporaryDirectory::write(const std::string& name, const std::string& text) const {
  std::filesystem::path file = path_ / name;
  write_file(file, text);
  return file;
}

std::filesystem::path source_dir() { return ONEWINDOW_SOURCE_DIR; }

std::filesystem::path config_dir() {
  if (const char* configured = std::getenv("ONEWINDOW_CONFIG_DIR")) return configured;
  return source_dir() / "config";
}

std::filesystem::path onewindow_binary() { return ONEWINDOW_BINARY; }

void write_file(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  std::size_t read = 0;
  while ((read = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), read);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

int start_process(const std::vector<std::string>& arguments, const std::filesystem::path& log) {
  std::vector<std::string> copies = arguments;
  std::vector<char*> argv;
  for (auto& argument : copies) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int started = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(started, 0) << "cannot start " << arguments.at(0);
  return started == 0 ? pid : -1;
}

int free_port() {
  int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length);
  int port = ntohs(address.sin_port);
  ::close(socket_fd);
  return port;
}

std::string postgres_url() {
  const char* url = std::getenv("ONEWINDOW_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << "ONEWINDOW_TEST_POSTGRES_URL is not set: run the tests with scripts/test, "
                     "which starts a throwaway PostgreSQL server";
    return "postgresql://127.0.0.1:1/not_configured";
  }
  return url;
}

namespace {
Status run_admin(const std::string& sql) {
  store::Options options;
  options.url = postgres_url();
  options.pool_size = 1;
  auto database = store::Database::open(options);
  if (!database.ok()) return database.take_error();
  return (*database)->write([&](store::Session& session) { return session.execute_script(sql); });
}
}  // namespace

PostgresSchema::PostgresSchema() : name_("test_" + random_suffix()) {
  std::string base = postgres_url();
  url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + name_;
  Status created = run_admin("CREATE SCHEMA " + name_);
  EXPECT_TRUE(created.ok()) << created.error().message;
}

PostgresSchema::~PostgresSchema() {
  Status dropped = run_admin("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  EXPECT_TRUE(dropped.ok()) << dropped.error().message;
}

TestDatabase::TestDatabase(store::Backend backend, const std::vector<store::Migration>& migrations, int pool_size) {
  if (backend == store::Backend::sqlite) {
    options_.data_directory = directory_.path().string();
  } else {
    schema_ = std::make_unique<PostgresSchema>();
    options_.url = schema_->url();
  }
  options_.pool_size = pool_size;
  auto opened = store::Database::open(options_);
  if (!opened.ok()) {
    ADD_FAILURE() << "cannot open the test database: " << opened.error().message;
    return;
  }
  database_ = std::move(opened).value();
  auto migrated = database_->migrate(migrations);
  if (!migrated.ok()) ADD_FAILURE() << "cannot migrate the test database: " << migrated.error().message;
}

TestDatabase::~TestDatabase() {
  if (database_) database_->close();
}

void TestDatabase::reopen() {
  if (database_) database_->close();
  auto opened = store::Database::open(options_);
  if (!opened.ok()) {
    ADD_FAILURE() << "cannot reopen the test database: " << opened.error().message;
    database_.reset();
    return;
  }
  database_ = std::move(opened).value();
}

namespace {
std::size_t append_body(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}
std::size_t append_header(char* data, std::size_t size, std::size_t count, void* target) {
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    (*static_cast<std::map<std::string, std::string>*>(target))[name] = value;
  }
  return size * count;
}
}  // namespace

HttpResponse http_request(const std::string& method, const std::string& url, const std::string& body,
                          const std::map<std::string, std::string>& headers) {
  HttpResponse response;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_slist* header_list = nullptr;
  for (const auto& [name, value] : headers) header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  // curl adds "Expect: 100-continue" to large bodies; the server answers directly instead.
  header_list = curl_slist_append(header_list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  else response.body = curl_easy_strerror(code);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  return response;
}

}  // namespace onewindow::testing
