/* edgevision device lab: three libc calls that qemu-user 7.2 (Debian bookworm's) gets wrong for systemd.
 * Lab only, never on a Pi: tests/devicelab/lab.py builds it with the host's cross compiler for the target
 * and preloads it through the rootfs's /etc/ld.so.preload.
 *
 * 1. getsockopt(SO_PEERGROUPS). qemu-user handles it as an int-sized option: the kernel answers ERANGE
 *    and the length it needs never reaches the caller, so systemd's getpeergroups() retries the same
 *    size forever. Every client of a systemd manager's private socket spins it at 100% CPU; this is why
 *    `systemctl --user` hung on every target. Answered with ENOPROTOOPT, which is what kernels before
 *    4.13 said and what sd-bus handles (the peer's groups are then not known; nothing here needs them).
 *
 * 2. pidfd_spawn(). Trixie's systemd starts every service through glibc's pidfd_spawn(). glibc tries
 *    clone3(), which qemu-user answers with ENOSYS, then falls back to clone(CLONE_PIDFD), which qemu-
 *    user 7.2 (Debian bookworm's) refuses with EINVAL without asking the kernel. systemd treats that as
 *    fatal, so every unit (journald, sshd, ...) fails with "Result: resources" and the container never
 *    gets an sshd.
 *
 *    This spawns the same way glibc's posix_spawn() does (clone(CLONE_VM|CLONE_VFORK), which qemu-user
 *    emulates) and opens the pidfd with pidfd_open(), which qemu-user passes to the kernel. A request
 *    to spawn straight into a cgroup (POSIX_SPAWN_SETCGROUP, clone3 only) is refused with ENOSYS, the
 *    "old kernel" answer systemd handles: it retries without it and the new process moves itself into
 *    its unit's cgroup.
 *
 * 3. systemd also spawns its systemd-executor as "/proc/self/fd/N" (the binary pinned when PID 1
 *    started). Without binfmt_misc's open-binary flag, qemu-user opens that path again inside the new
 *    process, where the close-on-exec fd N is gone, and every unit exits 1 before it runs. Such a path
 *    is spawned by the name the fd points to instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#ifndef POSIX_SPAWN_SETCGROUP          /* glibc >= 2.39; the shim is built against the host's older one */
#define POSIX_SPAWN_SETCGROUP 0x100
#endif

int pidfd_spawn(int *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                char *const[], char *const[]);
int pidfd_spawnp(int *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                 char *const[], char *const[]);

int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
    if (level == SOL_SOCKET && name == SO_PEERGROUPS) {
        errno = ENOPROTOOPT;
        return -1;
    }
    return (int)syscall(SYS_getsockopt, fd, level, name, value, len);
}

static int into_cgroup(const posix_spawnattr_t *attr) {
    short flags = 0;
    return attr && posix_spawnattr_getflags(attr, &flags) == 0 && (flags & POSIX_SPAWN_SETCGROUP);
}

static int with_pidfd(int r, pid_t pid, int *pidfd) {
    if (r != 0)
        return r;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);   /* our unreaped child: it cannot be another process */
    if (fd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return e;
    }
    *pidfd = fd;
    return 0;
}

/* "/proc/self/fd/N" -> the file fd N was opened from (into buf), any other path unchanged. */
static const char *unpinned(const char *path, char *buf, size_t size) {
    static const char prefix[] = "/proc/self/fd/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return path;
    ssize_t n = readlink(path, buf, size - 1);
    if (n <= 0 || buf[0] != '/')
        return path;
    buf[n] = '\0';
    return buf;
}

int pidfd_spawn(int *pidfd, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    pid_t pid = 0;
    char buf[PATH_MAX];
    if (into_cgroup(attr))
        return ENOSYS;
    path = unpinned(path, buf, sizeof buf);
    return with_pidfd(posix_spawn(&pid, path, actions, attr, argv, envp), pid, pidfd);
}

int pidfd_spawnp(int *pidfd, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    pid_t pid = 0;
    if (into_cgroup(attr))
        return ENOSYS;
    return with_pidfd(posix_spawnp(&pid, file, actions, attr, argv, envp), pid, pidfd);
}
