#include "fls/service/client.h"

#include "fls/service/protocol.h"

namespace fls::service {

ServiceClient::ServiceClient(std::string endpoint, CurveClientKeys curve)
    : endpoint_(std::move(endpoint)), curve_(std::move(curve)) {}

Status ServiceClient::Connect() {
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  socket_->set(zmq::sockopt::linger, 0);
  FLS_RETURN_IF_ERROR(ApplyCurveClient(*socket_, curve_));
  try {
    socket_->connect(endpoint_);
  } catch (const zmq::error_t& e) {
    socket_.reset();
    return Status::InvalidArgument("cannot connect to '" + endpoint_ + "': " + e.what());
  }
  return Status::Ok();
}

Status ServiceClient::Call(const std::string& verb, const nlohmann::json& body, int timeout_ms,
                           nlohmann::json* reply) {
  if (!socket_) FLS_RETURN_IF_ERROR(Connect());
  if (!SendFrames(*socket_, {"", std::string(kClientProtocol), verb, body.dump()}))
    return Status::Unavailable("cannot send to " + endpoint_);
  zmq::pollitem_t item = {static_cast<void*>(*socket_), 0, ZMQ_POLLIN, 0};
  PollItems(&item, 1, timeout_ms);
  std::vector<std::string> frames;
  if (!(item.revents & ZMQ_POLLIN) || !RecvFrames(*socket_, &frames)) {
    socket_.reset();  // lazy pirate: never read a stale reply later
    return Status::Unavailable("no reply from " + endpoint_ + " within " +
                               std::to_string(timeout_ms) +
                               " ms (is `fls serve` running there, with these CurveZMQ keys?)");
  }
  if (frames.size() != 4 || !frames[0].empty() || frames[1] != kClientProtocol)
    return Status::Corruption("malformed reply from " + endpoint_);
  nlohmann::json j = nlohmann::json::parse(frames[3], nullptr, false);
  if (j.is_discarded()) return Status::Corruption("reply from " + endpoint_ + " is not JSON");
  if (frames[2] == "OK") {
    *reply = std::move(j);
    return Status::Ok();
  }
  const std::string code = j.value("code", std::string("?"));
  const std::string msg = code + ": " + j.value("message", std::string());
  *reply = std::move(j);
  if (code == errc::kNotFound) return Status::NotFound(msg);
  if (code == errc::kInternal) return Status::Internal(msg);
  return Status::InvalidArgument(msg);
}

}  // namespace fls::service
