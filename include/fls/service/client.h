// ServiceClient: a synchronous client of the job service (the C++ twin of
// service/python/fls_client.py). Each Call sends one request and waits for
// its reply; on a timeout the socket is closed and reopened (ZeroMQ's "lazy
// pirate"), so a late reply can never be taken for the next request's.
// Thread-safety: one client per thread.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "fls/service/zmq_util.h"
#include "fls/status.h"

namespace fls::service {

class ServiceClient {
 public:
  ServiceClient(std::string endpoint, CurveClientKeys curve = {});

  // Ok with the reply body for an OK reply. An ERROR reply becomes a Status
  // carrying "code: message" (InvalidArgument for request errors, NotFound
  // for an unknown job); no reply within timeout_ms is Unavailable.
  Status Call(const std::string& verb, const nlohmann::json& body, int timeout_ms,
              nlohmann::json* reply);

  const std::string& endpoint() const { return endpoint_; }

 private:
  Status Connect();

  std::string endpoint_;
  CurveClientKeys curve_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> socket_;
};

}  // namespace fls::service
