// An HTTP endpoint on 127.0.0.1 for the push tests: it takes POSTs and answers them as told,
// keeping the body of each request it read. One connection at a time is read; "Connection:
// close" after each answer, which is what the platform's sender expects anyway.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace onewindow::testing {

class HttpReceiver {
 public:
  enum class Mode {
    accept,  // 200
    refuse,  // 503
    hang,    // read the request and never answer, until the receiver stops
  };

  // Listens on the port at once (ADD_FAILURE when it cannot).
  explicit HttpReceiver(int port, Mode mode = Mode::accept);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  void set_mode(Mode mode) { mode_ = mode; }
  // How long to wait, after reading a request, before answering it.
  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = static_cast<int>(delay.count()); }

  // Every body read, in order, whatever the answer was.
  std::vector<std::string> bodies() const;
  // The bodies of the requests answered 200.
  std::vector<std::string> accepted() const;
  int requests() const { return requests_; }

 private:
  void serve();
  void answer(int connection);

  int socket_ = -1;
  std::atomic<Mode> mode_;
  std::atomic<int> delay_ms_{0};
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
  std::vector<std::string> accepted_;
  std::thread thread_;
};

}  // namespace onewindow::testing
