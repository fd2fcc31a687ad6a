// Small helpers over cppzmq shared by the broker, workers and clients:
// multipart send/receive as strings, and CurveZMQ settings.
// Thread-safety: as ZeroMQ's: a socket belongs to one thread at a time.
#pragma once

#include <string>
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

// Receives every frame of one message (non-blocking when `dontwait`).
// False when nothing was waiting.
bool RecvFrames(zmq::socket_t& socket, std::vector<std::string>* frames, bool dontwait = true);
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
