// Beneath: opening names below a directory file descriptor so that nothing
// met on the way can lead out of it: no symbolic link is followed (not even
// one pointing back inside), no ".." component and no absolute name is
// accepted, and no /proc magic link is crossed. What was opened is exactly
// what lies below the directory at the moment of the open: there is no
// check-then-use window to race.
//
// Two resolvers do this, with the same results:
//   openat2  one openat2(2) call with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//            RESOLVE_NO_MAGICLINKS (Linux 5.6+; glibc 2.36 has no wrapper,
//            so it is called through syscall(2));
//   walk     one openat(2) per component with O_NOFOLLOW (O_PATH |
//            O_NOFOLLOW for the directories on the way, each checked with
//            fstat of its own descriptor), for kernels that
//            answer openat2 with ENOSYS. The first ENOSYS switches the
//            process to the walk for good.
// FLS_BENEATH=walk (or openat2) in the environment picks one at start, so
// that the tests run both on a kernel that has openat2.
//
// Errors come back as errno, as from open(2): ELOOP when a component is a
// symbolic link (the walk reports ELOOP too, where plain openat would say
// ENOTDIR), EXDEV for ".." or an absolute name, EAGAIN when openat2 kept
// seeing a concurrent rename (retried a few times first), plus the usual
// ENOENT, ENOTDIR, EACCES...
//
// Thread-safety: every function may be called concurrently.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace fls::beneath {

enum class Resolver { kOpenat2, kWalk };

// The resolver opens use now.
Resolver ActiveResolver();
const char* ResolverName(Resolver r);
// Forces a resolver for this process (tests). Forcing kOpenat2 on a kernel
// without openat2 makes opens fail with ENOSYS instead of falling back.
void ForceResolver(Resolver r);
// Back to the default: FLS_BENEATH from the environment, else openat2 with
// the ENOSYS fallback.
void ResetResolver();

// Opens `rel` (components separated by '/'; "" or "." is `dirfd` itself)
// below `dirfd` with `flags` (O_CLOEXEC and O_NOFOLLOW are added; `mode`
// with O_CREAT). Returns the new descriptor, or -1 with errno set.
int OpenBeneath(int dirfd, std::string_view rel, int flags, mode_t mode = 0);

// Opens the directory `rel` below `dirfd` (O_RDONLY | O_DIRECTORY), making
// missing components with mkdirat(0755) when `create`. Each component is
// opened beneath the one before, so a component swapped for a symbolic link
// at any moment fails with ELOOP and a directory made here is made inside.
int OpenDirBeneath(int dirfd, std::string_view rel, bool create);

// Splits `rel` into its components; false (errno EXDEV) for an absolute
// name or a ".." component. "." and empty components are dropped.
bool SplitRelative(std::string_view rel, std::vector<std::string>* parts);

// A short explanation of an errno from these functions, for messages:
// "a symbolic link on the way (symbolic links are not followed below a
// root)" for ELOOP, strerror otherwise.
std::string ExplainErrno(int err);

}  // namespace fls::beneath
