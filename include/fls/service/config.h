// ServiceConfig: the settings of `fls serve`, read from a YAML file.
//
// Every key is checked when the file is loaded: an unknown key, a value of the
// wrong type or out of range fails the load with "FILE:LINE:COL: key 'a.b': why",
// so a bad config stops the service at start rather than at the first job.
// Relative paths in the file are taken relative to the working directory of
// the process that loads it (the README starts the service from the checkout).
// Thread-safety: a loaded config is an immutable value; share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fls/status.h"

namespace fls::service {

struct TargetConfig {
  std::string path;
  std::string domain;
};

// What a worker needs to execute jobs against the store. The broker sends it
// inside every REQUEST, so remote workers need no config file of their own.
struct StoreConfig {
  std::vector<TargetConfig> targets;
  int k = 10;
  int m = 4;
  std::uint64_t stripe_bytes = 10u << 20;
  std::string matrix = "cauchy";
  std::string backend = "auto";
  // Batching (design.md section 4). batch_max_files caps the files of one
  // pack. A worker runs up to batch_files_in_flight archive pipelines (files
  // or packs) at once over one coalescing backend (fls/batching_backend.h):
  // their stripe batches are merged into backend calls of up to
  // batch_max_bytes input bytes, waiting at most batch_max_latency_ms for
  // more (0: no merging).
  std::uint64_t batch_max_bytes = 64u << 20;
  int batch_max_files = 1024;
  int batch_max_latency_ms = 20;
  int batch_files_in_flight = 4;
  // Files below this size are packed into pack objects of up to pack_bytes.
  std::uint64_t small_file_bytes = 1u << 20;
  std::uint64_t pack_bytes = 256u << 20;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, StoreConfig* out);
};

struct CurveConfig {
  bool enabled = false;
  std::string server_public_key;  // Z85, 40 characters
  std::string server_secret_key;
  // Z85 public keys of the clients and workers allowed to connect; empty
  // means any peer that knows the server's public key.
  std::vector<std::string> authorized_keys;
};

// Scheduled repair sweeps (the `sweep:` section): every `interval` the broker
// queues a repair job over everything that runs the sweep engine
// (fls/sweep.h). Off by default.
struct SweepConfig {
  std::int64_t interval_ms = 0;        // 0: no scheduled sweeps
  std::uint64_t rate_bytes_per_s = 0;  // 0: no limit
  bool deep = false;
  bool verify_only = false;
  std::string db_path;  // health database; default: the journal's path + ".health"
};

// Scheduled pack compaction (the `compact:` section): every `interval` the
// broker queues a compact job (fls/compact.h). Off by default.
struct CompactConfig {
  std::int64_t interval_ms = 0;  // 0: no scheduled compaction
  double min_dead_percent = 50;
};

// The store as a read-only file system (the `mount:` section): `fls serve`
// mounts what `fls mount` shows at `path` while it runs. Off when absent.
struct MountConfig {
  std::string path;                          // the mount point: an existing directory
  std::uint64_t cache_bytes = 256ull << 20;  // decoded stripes kept for all files
  int relist_seconds = 30;                   // 0: list only at start
  bool allow_other = false;                  // let other users read it
  bool enabled() const { return !path.empty(); }
};

struct ServiceConfig {
  std::string source_file;  // where it was loaded from, for messages

  std::string client_endpoint = "tcp://127.0.0.1:5555";
  std::string worker_endpoint = "tcp://127.0.0.1:5556";
  std::string event_endpoint = "tcp://127.0.0.1:5557";
  int in_process_workers = 2;
  int heartbeat_ms = 1000;
  int heartbeat_liveness = 3;  // silent for this many heartbeats: dead (3 to 5)
  std::string journal_path = "./.fls-data/journal.sqlite";
  std::uint64_t max_message_bytes = 1u << 20;
  int max_files_per_job = 100000;
  // STATS's space totals are recomputed at most this often (after jobs that
  // may change the store): each computation walks the whole store.
  std::int64_t space_interval_ms = 60000;

  StoreConfig store;
  std::vector<std::string> source_roots;
  std::vector<std::string> output_roots;
  CurveConfig curve;
  SweepConfig sweep;
  CompactConfig compact;
  MountConfig mount;

  // The health database sweeps of this service record to.
  std::string HealthDbPath() const {
    return sweep.db_path.empty() ? journal_path + ".health" : sweep.db_path;
  }
};

// Loads and validates `path`. InvalidArgument "FILE:LINE:COL: key 'x.y': why"
// for a bad key or value; NotFound/IOError when the file cannot be read.
Status LoadServiceConfig(const std::string& path, ServiceConfig* config);
// The same from YAML text; `name` stands in for the file name in messages.
Status ParseServiceConfig(const std::string& yaml_text, const std::string& name,
                          ServiceConfig* config);

// True for tcp://127.x.x.x, tcp://localhost, tcp://[::1], ipc:// and inproc://.
bool IsLoopbackEndpoint(const std::string& endpoint);

}  // namespace fls::service
