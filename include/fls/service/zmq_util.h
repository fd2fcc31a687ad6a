// Small helpers over cppzmq shared by the broker, workers and clients:
// multipart send/receive as strings, and CurveZMQ settings.
// Thread-safety: as ZeroMQ's: a socket belongs to one thread at a time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "fls/status.h"

namespace fls::service {

// Client-side CurveZMQ keys (Z85). An empty server key means no encryption.
// With a server key but no own keys, an ephemeral key pair is made.
struct CurveClientKeys {
  std::string server_public_key;
  std::string public_key;
  std::string secret_key;
};

// Where a received message came from, as libzmq knows it.
struct MessageSource {
  std::string peer_address;  // the "Peer-Address" property (TCP: the IP), or ""
  int fd = -1;               // the connection's descriptor (ZMQ_SRCFD), or -1
};

// Receives every frame of one message (non-blocking when `dontwait`).
// False when nothing was waiting. `source` (optional) gets where it came from.
bool RecvFrames(zmq::socket_t& socket, std::vector<std::string>* frames, bool dontwait = true,
                MessageSource* source = nullptr);

// `text` made safe for one log line: control characters and bytes that are
// not printable ASCII become \xNN, and it is cut at `max` bytes ("..."), so
// that nothing a client sends can forge a line or drive a terminal.
std::string LogSafe(std::string_view text, std::size_t max = 240);
// Sends the frames as one message. False when ZeroMQ refused (e.g. the
// ROUTER_MANDATORY peer is gone: EHOSTUNREACH), with `err` set.
bool SendFrames(zmq::socket_t& socket, const std::vector<std::string>& frames, int* err = nullptr);

// zmq::poll that returns (with no events) when a signal interrupts it.
void PollItems(zmq::pollitem_t* items, std::size_t count, long timeout_ms);

// Applies client-side Curve options; InvalidArgument for a malformed key.
Status ApplyCurveClient(zmq::socket_t& socket, const CurveClientKeys& keys);

// A fresh Curve key pair (zmq_curve_keypair), Z85.
Status GenerateCurveKeyPair(std::string* public_key, std::string* secret_key);

// Reads "public_key: ..." / "secret_key: ..." lines (the output of `fls keygen`).
Status LoadCurveKeyFile(const std::string& path, std::string* public_key, std::string* secret_key);

}  // namespace fls::service
