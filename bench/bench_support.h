// What the benchmark programs share: stop on an error (a benchmark that cannot set up must not
// print a figure), and scratch directories removed at exit.
#pragma once

#include "base/result.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace onewindow::bench {

template <typename T>
T or_die(Result<T> result) {
  if (!result.ok()) {
    std::fprintf(stderr, "onewindow_bench: %s: %s\n", result.error().code.c_str(), result.error().message.c_str());
    std::abort();
  }
  return std::move(result).value();
}

inline void or_die(const Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "onewindow_bench: %s: %s\n", status.error().code.c_str(), status.error().message.c_str());
    std::abort();
  }
}

// A directory under the system's temporary directory, removed when it goes out of scope.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("onewindow-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A loopback TCP port that was free a moment ago, for a server the benchmark starts.
inline int free_port() {
  int socket_handle = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(socket_handle, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(socket_handle, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "onewindow_bench: no free port\n");
    std::abort();
  }
  ::close(socket_handle);
  return ntohs(address.sin_port);
}

}  // namespace onewindow::bench
