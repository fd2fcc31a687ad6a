// Jobs as types: the kinds of job the service runs, the spec of each kind
// and the broker -> worker REQUEST, each with its JSON form as
// docs/PROTOCOL.md specifies it (§3 SUBMIT bodies, §4 REQUEST). The broker,
// the worker, the executor and the CLI all build and read jobs through these
// types; nothing else spells a kind or a spec field.
//
// FromJson checks every field it knows (required, type, range) and fails
// with InvalidArgument naming the field ("field 'k' must be 1 to 255");
// fields it does not know are ignored. Optional fields stay optional
// (std::optional), so ToJson(FromJson(j)) gives back every known field of j
// as it was, absent ones absent: the journal stores the spec in this form.
// Thread-safety: plain values and pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "fls/service/config.h"
#include "fls/status.h"

namespace fls::service {

// In the order of JobSpec's alternatives.
enum class JobKind { kArchive, kRestore, kVerify, kRepair, kStats, kDelete, kCompact };
inline constexpr JobKind kAllJobKinds[] = {JobKind::kArchive, JobKind::kRestore, JobKind::kVerify,
                                           JobKind::kRepair,  JobKind::kStats,   JobKind::kDelete,
                                           JobKind::kCompact};

// "archive", "restore", "verify", "repair", "stats", "delete", "compact":
// the wire names.
std::string_view JobKindName(JobKind kind);
// InvalidArgument "unknown job kind 'NAME'" for a name not in the list.
Status ParseJobKind(std::string_view name, JobKind* kind);
// The wire names, comma-separated, for messages and help texts.
std::string JobKindList();

// A job state (STATUS `state`) that no longer changes: done, failed or
// cancelled.
inline bool IsEndedJobState(std::string_view state) {
  return state == "done" || state == "failed" || state == "cancelled";
}

// `archive`: one object per regular file under `paths`.
struct ArchiveSpec {
  static constexpr JobKind kKind = JobKind::kArchive;
  std::vector<std::string> paths;  // absolute; resolved by the broker before journalling
  std::optional<std::string> name_prefix;
  std::optional<int> k, m;  // 1-255; absent: the store's
  // Re-archiving an archived name compares SHA-256 instead of size, mtime
  // and mode (the CLI's --checksum).
  std::optional<bool> checksum;
  // `fls rm` and delete jobs refuse the archived files before this date
  // (RFC 3339 date or time, as `fls archive --retain-until` takes it).
  std::optional<std::string> retain_until;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, ArchiveSpec* out);
};

// `restore`: objects into the directory `output`.
struct RestoreSpec {
  static constexpr JobKind kKind = JobKind::kRestore;
  std::vector<std::string> objects;  // non-empty
  std::string output;                // resolved by the broker before journalling

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, RestoreSpec* out);
};

// `verify`: the named objects, or every object when `objects` is absent.
struct VerifySpec {
  static constexpr JobKind kKind = JobKind::kVerify;
  std::optional<std::vector<std::string>> objects;
  std::optional<bool> deep;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, VerifySpec* out);
};

// The settings of a repair of everything (a sweep, fls/sweep.h).
struct SweepSpec {
  std::optional<bool> verify_only, deep;
  std::optional<std::uint64_t> rate_bytes_per_s;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, SweepSpec* out);
};

// `repair`: the named objects, or every object (a sweep) when `objects` is
// absent.
struct RepairSpec {
  static constexpr JobKind kKind = JobKind::kRepair;
  std::optional<std::vector<std::string>> objects;
  std::optional<bool> deep;
  std::optional<SweepSpec> sweep;
  // Set by the broker, never taken from a client: the service's health
  // database (a sweep records to it) and whether the broker queued the job
  // itself (config sweep.interval).
  std::optional<std::string> health_db;
  std::optional<bool> scheduled;

  bool Everything() const { return !objects.has_value(); }
  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, RepairSpec* out);
};

// `stats`: the store's catalogue totals; no fields.
struct StatsSpec {
  static constexpr JobKind kKind = JobKind::kStats;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, StatsSpec* out);
};

// `delete`: objects and packed files (fls/delete.h), one item each.
struct DeleteSpec {
  static constexpr JobKind kKind = JobKind::kDelete;
  std::vector<std::string> objects;        // non-empty
  std::optional<bool> force;               // a missing name is not an error
  std::optional<bool> override_retention;  // logged by the service

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, DeleteSpec* out);
};

// `compact`: rewrite packs whose dead share reaches min_dead_percent
// (fls/compact.h); one item, "store".
struct CompactSpec {
  static constexpr JobKind kKind = JobKind::kCompact;
  std::optional<double> min_dead_percent;  // 0-100; absent: 50
  // Packs younger than this are left (an archive may be writing their
  // records); absent: 600.
  std::optional<double> min_age_seconds;
  // Set by the broker when it queued the job itself (config compact.interval).
  std::optional<bool> scheduled;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, CompactSpec* out);
};

using JobSpec = std::variant<ArchiveSpec, RestoreSpec, VerifySpec, RepairSpec, StatsSpec,
                             DeleteSpec, CompactSpec>;

JobKind KindOf(const JobSpec& spec);
// The spec's JSON form, with its "kind" field: a SUBMIT body.
nlohmann::json JobSpecToJson(const JobSpec& spec);
// A SUBMIT body: "kind" (required) then that kind's fields.
Status JobSpecFromJson(const nlohmann::json& body, JobSpec* spec);
// The fields of a spec of a known kind (a "kind" field in `j` is not read).
Status JobSpecFromJson(JobKind kind, const nlohmann::json& j, JobSpec* spec);

// Broker -> worker REQUEST: one job to run (docs/PROTOCOL.md §4).
struct WorkerRequest {
  std::int64_t job_id = 0;
  int attempt = 0;
  JobSpec spec;
  std::vector<std::string> items;  // the items still to do
  StoreConfig store;
  // The service's resolved roots: the worker opens every path of the job
  // below one of them, never by its name alone.
  std::vector<std::string> source_roots, output_roots;

  nlohmann::json ToJson() const;
  // Errors name the field ("REQUEST: field 'items' ..."). job_id and attempt
  // are read first, so that a refusal can still name the job.
  static Status FromJson(const nlohmann::json& j, WorkerRequest* out);
};

}  // namespace fls::service
