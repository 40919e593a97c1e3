#include "http_receiver.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace onewindow::testing {

HttpReceiver::HttpReceiver(int port, Mode mode) : mode_(mode) {
  socket_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  ::setsockopt(socket_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(socket_, 16) != 0) {
    ADD_FAILURE() << "the receiver cannot listen on port " << port << ": " << std::strerror(errno);
    return;
  }
  thread_ = std::thread([this] { serve(); });
}

HttpReceiver::~HttpReceiver() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (socket_ >= 0) ::close(socket_);
}

std::vector<std::string> HttpReceiver::bodies() const {
  std::lock_guard lock(mutex_);
  return bodies_;
}

std::vector<std::string> HttpReceiver::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void HttpReceiver::serve() {
  while (!stop_) {
    pollfd waiting{socket_, POLLIN, 0};
    if (::poll(&waiting, 1, 50) <= 0) continue;
    int connection = ::accept(socket_, nullptr, nullptr);
    if (connection < 0) continue;
    answer(connection);
    ::close(connection);
  }
}

void HttpReceiver::answer(int connection) {
  // The head, then as many body bytes as Content-Length says; give up on a silent client.
  std::string received;
  std::size_t body_start = std::string::npos;
  std::size_t length = 0;
  char buffer[8192];
  while (!stop_) {
    if (body_start != std::string::npos && received.size() >= body_start + length) break;
    pollfd waiting{connection, POLLIN, 0};
    if (::poll(&waiting, 1, 2000) <= 0) return;
    ssize_t got = ::recv(connection, buffer, sizeof buffer, 0);
    if (got <= 0) return;
    received.append(buffer, static_cast<std::size_t>(got));
    if (body_start == std::string::npos) {
      auto end = received.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_start = end + 4;
      std::string head = received.substr(0, end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto header = head.find("content-length:");
      if (header != std::string::npos) length = std::stoul(head.substr(header + 15));
    }
  }
  if (body_start == std::string::npos) return;
  std::string body = received.substr(body_start, length);
  {
    std::lock_guard lock(mutex_);
    bodies_.push_back(body);
  }
  ++requests_;
  for (int waited = 0; waited < delay_ms_ && !stop_; waited += 10) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Mode mode = mode_;
  if (mode == Mode::hang) {
    while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return;
  }
  std::string reply = mode == Mode::accept ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                                           : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
  // The sender may be gone (a killed server): no SIGPIPE for that.
  bool sent = ::send(connection, reply.data(), reply.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(reply.size());
  if (sent && mode == Mode::accept) {
    std::lock_guard lock(mutex_);
    accepted_.push_back(body);
  }
}

}  // namespace onewindow::testing
