// The few Linux calls JobRunner's process launcher needs that Swift's Glibc module does not
// export: posix_spawn with glibc's extensions (new session, chdir, closefrom), pidfds, epoll
// and eventfd.
#ifndef JOBQ_SPAWN_H
#define JOBQ_SPAWN_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/epoll.h>

/// The resource limits of a job, in the order of `jobq_spawn`'s `limits`.
enum {
    JOBQ_LIMIT_MEMORY = 0,     // RLIMIT_AS, bytes
    JOBQ_LIMIT_CPU = 1,        // RLIMIT_CPU, seconds (SIGXCPU, then SIGKILL 5 s later)
    JOBQ_LIMIT_FILES = 2,      // RLIMIT_NOFILE
    JOBQ_LIMIT_PROCESSES = 3,  // RLIMIT_NPROC
    JOBQ_LIMIT_FILE_SIZE = 4,  // RLIMIT_FSIZE, bytes
    JOBQ_LIMIT_COUNT = 5,
};

/// Who a job's command runs as, when not as the daemon: its user, primary group and
/// supplementary groups.
struct jobq_identity {
    uid_t uid;
    gid_t gid;
    size_t group_count;
    const gid_t *groups;
};

/// Starts `path` with `argv` and `envp` through a vfork-style clone (the daemon's page tables
/// are not copied; the child runs on a part of the caller's stack until it execs) as the leader
/// of a new session, in `cwd` (NULL: the daemon's), with stdin from /dev/null, stdout and
/// stderr on the given descriptors, no other descriptor, every signal at its default
/// disposition and none blocked. What glibc's posix_spawn does, without mapping a stack for
/// each spawn (built with ThreadSanitizer, it is posix_spawn).
/// `limits`: the job's resource limits, -1 where none (`JOBQ_LIMIT_*` order), set with
/// setrlimit in the child before the exec, never above the daemon's own hard limits.
/// `identity` (NULL: the daemon's): the child takes its groups, group and user (every one of
/// the real, effective and saved ids) and sets no_new_privs, before it changes to `cwd` (so
/// that the directory is entered with the user's rights). A child that does not run as root
/// clears its ambient capabilities and drops every capability.
/// Returns 0 and sets `*pid`, or an errno value, with `JOBQ_SPAWN_IN_CWD` set in it when the
/// step that failed was entering `cwd`.
int jobq_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               const char *cwd, int stdout_fd, int stderr_fd, const long long limits[JOBQ_LIMIT_COUNT],
               const struct jobq_identity *identity);

/// Set in `jobq_spawn`'s answer (above any errno value) when the child could not enter `cwd`.
#define JOBQ_SPAWN_IN_CWD 0x10000

/// A pipe for a child's output: both ends close-on-exec, the read end (`fds[0]`) non-blocking.
/// 0, or -1 with errno set.
int jobq_output_pipe(int fds[2]);

/// A pipe for a child's input: both ends close-on-exec (another thread's spawn cannot inherit
/// them), both blocking. 0, or -1 with errno set.
int jobq_input_pipe(int fds[2]);

/// pidfd_open(2): a descriptor that becomes readable when `pid` exits; -1 with errno set.
int jobq_pidfd_open(pid_t pid);

/// What a reaped process used, with the processes it waited for (the kernel's rusage of
/// waitid): CPU time in user and kernel mode, in microseconds, and the largest resident set of
/// any of them, in KiB.
struct jobq_usage {
    long long user_us;
    long long system_us;
    long long max_rss_kib;
};

/// Reaps the process of `pidfd` if it has exited (waitid(P_PIDFD, WEXITED | WNOHANG), through
/// the system call, whose last argument glibc's wrapper leaves out, for `*usage`).
/// Returns 1 with `*exited` = 1 and `*value` = the exit code, or `*exited` = 0 and `*value` =
/// the signal that ended it; 0 when it has not exited yet; -1 with errno set on error.
int jobq_pidfd_reap(int pidfd, int *exited, int *value, struct jobq_usage *usage);

/// An eventfd (close-on-exec, non-blocking); -1 with errno set.
int jobq_eventfd(void);

/// epoll_create1(EPOLL_CLOEXEC); -1 with errno set.
int jobq_epoll_create(void);

/// Adds `fd` for reading (EPOLLIN) with `fd` itself as the event's data; 0 or -1 with errno.
int jobq_epoll_add(int epoll_fd, int fd);

/// Removes `fd`; 0 or -1 with errno.
int jobq_epoll_remove(int epoll_fd, int fd);

/// epoll_wait into `fds` (the data of each ready event: its descriptor); the count, or -1 with
/// errno set.
int jobq_epoll_wait(int epoll_fd, int *fds, int capacity, int timeout_ms);

/// Names the calling thread (at most 15 bytes show), for top, perf and gdb.
void jobq_name_thread(const char *name);

/// Unblocks SIGCHLD in the calling thread (the thread that spawns the children); 0, or an
/// error number.
///
/// A child's exit sends SIGCHLD to the thread that spawned it. SIGCHLD's default action is to
/// ignore it, and the kernel drops an ignored signal at once, unless that thread blocks it:
/// a blocked signal is never ignored (its handler may change before it is unblocked). It is
/// then queued to the process, which wakes every signalfd's reader (libdispatch's manager
/// thread watches two, for SIGTERM and SIGINT) and the one thread that does not block it (the
/// main thread, parked by dispatch_main in sigsuspend): two wake-ups per job for nothing.
/// Threads started from Swift's pool inherit its mask, which blocks SIGCHLD. (jobq_spawn still
/// blocks every signal while it clones, so a child that ends just then still raises one: with
/// 2 jobs at a time, about half of them.)
int jobq_unblock_sigchld(void);

#endif
