//! Ending what the trials of a killed sweep left running: see [`end_leftover_trials`].

use std::io;
use std::time::Duration;

/// The environment variable that names a trial's run in its processes.
pub const RUN_ID_VAR: &str = "HYPERFLOW_RUN_ID";

/// What [`end_leftover_trials`] ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Processes found and stopped.
    pub processes: usize,
    /// Of those, the ones still running after the grace period, ended by SIGKILL.
    pub killed: usize,
}

/// Ends the processes left running by the trials whose run ids are `run_ids`: SIGTERM,
/// then SIGKILL to those still running after `grace`. Returns once every one of them has
/// exited, with what was ended.
///
/// A sweep killed outright (SIGKILL, the out-of-memory killer, a closed session) cannot
/// stop its trials. Each trial's main process dies with it (the watchdog of
/// `runner/watchdog.rs` kills it), but what that process started does not: `sh train.sh`
/// is killed, the `python3` it started trains on. A resumed sweep must not run new trials beside such leftovers.
///
/// Leftovers are found by trial, never by search, since several sweep processes may run
/// trials of one search at the same time. A process is a leftover of one of the trials
/// named when
///
/// - its environment holds `HYPERFLOW_RUN_ID=<that run id>` ([`RUN_ID_VAR`]; every trial
///   process is given it, and what it starts inherits it, even in a session of its own), or
/// - it is in the process group of such a process (each trial runs in a group of its own,
///   which also holds what the trial started with a cleared environment).
///
/// Only processes whose environment can be read are considered, which the kernel allows
/// for this user's processes. A leftover may start new processes while it is being
/// stopped, so the search is repeated until it finds nothing.
///
/// Against pid reuse: each leftover is held by a pidfd opened before it is checked, and
/// is signalled and awaited through that pidfd, so a process that took over a checked pid
/// never gets a signal. A process group has no such handle: it is signalled (`killpg`)
/// right after one of its marked members was seen running in it, which keeps its id from
/// passing to another group unless, in the instant between, that member exits, the group
/// empties and the system goes through every other pid.
///
/// Fails when `/proc` cannot be listed, when a process is still running a while after
/// SIGKILL (stuck in the kernel), or when leftovers keep appearing. Without `/proc` and
/// pidfds (systems other than Linux) it finds nothing.
pub fn end_leftover_trials(run_ids: &[impl AsRef<str>], grace: Duration) -> io::Result<Ended> {
    #[cfg(target_os = "linux")]
    return linux::end(run_ids, grace);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (run_ids, grace);
        Ok(Ended::default())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeSet;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::{Duration, Instant};

    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::{Pid, getpgrp, getpid};

    use super::{Ended, RUN_ID_VAR};

    /// How long processes get to exit after SIGKILL before that is reported as a failure.
    const KILL_WAIT: Duration = Duration::from_secs(10);

    /// How many times leftovers are looked for before giving up on ones that keep
    /// starting new processes.
    const ROUNDS: usize = 8;

    pub(super) fn end(run_ids: &[impl AsRef<str>], grace: Duration) -> io::Result<Ended> {
        let mut ended = Ended::default();
        if run_ids.is_empty() {
            return Ok(ended);
        }
        let marks: Vec<Vec<u8>> = run_ids
            .iter()
            .map(|id| format!("{RUN_ID_VAR}={}", id.as_ref()).into_bytes())
            .collect();
        for _ in 0..ROUNDS {
            let found = Leftovers::find(&marks)?;
            if found.is_empty() {
                return Ok(ended);
            }
            ended.processes += found.held().count();
            found.signal(Signal::SIGTERM);
            if found.exited_by(Instant::now() + grace) {
                continue;
            }
            ended.killed += found.running().count();
            found.signal(Signal::SIGKILL);
            if !found.exited_by(Instant::now() + KILL_WAIT) {
                let pids: Vec<String> = found.running().map(|h| h.pid.to_string()).collect();
                let (what, verb) = match pids.len() {
                    1 => ("process", "is"),
                    _ => ("processes", "are"),
                };
                return Err(io::Error::other(format!(
                    "{what} {} (left running by killed trials) {verb} still running {}s after \
                     SIGKILL (stuck in the kernel?); resume once they have exited",
                    pids.join(", "),
                    KILL_WAIT.as_secs(),
                )));
            }
        }
        Err(io::Error::other(format!(
            "processes left running by killed trials still started new ones after being \
             stopped {ROUNDS} times; end them by hand (their environment holds \
             {RUN_ID_VAR}=<the trial's run id>) and resume again"
        )))
    }

    /// What `/proc` shows of a process that has not exited.
    struct Seen {
        pgid: Pid,
        /// Whether its environment names one of the trials.
        marked: bool,
    }

    /// A process held by a pidfd, and its group when it was checked.
    struct Held {
        pid: Pid,
        pgid: Pid,
        fd: OwnedFd,
    }

    impl Held {
        /// Holds process `pid` if, once held, `/proc` shows it running and `accept`s it.
        fn new(pid: Pid, marks: &[Vec<u8>], accept: impl Fn(&Seen) -> bool) -> Option<Held> {
            let fd = rustix::process::pidfd_open(
                rustix::process::Pid::from_raw(pid.as_raw())?,
                rustix::process::PidfdFlags::empty(),
            )
            .ok()?;
            let seen = look(pid, marks)?;
            // Still running after the look: what /proc showed was this very process, not
            // one that took its pid over.
            let held = Held {
                pid,
                pgid: seen.pgid,
                fd,
            };
            (accept(&seen) && held.is_running()).then_some(held)
        }

        fn is_running(&self) -> bool {
            !exited(&self.fd, Instant::now())
        }

        /// Whether it is in group `pgid` and running (checked in that order, so that the
        /// answer is about this process).
        fn is_in(&self, pgid: Pid) -> bool {
            group_of(self.pid) == Some(pgid) && self.is_running()
        }
    }

    /// The leftovers one look through `/proc` found.
    struct Leftovers {
        /// Processes whose environment names one of the trials.
        marked: Vec<Held>,
        /// Their groups (the caller's own excepted).
        groups: BTreeSet<Pid>,
        /// The other processes of those groups.
        members: Vec<Held>,
    }

    impl Leftovers {
        fn find(marks: &[Vec<u8>]) -> io::Result<Leftovers> {
            let me = getpid();
            let listing_failed =
                |e: io::Error| io::Error::new(e.kind(), format!("cannot list /proc: {e}"));
            let mut seen = Vec::new();
            for entry in std::fs::read_dir("/proc").map_err(listing_failed)? {
                let name = entry.map_err(listing_failed)?.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.parse().ok())
                    .map(Pid::from_raw)
                else {
                    continue;
                };
                if pid != me
                    && let Some(s) = look(pid, marks)
                {
                    seen.push((pid, s));
                }
            }
            let marked: Vec<Held> = seen
                .iter()
                .filter(|(_, s)| s.marked)
                .filter_map(|&(pid, _)| Held::new(pid, marks, |now| now.marked))
                .collect();
            let own_group = getpgrp();
            let groups: BTreeSet<Pid> = marked
                .iter()
                .map(|h| h.pgid)
                .filter(|&g| g != own_group)
                .collect();
            let mut found = Leftovers {
                marked,
                groups,
                members: Vec::new(),
            };
            let members: Vec<Held> = seen
                .iter()
                .filter(|(_, s)| !s.marked && found.groups.contains(&s.pgid))
                .filter_map(|(pid, s)| {
                    Held::new(*pid, marks, |now| !now.marked && now.pgid == s.pgid)
                })
                .collect();
            // A member was in a trial's group only if a marked process was still in that
            // group after the member was seen in it.
            found.members = members
                .into_iter()
                .filter(|m| found.anchored(m.pgid))
                .collect();
            Ok(found)
        }

        fn is_empty(&self) -> bool {
            self.marked.is_empty() && self.members.is_empty()
        }

        fn held(&self) -> impl Iterator<Item = &Held> {
            self.marked.iter().chain(&self.members)
        }

        fn running(&self) -> impl Iterator<Item = &Held> {
            self.held().filter(|h| h.is_running())
        }

        /// Whether a marked process is running in group `pgid` now.
        fn anchored(&self, pgid: Pid) -> bool {
            self.marked.iter().any(|h| h.pgid == pgid && h.is_in(pgid))
        }

        /// Signals the groups (while a marked member keeps each group's id reserved, and
        /// so first: what a group started since the look gets the signal too), then every
        /// held process through its pidfd.
        fn signal(&self, signal: Signal) {
            for &pgid in &self.groups {
                if self.anchored(pgid) {
                    let _ = killpg(pgid, signal);
                }
            }
            let Some(signal) = rustix::process::Signal::from_named_raw(signal as i32) else {
                return;
            };
            for held in self.held() {
                // A process that has exited since is no error.
                let _ = rustix::process::pidfd_send_signal(&held.fd, signal);
            }
        }

        /// Waits until every held process has exited, or `deadline`; whether they have.
        fn exited_by(&self, deadline: Instant) -> bool {
            self.held().all(|h| exited(&h.fd, deadline))
        }
    }

    /// Waits until the process behind pidfd `fd` has exited, or `deadline`; whether it
    /// has.
    fn exited(fd: &OwnedFd, deadline: Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(Errno::EINTR) => {}
                Err(_) => return false,
            }
        }
    }

    /// The group of process `pid` and whether its environment holds one of `marks`;
    /// `None` when it has exited or its environment cannot be read.
    fn look(pid: Pid, marks: &[Vec<u8>]) -> Option<Seen> {
        let pgid = group_of(pid)?;
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let marked = environ
            .split(|&b| b == 0)
            .any(|var| marks.iter().any(|m| var == m.as_slice()));
        Some(Seen { pgid, marked })
    }

    /// The process group of `pid`, from `/proc/<pid>/stat`; `None` when it has exited.
    fn group_of(pid: Pid) -> Option<Pid> {
        let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid pgrp ...`, where comm may hold spaces and parentheses.
        let rest = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
        let mut fields = std::str::from_utf8(rest).ok()?.split_ascii_whitespace();
        if matches!(fields.next()?, "Z" | "X" | "x") {
            return None;
        }
        fields.nth(1)?.parse().ok().map(Pid::from_raw)
    }

    #[cfg(test)]
    mod tests {
        use std::os::unix::process::CommandExt;
        use std::path::Path;
        use std::process::{Child, Command};

        use super::*;
        use crate::sweep::end_leftover_trials;

        /// The processes a trial leaves behind (besides its shell), by the file each
        /// writes its pid into: a `sleep` in the trial's group, one with an empty
        /// environment in that group, a `python3` in a session of its own.
        const LEFT: [&str; 3] = ["group.pid", "noenv.pid", "session.pid"];

        /// Starts in `dir`, as a sweep starts a trial of run `run_id` (a process group of
        /// its own, the run id in the environment), a shell that starts the [`LEFT`]
        /// processes and waits; with `ignore_term`, all of them ignore SIGTERM. Returns
        /// the shell and the pids of the shell and the others.
        fn trial(dir: &Path, run_id: &str, ignore_term: bool) -> (Child, Vec<Pid>) {
            let trap = if ignore_term { "trap '' TERM\n" } else { "" };
            let script = format!(
                "{trap}sleep 300 &\necho $! > group.pid\n\
                 env -i \"$(command -v sleep)\" 300 &\necho $! > noenv.pid\n\
                 python3 -c 'import os, time\nos.setsid()\n\
                 open(\"session.tmp\", \"w\").write(str(os.getpid()))\n\
                 os.rename(\"session.tmp\", \"session.pid\")\ntime.sleep(300)' &\nwait\n"
            );
            let mut shell = Command::new("sh")
                .args(["-c", &script])
                .current_dir(dir)
                .env(RUN_ID_VAR, run_id)
                .process_group(0)
                .spawn()
                .expect("start sh");
            let mut pids = vec![Pid::from_raw(shell.id() as i32)];
            for name in LEFT {
                let path = dir.join(name);
                let pid = loop {
                    if let Some(pid) = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                    {
                        break pid;
                    }
                    if let Some(status) = shell.try_wait().unwrap() {
                        panic!("the trial's shell exited ({status}) before writing {name}");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                pids.push(Pid::from_raw(pid));
            }
            (shell, pids)
        }

        fn running(pids: &[Pid]) -> Vec<bool> {
            pids.iter().map(|&pid| group_of(pid).is_some()).collect()
        }

        #[test]
        fn ends_the_named_trials_processes_and_no_others() {
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let id = |n: &str| format!("{n}-{}", uuid::Uuid::new_v4().simple());
            let (id_a, id_b) = (id("a"), id("b"));
            let (mut shell_a, pids_a) = trial(a.path(), &id_a, false);
            let (mut shell_b, pids_b) = trial(b.path(), &id_b, false);

            assert_eq!(
                end_leftover_trials(&[] as &[&str], Duration::ZERO).unwrap(),
                Ended::default()
            );
            let ended =
                end_leftover_trials(&[id_a.as_str(), "no-such-run"], Duration::from_secs(30))
                    .unwrap();
            assert_eq!(ended.processes, 4, "{ended:?}");
            assert_eq!(
                running(&pids_a),
                [false; 4],
                "trial a's processes: {pids_a:?}"
            );
            assert_eq!(
                running(&pids_b),
                [true; 4],
                "trial b's processes: {pids_b:?}"
            );
            shell_a.wait().unwrap();

            let ended = end_leftover_trials(&[&id_b], Duration::from_secs(30)).unwrap();
            assert_eq!(ended.processes, 4, "{ended:?}");
            assert_eq!(
                running(&pids_b),
                [false; 4],
                "trial b's processes: {pids_b:?}"
            );
            shell_b.wait().unwrap();
        }

        #[test]
        fn what_ignores_sigterm_gets_sigkill() {
            let dir = tempfile::tempdir().unwrap();
            let id = format!("t-{}", uuid::Uuid::new_v4().simple());
            let (mut shell, pids) = trial(dir.path(), &id, true);
            let ended = end_leftover_trials(&[&id], Duration::from_millis(100)).unwrap();
            assert_eq!(
                ended,
                Ended {
                    processes: 4,
                    killed: 4
                }
            );
            assert_eq!(running(&pids), [false; 4], "{pids:?}");
            shell.wait().unwrap();
        }
    }
}
