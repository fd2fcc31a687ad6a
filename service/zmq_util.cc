#include "fls/service/zmq_util.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace fls::service {

bool RecvFrames(zmq::socket_t& socket, std::vector<std::string>* frames, bool dontwait,
                MessageSource* source) {
  frames->clear();
  while (true) {
    zmq::message_t msg;
    zmq::recv_result_t r;
    try {
      r = socket.recv(
          msg, dontwait && frames->empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none);
    } catch (const zmq::error_t&) {
      return !frames->empty();
    }
    if (!r) return false;
    if (source != nullptr) {
      if (frames->empty()) *source = MessageSource();
      // A ROUTER makes the identity frame itself: only the frames that came
      // over the wire carry the connection's properties.
      const int fd = zmq_msg_get(msg.handle(), ZMQ_SRCFD);
      if (source->fd < 0 && fd >= 0) {
        source->fd = fd;
        const char* peer = zmq_msg_gets(msg.handle(), "Peer-Address");
        source->peer_address = peer != nullptr ? peer : "";
      }
    }
    frames->emplace_back(static_cast<const char*>(msg.data()), msg.size());
    if (!msg.more()) return true;
  }
}

bool SendFrames(zmq::socket_t& socket, const std::vector<std::string>& frames, int* err) {
  try {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const bool more = i + 1 < frames.size();
      auto r = socket.send(
          zmq::buffer(frames[i]),
          (more ? zmq::send_flags::sndmore : zmq::send_flags::none) | zmq::send_flags::dontwait);
      if (!r) {
        if (err) *err = EAGAIN;
        return false;
      }
    }
  } catch (const zmq::error_t& e) {
    if (err) *err = e.num();
    return false;
  }
  return true;
}

std::string LogSafe(std::string_view text, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

void PollItems(zmq::pollitem_t* items, std::size_t count, long timeout_ms) {
  try {
    zmq::poll(items, count, std::chrono::milliseconds(timeout_ms));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    for (std::size_t i = 0; i < count; ++i) items[i].revents = 0;
  }
}

Status ApplyCurveClient(zmq::socket_t& socket, const CurveClientKeys& keys) {
  if (keys.server_public_key.empty()) return Status::Ok();
  std::string pub = keys.public_key, sec = keys.secret_key;
  if (pub.empty() || sec.empty()) FLS_RETURN_IF_ERROR(GenerateCurveKeyPair(&pub, &sec));
  for (const std::string* k :
       std::initializer_list<const std::string*>{&keys.server_public_key, &pub, &sec})
    if (k->size() != 40)
      return Status::InvalidArgument("CurveZMQ key '" + *k + "' is not 40 Z85 characters");
  try {
    socket.set(zmq::sockopt::curve_serverkey, keys.server_public_key);
    socket.set(zmq::sockopt::curve_publickey, pub);
    socket.set(zmq::sockopt::curve_secretkey, sec);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument(std::string("CurveZMQ keys rejected: ") + e.what());
  }
  return Status::Ok();
}

Status GenerateCurveKeyPair(std::string* public_key, std::string* secret_key) {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    return Status::Unavailable("zmq_curve_keypair failed: libzmq built without CURVE support");
  *public_key = pub;
  *secret_key = sec;
  return Status::Ok();
}

Status LoadCurveKeyFile(const std::string& path, std::string* public_key, std::string* secret_key) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open key file '" + path + "'");
  std::string line;
  public_key->clear();
  secret_key->clear();
  while (std::getline(in, line)) {
    auto take = [&](const std::string& key, std::string* out) {
      if (line.rfind(key + ":", 0) != 0) return;
      std::string v = line.substr(key.size() + 1);
      const auto b = v.find_first_not_of(" \t\"'");
      const auto e = v.find_last_not_of(" \t\"'\r");
      *out = b == std::string::npos ? "" : v.substr(b, e - b + 1);
    };
    take("public_key", public_key);
    take("secret_key", secret_key);
  }
  if (public_key->size() != 40 || secret_key->size() != 40)
    return Status::InvalidArgument("key file '" + path +
                                   "' needs 'public_key:' and 'secret_key:' lines of 40 Z85 "
                                   "characters (from `fls keygen`)");
  return Status::Ok();
}

}  // namespace fls::service
