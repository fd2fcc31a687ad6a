// ClientMonitor: watches the connections of the broker's client ROUTER
// (zmq_socket_monitor) so that a refusal libzmq makes on its own still leaves
// a log line naming the peer.
//
// Why it exists: the ROUTER sets ZMQ_MAXMSGSIZE (4 x max_message_bytes).
// libzmq checks a frame's size when its header arrives and, when it is above
// that, closes the connection at once: the message never reaches the broker,
// so the broker cannot answer (the peer, a DEALER, reconnects and waits for a
// reply that never comes) and, without this monitor, nothing was logged
// either. libzmq's events do not say why a connection closed (an oversized
// frame and a peer that simply left both give ZMQ_EVENT_DISCONNECTED), so
// the monitor records for each connection (by descriptor) its peer address,
// the broker counts the requests each descriptor delivers (ZMQ_SRCFD), and
// a connection that closes without having delivered a single request is
// logged as a warning (it either sent a frame above the cap or left before
// sending anything); the others at debug. The broker may read a request
// before the monitor has seen its connection accepted (a loaded machine) or
// after it has seen it closed (a client that sent and left): such requests
// wait, by descriptor, to be counted when the event comes or when the closed
// connection is judged.
//
// Thread-safety: Start, Note, PeerOf and LogClosed are called by the broker
// thread; the monitor's own thread reads the events; one mutex between them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "fls/status.h"

namespace fls::service {

class ClientMonitor {
 public:
  ClientMonitor() = default;
  ~ClientMonitor();

  // Starts monitoring `router` (owned by the calling thread); `frame_cap` is
  // its ZMQ_MAXMSGSIZE, for the log line.
  Status Start(zmq::context_t& context, zmq::socket_t& router, std::uint64_t frame_cap);
  // The broker received a request on descriptor `fd`.
  void Note(int fd);
  // "IP:PORT" of the connection on descriptor `fd` (asked of the descriptor
  // itself while it is open, else as recorded), or "" when unknown.
  std::string PeerOf(int fd);
  // Logs the connections that closed more than a moment ago (the moment lets
  // the broker read what they sent before they closed).
  void LogClosed();

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    std::string peer;
    std::uint64_t requests = 0;
    Clock::time_point closed;
  };
  void Run(zmq::socket_t* pair);

  std::uint64_t frame_cap_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<int, Connection> open_;  // by descriptor
  std::deque<std::pair<int, Connection>> closed_;
  std::map<int, std::uint64_t> unmatched_;  // requests on descriptors not in open_ (yet)
};

}  // namespace fls::service
