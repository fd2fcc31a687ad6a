// Target identity: the file fls-target.json that a target directory gets
// when it joins a store (docs/FORMAT.md, section 5). Version 3 manifests
// name targets by the identity's target_id, so a store works wherever its
// directories are mounted, and a copy of a store (with its own config) reads
// only its own files.
//
//   {"checksum":"<8 hex>","created_ns":<int>,"format":"fls-target",
//    "format_version":2,"members":{"<16 hex>":"<path>",...},
//    "store_id":"<32 hex>","target_id":"<16 hex>","v1_objects":<bool>}
//
// `members` is a hint, never a source of truth: the directory each target
// of the store had when it last joined or was seen. It lets a store name
// the directory of a target that is gone (its own identity went with it)
// when the config still lists that directory; nothing is ever read through
// it.
//
// The file is created once, never replaced by a join: it is written to a
// temporary, fsynced, and linked to its final name (link(2) fails when the
// name exists, so of two processes joining a target at once one wins and
// the other adopts its identity), then the directory is fsynced.
// SetV1Objects and SetMembers rewrite it (temporary + rename) to change
// those fields only.
//
// Thread-safety: free functions on values and files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fls/env.h"
#include "fls/status.h"

namespace fls::internal {

inline constexpr char kTargetIdentityFile[] = "fls-target.json";

struct TargetIdentity {
  std::string store_id;   // 32 lower-case hex digits, shared by every target of a store
  std::string target_id;  // 16 lower-case hex digits, this target's own
  std::int64_t created_ns = 0;
  // The target may hold path-addressed manifests: lookups by name that miss the
  // version 3 file scan it (cleared by `fls upgrade`).
  bool v1_objects = false;
  std::map<std::string, std::string> members;  // target id -> directory (a hint)
};

std::string EncodeTargetIdentity(const TargetIdentity& id);
// Corruption naming the field at fault (unknown fields, duplicate keys and a
// wrong checksum included).
Status DecodeTargetIdentity(std::string_view text, TargetIdentity* id);

// Reads dir/fls-target.json. NotFound when the target has not joined (or the
// directory is missing); Corruption (with the path) when the file is damaged.
Status ReadTargetIdentity(Env* env, const std::string& dir, TargetIdentity* id);

// Gives `dir` the identity `want` unless it already has one. *got is the
// identity the directory carries afterwards (`want`, or the one another
// process wrote first). IOError naming the directory when it cannot be
// written.
Status CreateTargetIdentity(Env* env, const std::string& dir, const TargetIdentity& want,
                            TargetIdentity* got);

// Rewrites dir's identity with v1_objects = `v1` (the rest unchanged).
Status SetV1Objects(Env* env, const std::string& dir, const TargetIdentity& current, bool v1);
// Rewrites dir's identity with these members (the rest unchanged).
Status SetMembers(Env* env, const std::string& dir, const TargetIdentity& current,
                  const std::map<std::string, std::string>& members);

// True when `dir` holds a path-addressed manifest file (one listing).
Status HoldsV1Manifests(Env* env, const std::string& dir, bool* holds);

// Fresh random ids.
std::string NewStoreId();
std::string NewTargetId();

}  // namespace fls::internal
