"""What the seccomp filter denies a job, and why (see :mod:`.seccomp` for how).

Names, not numbers: :mod:`.syscalls` maps them for each architecture, and a name an
architecture lacks is simply not in its filter.
"""

from __future__ import annotations

#: Syscalls that always fail with EPERM.
DENIED = (
    # networking: no socket may be created (the inherited fds are pipes)
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    # System V IPC and POSIX message queues: the IPC namespace is shared by jobs
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    # programs and processes: only threads may be created
    "execve",
    "execveat",
    "fork",
    "vfork",
    # other processes' memory and descriptors
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "process_mrelease",
    "kcmp",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    # mounts and namespaces
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "name_to_handle_at",
    "open_by_handle_at",
    "fanotify_init",
    "fanotify_mark",
    # watching and locking host files: inotify sees names created in directories the job
    # cannot list, and a lock on a readable system file (or /dev/null) is a channel
    # between concurrent jobs; locks inside the private scratch serve no one else
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "flock",
    # flushing every file system on the host (a timing channel and a slow-down for all)
    "sync",
    "syncfs",
    # host-wide figures no namespace hides: the number of processes (a census), free
    # memory and load (a channel a job modulates by allocating, for a sibling to read)
    "sysinfo",
    # page-cache residency of files every job can read (libraries, site-packages):
    # RWF_NOWAIT reads and cachestat would let one job see which pages another touched
    "preadv2",
    "pwritev2",
    "cachestat",
    # signals by thread id (glibc's raise/pthread_kill use tgkill)
    "tkill",
    # file-backed memory outside RLIMIT_AS (each memfd up to RLIMIT_FSIZE)
    "memfd_create",
    "memfd_secret",
    # kernel attack surface
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # system administration
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "syslog",
    "vhangup",
    "uselib",
    "nfsservctl",
    "_sysctl",
    "modify_ldt",
    "personality",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "vserver",
)
#: Signal-sending syscalls whose first argument is a process (thread group) id, with the
#: index of their signal argument: allowed only when the target is the job itself (its
#: pid, or 0 for ``kill``: its own group) and the signal is neither SIGKILL nor SIGSTOP.
#: A job is the init process of its own PID namespace, which ignores every other signal
#: it sends itself unless it handles it; so no job can die of a signal it sent, and a
#: death by a signal that is not a fault comes from outside (see ``results.decide``).
SELF_SIGNAL = {"kill": 1, "tgkill": 2, "rt_sigqueueinfo": 1, "rt_tgsigqueueinfo": 2}
SIGKILL, SIGSTOP = 9, 19
#: fcntl commands denied: record locks (classic and open-file-description, queried or
#: set) and leases on any file are a channel between jobs; F_NOTIFY watches directories.
FCNTL_DENIED = (
    5,  # F_GETLK
    6,  # F_SETLK
    7,  # F_SETLKW
    36,  # F_OFD_GETLK
    37,  # F_OFD_SETLK
    38,  # F_OFD_SETLKW
    1024,  # F_SETLEASE
    1025,  # F_GETLEASE
    1026,  # F_NOTIFY
)
