//! Watching the real processes a test's programs start (Linux `/proc` and pidfds).
//!
//! Included by path (`#[path = "common/procs.rs"] mod procs;`) by the sweep tests, which
//! need none of the store helpers of `common`.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Whether process `pid` is running: it exists and has not exited (a zombie has).
pub fn is_running(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (comm) state ...`, where comm may hold spaces and parentheses.
        let state = stat
            .iter()
            .rposition(|&b| b == b')')
            .and_then(|end| stat[end + 1..].iter().find(|b| !b.is_ascii_whitespace()));
        !matches!(state, None | Some(b'Z' | b'X' | b'x'))
    })
}

/// Blocks until process `pid` has exited (or is gone), however long that takes: the
/// programs a test starts bound it themselves.
pub fn wait_exited(pid: i32) {
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    let Ok(fd) = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) else {
        return; // gone already
    };
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => {}
            result => {
                result.expect("poll a pidfd");
                return;
            }
        }
    }
}

/// Waits until `cond` holds, polling; panics if `process` exits first (what was waited
/// for will then never come).
pub fn wait_while_running(process: &mut Child, what: &str, mut cond: impl FnMut() -> bool) {
    while !cond() {
        if let Some(status) = process.try_wait().expect("poll the process") {
            panic!("the process exited ({status}) before {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid a test's program wrote into `path`, once it has (see [`wait_while_running`]).
pub fn wait_for_pid(process: &mut Child, path: &Path) -> i32 {
    let read = || std::fs::read_to_string(path).ok()?.trim().parse().ok();
    wait_while_running(process, &format!("{} was written", path.display()), || {
        read().is_some()
    });
    read().expect("the pid was written")
}

/// Kills, when dropped, the processes that are still running of those a test's programs
/// left behind, so that a failing test leaves nothing running on.
pub struct KillOnDrop(pub Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if is_running(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}
