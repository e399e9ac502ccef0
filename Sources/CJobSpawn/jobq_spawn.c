#define _GNU_SOURCE
#include "jobq_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define JOBQ_THREAD_SANITIZER 1
#endif
#endif
#ifndef JOBQ_THREAD_SANITIZER
#define JOBQ_THREAD_SANITIZER 0
#endif

/// The resource of each `JOBQ_LIMIT_*`.
static const int limit_resources[JOBQ_LIMIT_COUNT] = {RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE};

/// Sets the limits given (-1: none) on process `pid` (0: this one), each at most the hard
/// limit it has; RLIMIT_CPU's hard limit 5 s above its soft one, so that SIGXCPU comes first.
/// Only async-signal-safe calls: the child of a spawn runs it. Returns 0 or an errno value.
static int apply_limits(pid_t pid, const long long limits[JOBQ_LIMIT_COUNT]) {
    for (int index = 0; index < JOBQ_LIMIT_COUNT; index++) {
        if (limits[index] < 0) continue;
        struct rlimit current;
        if (prlimit(pid, limit_resources[index], NULL, &current) != 0) return errno;
        rlim_t value = (rlim_t)limits[index];
        rlim_t hard = limit_resources[index] == RLIMIT_CPU ? value + 5 : value;
        if (current.rlim_max != RLIM_INFINITY && hard > current.rlim_max) hard = current.rlim_max;
        if (value > hard) value = hard;
        struct rlimit wanted = {.rlim_cur = value, .rlim_max = hard};
        if (prlimit(pid, limit_resources[index], &wanted, NULL) != 0) return errno;
    }
    return 0;
}

#if !JOBQ_THREAD_SANITIZER
/// The kernel's signal set: 64 bits.
#define KERNEL_SIGSET_SIZE 8

/// What the child needs, on the parent's stack (the parent is suspended while the child runs,
/// until it execs or exits: CLONE_VFORK).
struct spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdout_fd;
    int stderr_fd;
    const long long *limits;
    const struct jobq_identity *identity;
    /// The errno of the step that failed, written by the child before it exits (CLONE_VM: the
    /// parent reads it after clone returns); 0 when the exec happened.
    volatile int error;
    /// Whether that step was entering `cwd`.
    volatile int in_cwd;
};

/// Moves `fd` to `target` (0, 1 or 2) for the exec: dup2, or clearing close-on-exec when it is
/// already there (dup2 onto itself would leave the flag).
static int place(int fd, int target) {
    if (fd == target) return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/// The child, between clone and exec. Only async-signal-safe calls: it shares the parent's
/// memory. Every signal stays blocked (the parent blocked them all before clone) until its
/// handler is the default, so no handler of the daemon runs here.
static int spawn_child(void *argument) {
    struct spawn_request *request = argument;
    // This child's own copy of the handlers (no CLONE_SIGHAND), each set to SIG_DFL with the
    // kernel's call: glibc's sigaction refuses its two internal signals. An all-zero kernel
    // sigaction is SIG_DFL, no flags, an empty mask, whatever the architecture's layout.
    static const unsigned long default_action[8] = {0};
    for (int signal_number = 1; signal_number < _NSIG; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        (void)syscall(SYS_rt_sigaction, signal_number, default_action, NULL, KERNEL_SIGSET_SIZE);
    }
    if (setsid() < 0) goto failed;
    // The output descriptors above 2 first, so that placing one cannot close the other.
    int out = request->stdout_fd, err = request->stderr_fd;
    if (out <= STDERR_FILENO && (out = fcntl(out, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) < 0) goto failed;
    if (err <= STDERR_FILENO && (err = fcntl(err, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) < 0) goto failed;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || place(null, STDIN_FILENO) != 0) goto failed;
    if (place(out, STDOUT_FILENO) != 0 || place(err, STDERR_FILENO) != 0) goto failed;
    int limited = apply_limits(0, request->limits);
    if (limited != 0) {
        errno = limited;
        goto failed;
    }
    const struct jobq_identity *identity = request->identity;
    if (identity != NULL) {
        // The system calls themselves: glibc's wrappers would tell every thread of the daemon,
        // whose memory this child shares, to change its ids too.
        if (syscall(SYS_setgroups, identity->group_count, identity->groups) != 0) goto failed;
        if (syscall(SYS_setresgid, identity->gid, identity->gid, identity->gid) != 0) goto failed;
        if (syscall(SYS_setresuid, identity->uid, identity->uid, identity->uid) != 0) goto failed;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) goto failed;
    }
    if (syscall(SYS_getuid) != 0) {
        // A job not run as root keeps none of the daemon's capabilities (systemd's ambient ones
        // would survive the exec; a daemon that is not root keeps its own across setresuid).
        // Kernels without ambient capabilities (before 4.3) answer EINVAL, and have none to clear.
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) goto failed;
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
        memset(none, 0, sizeof none);
        if (syscall(SYS_capset, &header, none) != 0) goto failed;
    }
    if (request->cwd != NULL && chdir(request->cwd) != 0) {
        request->in_cwd = 1;
        goto failed;
    }
    closefrom(STDERR_FILENO + 1);
    uint64_t none = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, KERNEL_SIGSET_SIZE) != 0) goto failed;
    execve(request->path, request->argv, request->envp);
failed:
    request->error = errno != 0 ? errno : EINVAL;
    _exit(127);
}

#endif

#if JOBQ_THREAD_SANITIZER
/// ThreadSanitizer's runtime cannot live with a child that shares the process's memory and runs
/// instrumented code (it dies at the next thread it starts): under it, jobs start through
/// glibc's posix_spawn, whose child runs only glibc's own code, with the same attributes.
static int spawn_through_glibc(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               const char *cwd, int stdout_fd, int stderr_fd, const long long limits[JOBQ_LIMIT_COUNT]) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    // Every signal, glibc's two internal ones too (sigfillset leaves them out, and posix_spawn
    // then leaves them ignored in the child).
    sigset_t all, none;
    memset(&all, 0xff, sizeof all);
    sigemptyset(&none);
    rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &none);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
    if (rc == 0 && cwd != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    // posix_spawn has no attribute for limits: set on the child once it runs (its first
    // instructions run without them; only this test build takes this path).
    if (rc == 0) (void)apply_limits(*pid, limits);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}
#endif

int jobq_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               const char *cwd, int stdout_fd, int stderr_fd, const long long limits[JOBQ_LIMIT_COUNT],
               const struct jobq_identity *identity) {
#if JOBQ_THREAD_SANITIZER
    // posix_spawn cannot change a child's user: jobs run as their submitters only in the
    // builds that clone.
    if (identity != NULL) return ENOTSUP;
    return spawn_through_glibc(pid, path, argv, envp, cwd, stdout_fd, stderr_fd, limits);
#else
    struct spawn_request request = {
        .path = path, .argv = argv, .envp = envp, .cwd = cwd,
        .stdout_fd = stdout_fd, .stderr_fd = stderr_fd, .limits = limits, .identity = identity, .error = 0, .in_cwd = 0,
    };
    // The child's stack: a part of this thread's own, idle while the child runs. glibc's
    // posix_spawn maps a fresh stack for each spawn and unmaps it after, and in a daemon whose
    // other threads run on the other cores, each unmap costs a TLB shootdown of those cores.
    char stack[32 * 1024] __attribute__((aligned(64)));
    // Every signal blocked, glibc's internal ones too (which pthread_sigmask leaves alone), so
    // that none is handled in the child before its handler is the default.
    uint64_t all = ~(uint64_t)0, previous = 0;
    (void)syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &previous, KERNEL_SIGSET_SIZE);
    pid_t child = clone(spawn_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
    int clone_error = errno;
    (void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &previous, NULL, KERNEL_SIGSET_SIZE);
    if (child < 0) return clone_error;
    if (request.error != 0) {
        // It exited without exec'ing: reap it (it is no job).
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return request.error | (request.in_cwd ? JOBQ_SPAWN_IN_CWD : 0);
    }
    *pid = child;
    return 0;
#endif
}

int jobq_input_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int jobq_output_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    int flags = fcntl(fds[0], F_GETFL);
    if (flags == -1 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) == -1) {
        int error = errno;
        close(fds[0]);
        close(fds[1]);
        fds[0] = fds[1] = -1;
        errno = error;
        return -1;
    }
    return 0;
}

int jobq_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int jobq_pidfd_reap(int pidfd, int *exited, int *value, struct jobq_usage *usage) {
    siginfo_t info;
    struct rusage used;
    memset(&info, 0, sizeof(info));
    memset(&used, 0, sizeof(used));
    if (syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED | WNOHANG, &used) != 0) return -1;
    if (info.si_pid == 0) return 0;
    *exited = info.si_code == CLD_EXITED;
    *value = info.si_status;
    usage->user_us = (long long)used.ru_utime.tv_sec * 1000000 + used.ru_utime.tv_usec;
    usage->system_us = (long long)used.ru_stime.tv_sec * 1000000 + used.ru_stime.tv_usec;
    usage->max_rss_kib = used.ru_maxrss;
    return 1;
}

int jobq_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int jobq_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int jobq_epoll_add(int epoll_fd, int fd) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = EPOLLIN;
    event.data.fd = fd;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

int jobq_epoll_remove(int epoll_fd, int fd) {
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int jobq_epoll_wait(int epoll_fd, int *fds, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll_fd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) fds[i] = events[i].data.fd;
    return count;
}

void jobq_name_thread(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

int jobq_unblock_sigchld(void) {
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    return pthread_sigmask(SIG_UNBLOCK, &child, NULL);
}
