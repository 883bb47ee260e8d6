//! Running a child process with its output captured and a time limit:
//! the bench runner and the live Go runner both need it.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A finished child process with its output.
pub struct Captured {
    pub status: Option<ExitStatus>,
    pub timed_out: Option<Duration>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Captured {
    /// Exited by itself, with success.
    pub fn ok(&self) -> bool {
        self.timed_out.is_none() && self.status.is_some_and(|s| s.success())
    }

    /// How it ended, for an error message.
    pub fn status_text(&self) -> String {
        match (self.timed_out, self.status) {
            (Some(t), _) => format!("killed after the {}s timeout", t.as_secs()),
            (None, Some(s)) => s.to_string(),
            (None, None) => "no exit status".to_string(),
        }
    }
}

/// Runs a command with stdout and stderr captured (read on threads so a
/// full pipe never blocks the child), killing it after `timeout`.
pub fn run_captured(cmd: &mut Command, timeout: Option<Duration>) -> std::io::Result<Captured> {
    spawn_captured(cmd)?.wait(timeout)
}

/// A child started by [`spawn_captured`], its output being read.
pub struct Running {
    child: std::process::Child,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
    started: Instant,
}

/// Starts a command with stdout and stderr captured; [`Running::wait`]
/// finishes it. Two children that must run at the same time (lockstep) are
/// started one after the other, then waited for.
pub fn spawn_captured(cmd: &mut Command) -> std::io::Result<Running> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    Ok(Running {
        child,
        out,
        err,
        started: Instant::now(),
    })
}

impl Running {
    /// Waits for the child, killing it once `timeout` has passed since it
    /// started.
    pub fn wait(mut self, timeout: Option<Duration>) -> std::io::Result<Captured> {
        let mut timed_out = None;
        let status = loop {
            if let Some(s) = self.child.try_wait()? {
                break Some(s);
            }
            if let Some(t) = timeout
                && self.started.elapsed() > t
            {
                let _ = self.child.kill();
                let _ = self.child.wait();
                timed_out = Some(t);
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(Captured {
            status,
            timed_out,
            stdout: self.out.join().unwrap_or_default(),
            stderr: self.err.join().unwrap_or_default(),
        })
    }
}
