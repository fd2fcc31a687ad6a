// RestoreJob: the restore job kind of the default executor
// (service/job_executor.h). Each object NAME is written to OUTPUT/NAME, where
// OUTPUT is the job's output directory: the directories on the way are opened
// (and made) below the descriptor of the output root OUTPUT lies under, and
// the file is written as a temporary created in that directory's descriptor,
// fsynced and renamed there (service/confined_io.h), so a directory swapped
// for a symbolic link while the job runs fails that item instead of sending
// bytes outside the roots. Packed files come from one range restore per run
// of nearby files of their pack, each cut out and checked against its
// SHA-256.
// Thread-safety: calls are independent (the store is thread-safe).
#pragma once

#include <string>

#include "fls/service/job_executor.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls::service {

// Reports every item through ctx.ItemDone; Cancelled when ctx asked to stop;
// other errors only when the job as a whole cannot run (no output directory,
// no scratch directory).
Status RunRestoreJob(const Store& store, const std::string& backend, const Job& job,
                     JobContext& ctx);

}  // namespace fls::service
