//! The scheduler slice a thread asks for (Linux 6.12+).
//!
//! Since Linux 6.12 the fair scheduler (EEVDF) takes `sched_attr.sched_runtime` as the slice a
//! thread requests, and a waking thread whose slice is shorter than the running thread's
//! preempts it at once instead of waiting for that slice to end (about 1.4 ms on 2 cores).
//! loglynx gives the threads that answer requests (the async runtime's workers and blocking
//! pool, where searches run) the shortest slice, and the store's indexing threads the kernel's
//! default: a search that wakes while indexing keeps every core busy starts at once
//! (docs/BENCHMARKS.md, "short slices"). A thread inherits its creator's slice, so the store's
//! writer thread, started from the runtime, goes back to the default before it starts
//! tantivy's threads; so does the journald reader's thread, and parsing, which runs on the
//! runtime's blocking pool, takes the default for each batch ([`with_default_slice`]).
//! Older kernels ignore the request: nothing depends on it.

use std::io;

/// The slice that request-serving threads ask for: the shortest the kernel grants.
pub const SHORT_SLICE_NS: u64 = 100_000;

/// `struct sched_attr` as of Linux 3.14 (`SCHED_ATTR_SIZE_VER0`, 48 bytes).
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// The attributes of thread `tid` (0: the calling thread).
#[cfg(target_os = "linux")]
fn get(tid: libc::pid_t) -> io::Result<SchedAttr> {
    let mut a = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as libc::c_uint;
    // SAFETY: sched_getattr writes at most `size` bytes, one `struct sched_attr`, into `a`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            tid,
            &mut a as *mut SchedAttr,
            size,
            0,
        )
    };
    if rc == 0 {
        Ok(a)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks for a slice of `ns` nanoseconds for the calling thread (`None`: the kernel's default),
/// keeping its policy and niceness.
pub fn set_slice(ns: Option<u64>) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let mut a = get(0)?;
        a.size = std::mem::size_of::<SchedAttr>() as u32;
        a.runtime = ns.unwrap_or(0);
        // SAFETY: sched_setattr reads one `struct sched_attr` of `a.size` bytes from `a`.
        let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = ns;
    Ok(())
}

/// The calling thread's slice in nanoseconds (0 on kernels before 6.12, which have none).
pub fn slice_ns() -> io::Result<u64> {
    thread_slice_ns(0)
}

/// The slice of thread `tid` of this machine (0: the calling thread), as [`slice_ns`].
pub fn thread_slice_ns(tid: i32) -> io::Result<u64> {
    #[cfg(target_os = "linux")]
    return Ok(get(tid)?.runtime);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        Ok(0)
    }
}

/// Whether this kernel takes per-thread slices (Linux 6.12 or later, or a kernel with the
/// feature backported): such a kernel reports every fair thread's slice, older ones 0.
pub fn has_slices() -> bool {
    slice_ns().is_ok_and(|ns| ns > 0)
}

/// Runs `f` on the calling thread with the kernel's default slice, then gives the thread back
/// the short slice if it had it: for CPU-heavy work (parsing a batch) done on a thread of the
/// runtime's blocking pool, which searches also use. Two system calls around `f`.
pub fn with_default_slice<T>(f: impl FnOnce() -> T) -> T {
    let short = slice_ns().is_ok_and(|ns| ns == SHORT_SLICE_NS);
    if short {
        let _ = set_slice(None);
    }
    let out = f();
    if short {
        let _ = set_slice(Some(SHORT_SLICE_NS));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_asks_for_a_slice_and_goes_back_to_the_default() {
        std::thread::spawn(|| {
            let default = slice_ns().unwrap();
            set_slice(Some(SHORT_SLICE_NS)).unwrap();
            let short = slice_ns().unwrap();
            // Inherited by the threads it starts.
            let child = std::thread::spawn(|| slice_ns().unwrap()).join().unwrap();
            // Work wrapped in `with_default_slice` runs with the default, and the short slice
            // comes back after it.
            let inside = with_default_slice(|| slice_ns().unwrap());
            let after = slice_ns().unwrap();
            set_slice(None).unwrap();
            let back = slice_ns().unwrap();
            if has_slices() {
                assert!(default > SHORT_SLICE_NS, "{default}");
                assert_eq!(
                    (short, child, back),
                    (SHORT_SLICE_NS, SHORT_SLICE_NS, default)
                );
                assert_eq!((inside, after), (default, SHORT_SLICE_NS));
                // A thread with the default slice keeps it.
                assert_eq!(with_default_slice(|| slice_ns().unwrap()), default);
                assert_eq!(slice_ns().unwrap(), default);
            } else {
                assert_eq!((default, short, child, back, inside, after), (0, 0, 0, 0, 0, 0));
            }
        })
        .join()
        .unwrap();
    }
}
