//! Killing the trials' main processes when the sweep dies, however it dies: see
//! [`guard`].
//!
//! A trial is started with `posix_spawn` (std's `Command` without a `pre_exec` hook),
//! whose cost does not grow with the sweep's memory as `fork` does. The child therefore
//! cannot arm a parent-death signal for itself; instead, once per process, hyperflow
//! starts a *watchdog*: a child forked while the sweep is still small, in a process group
//! of its own (so a Ctrl-C or a signal to the sweep's group does not reach it), holding
//! one end of a Unix socket whose other end only the sweep holds. For each trial the
//! sweep opens a pidfd of the trial's main process, before anything can reap it, and
//! passes it over the socket. The watchdog polls the pidfds it holds and closes those of
//! processes that exited. When the socket reads end-of-file, the sweep has died (exited,
//! crashed, or was killed with SIGKILL), and the watchdog sends SIGKILL through every
//! pidfd it still holds, then exits. A pidfd names one process, never a later one that
//! reused its pid, so nothing else is ever signalled.
//!
//! As with the parent-death signal it replaces, only each trial's main process is killed;
//! what that process started is ended by [`end_leftover_trials`](super::end_leftover_trials)
//! when the sweep is resumed. A sweep killed in the instant between starting a trial and
//! handing its pidfd over leaves that one trial unguarded.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, sendmsg, socketpair,
};

/// The most trials one watchdog guards at once; a trial started beyond that runs
/// unguarded.
const CAPACITY: usize = 4096;

/// The sweep's end of the socket to the watchdog, or why the watchdog could not start.
static WATCHDOG: OnceLock<Result<OwnedFd, String>> = OnceLock::new();

/// Hands process `pid`, a child of this process that has not been reaped, to the
/// watchdog (started on first use), which kills it with SIGKILL if this process dies
/// while it runs. Returns the caller's own pidfd of the process (readable once it exits).
pub(super) fn guard(pid: u32) -> io::Result<OwnedFd> {
    let socket = WATCHDOG
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| io::Error::other(format!("the trials' watchdog could not start: {e}")))?;
    let pid = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| io::Error::other("pid 0 cannot be guarded"))?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let fds = [pidfd.as_raw_fd()];
    // One byte of data: a message of none would read as the end of the stream.
    let data = [io::IoSlice::new(&[0])];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &data,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| io::Error::other(format!("the trials' watchdog is gone: {e}")))?;
    Ok(pidfd)
}

/// Forks the watchdog; returns the sweep's end of the socket to it.
fn start() -> io::Result<OwnedFd> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    // Everything the watchdog needs is allocated before the fork: after it, in a copy of
    // a threaded process, only async-signal-safe calls are allowed.
    let mut table: Vec<libc::pollfd> = Vec::with_capacity(CAPACITY + 1);
    let mut control = vec![0_u8; unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize];
    // SAFETY: signals are blocked across the fork so that no handler of the sweep runs
    // in the child; the child calls only async-signal-safe functions and never returns
    // (`watch` ends in `_exit`).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        match libc::fork() {
            -1 => {
                let e = io::Error::last_os_error();
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                Err(e)
            }
            0 => watch(theirs.as_raw_fd(), &mut table, &mut control),
            _ => {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                drop(theirs);
                Ok(ours)
            }
        }
    }
}

/// The watchdog's life: holds the pidfds it receives on `socket`, lets go of those whose
/// process exited, and on end-of-file kills the processes of the rest and exits.
///
/// # Safety
///
/// Called only in the child of `fork`, with every signal blocked; `table` has room for
/// [`CAPACITY`] + 1 entries and `control` for one file descriptor's control message.
unsafe fn watch(socket: RawFd, table: &mut Vec<libc::pollfd>, control: &mut [u8]) -> ! {
    unsafe {
        // The sweep's handlers (Ctrl-C) must not run here, and its signals not reach it.
        for signal in 1..libc::SIGRTMAX() {
            libc::signal(signal, libc::SIG_DFL);
        }
        libc::setpgid(0, 0);
        // Named for `ps` (it was forked from a trial's thread, and would carry its name).
        libc::prctl(libc::PR_SET_NAME, c"hyperflow-watch".as_ptr());
        // Nothing of the sweep's is held open (its terminal, its pipes, its sockets).
        if socket > 0 {
            libc::syscall(libc::SYS_close_range, 0, socket - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, socket + 1, u32::MAX, 0);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());

        table.push(libc::pollfd {
            fd: socket,
            events: libc::POLLIN,
            revents: 0,
        });
        loop {
            if libc::poll(table.as_mut_ptr(), table.len() as libc::nfds_t, -1) < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                break;
            }
            let mut i = 1;
            while i < table.len() {
                if table[i].revents != 0 {
                    libc::close(table[i].fd);
                    table.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            let events = table[0].revents;
            if events & libc::POLLIN != 0 {
                match receive(socket, control) {
                    Received::Fd(fd) if table.len() < table.capacity() => {
                        table.push(libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        })
                    }
                    Received::Fd(fd) => {
                        libc::close(fd);
                    }
                    Received::Nothing => {}
                    Received::End => break,
                }
            } else if events != 0 {
                break;
            }
        }
        for entry in &table[1..] {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                entry.fd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
        libc::_exit(0)
    }
}

/// What one read of the watchdog's socket gave.
enum Received {
    /// A pidfd.
    Fd(RawFd),
    /// A message without one, or an interrupted read.
    Nothing,
    /// The end of the stream: the sweep is gone.
    End,
}

/// Reads one message from `socket` (async-signal-safe: no allocation).
///
/// # Safety
///
/// `control` has room for one file descriptor's control message.
unsafe fn receive(socket: RawFd, control: &mut [u8]) -> Received {
    unsafe {
        let mut byte = 0_u8;
        let mut iov = libc::iovec {
            iov_base: (&raw mut byte).cast(),
            iov_len: 1,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
        match libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC) {
            0 => return Received::End,
            n if n < 0 => {
                let errno = *libc::__errno_location();
                return if errno == libc::EINTR || errno == libc::EAGAIN {
                    Received::Nothing
                } else {
                    Received::End
                };
            }
            _ => {}
        }
        let header = libc::CMSG_FIRSTHDR(&msg);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
        {
            return Received::Nothing;
        }
        Received::Fd(std::ptr::read_unaligned(
            libc::CMSG_DATA(header).cast::<RawFd>(),
        ))
    }
}
