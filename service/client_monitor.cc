#include "client_monitor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace fls::service {
namespace {

// "IP:PORT" of a TCP peer ("" for anything else, or a descriptor gone).
std::string PeerName(int fd) {
  sockaddr_storage a = {};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "";
  char ip[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return "";
}

constexpr auto kGrace = std::chrono::milliseconds(300);

}  // namespace

ClientMonitor::~ClientMonitor() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Status ClientMonitor::Start(zmq::context_t& context, zmq::socket_t& router,
                            std::uint64_t frame_cap) {
  frame_cap_ = frame_cap;
  const std::string endpoint =
      "inproc://fls-client-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  if (zmq_socket_monitor(static_cast<void*>(router), endpoint.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
    return Status::Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
  // The PAIR connects here and is handed to the thread, which alone uses it
  // from then on (the thread start is the memory barrier ZeroMQ asks for).
  auto pair = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pair);
  pair->set(zmq::sockopt::linger, 0);
  pair->set(zmq::sockopt::rcvtimeo, 100);
  pair->connect(endpoint);
  thread_ = std::thread([this, p = pair.release()] {
    std::unique_ptr<zmq::socket_t> owned(p);
    Run(owned.get());
  });
  return Status::Ok();
}

void ClientMonitor::Run(zmq::socket_t* pair) {
  while (!stop_.load()) {
    zmq::message_t event, address;
    try {
      if (!pair->recv(event)) continue;  // timeout: look at stop_ again
      if (event.more()) (void)pair->recv(address);
    } catch (const zmq::error_t&) {
      return;  // context terminating
    }
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::int32_t value = 0;
    std::memcpy(&id, event.data(), 2);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
    // At ACCEPTED the descriptor is live (libzmq has only just accepted it;
    // no frame can arrive before the ZMTP handshake has gone both ways).
    const std::string peer = id == ZMQ_EVENT_ACCEPTED ? PeerName(value) : "";
    std::lock_guard<std::mutex> lock(mu_);
    if (id == ZMQ_EVENT_ACCEPTED) {
      Connection c;
      c.peer = peer;
      auto early = unmatched_.find(value);  // requests read before this event
      if (early != unmatched_.end()) {
        c.requests = early->second;
        unmatched_.erase(early);
      }
      open_[value] = std::move(c);
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      auto it = open_.find(value);
      Connection c = it != open_.end() ? it->second : Connection();
      if (it != open_.end()) open_.erase(it);
      c.closed = Clock::now();
      closed_.emplace_back(value, std::move(c));
    }
  }
}

void ClientMonitor::Note(int fd) {
  if (fd < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(fd);
  if (it != open_.end())
    ++it->second.requests;
  else
    ++unmatched_[fd];
}

std::string ClientMonitor::PeerOf(int fd) {
  // The request being answered came over this descriptor a moment ago, so it
  // is almost always still that connection's.
  std::string peer = fd >= 0 ? PeerName(fd) : "";
  if (!peer.empty()) return peer;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(fd);
  if (it != open_.end()) return it->second.peer;
  for (auto c = closed_.rbegin(); c != closed_.rend(); ++c)
    if (c->first == fd) return c->second.peer;
  return "";
}

void ClientMonitor::LogClosed() {
  std::deque<std::pair<int, Connection>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    while (!closed_.empty() && now - closed_.front().second.closed > kGrace) {
      auto& [fd, c] = closed_.front();
      // Requests read after the connection was seen closed (sent, then left).
      auto late = unmatched_.find(fd);
      if (late != unmatched_.end() && open_.count(fd) == 0) {
        c.requests += late->second;
        unmatched_.erase(late);
      }
      due.push_back(std::move(closed_.front()));
      closed_.pop_front();
    }
  }
  for (const auto& [fd, c] : due) {
    const std::string peer = c.peer.empty() ? "an unknown peer" : c.peer;
    if (c.requests > 0) {
      spdlog::debug("client {} disconnected after {} request(s)", peer, c.requests);
    } else {
      spdlog::warn(
          "client {} disconnected without a complete request: it sent a frame above {} bytes "
          "(4 x service.max_message_bytes; libzmq drops such a connection before the message "
          "reaches the service, so it got no reply), or it left before sending one",
          peer, frame_cap_);
    }
  }
}

}  // namespace fls::service
