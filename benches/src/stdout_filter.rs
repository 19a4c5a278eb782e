//! Keeps a benchmark's stdout readable while the code under test writes to it: the redirect
//! handler prints one EMF metric line per click (`adapters::metrics`), as in production where
//! stdout is a pipe to the Lambda log collector. [`StdoutFilter`] points fd 1 at a pipe, so
//! each line still costs the handler a real `write(2)` to a pipe, and a thread drains it,
//! dropping JSON lines and forwarding everything else (criterion's report) to the real stdout.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::thread::JoinHandle;

/// Restores the original stdout on drop (after forwarding what is still in the pipe).
pub struct StdoutFilter {
    saved: RawFd,
    drain: Option<JoinHandle<u64>>,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl StdoutFilter {
    pub fn install() -> io::Result<Self> {
        io::stdout().flush()?;
        let mut fds: [libc::c_int; 2] = [0; 2];
        // SAFETY: plain fd syscalls on descriptors we own; `fds` has room for two.
        let (read_end, saved, forward) = unsafe {
            check(libc::pipe(fds.as_mut_ptr()))?;
            let saved = check(libc::dup(1))?;
            let forward = check(libc::dup(saved))?;
            check(libc::dup2(fds[1], 1))?;
            check(libc::close(fds[1]))?;
            (File::from_raw_fd(fds[0]), saved, File::from_raw_fd(forward))
        };
        let drain = std::thread::Builder::new().name("stdout-filter".into()).spawn(move || {
            let mut dropped = 0;
            let mut out = io::BufWriter::new(forward);
            for line in BufReader::new(read_end).split(b'\n').map_while(Result::ok) {
                if line.starts_with(b"{\"") {
                    dropped += 1;
                } else {
                    let _ = out.write_all(&line);
                    let _ = out.write_all(b"\n");
                    let _ = out.flush();
                }
            }
            dropped
        })?;
        Ok(Self { saved, drain: Some(drain) })
    }
}

impl Drop for StdoutFilter {
    fn drop(&mut self) {
        let _ = io::stdout().flush();
        // SAFETY: `saved` is our duplicate of the original fd 1; dup2 closes the pipe's write
        // end, so the drain thread sees EOF and ends.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}
