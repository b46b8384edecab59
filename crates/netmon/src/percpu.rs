//! Reads the per-CPU counter arrays of the kernel side (drops by reason, resets by reason, the
//! overflow slots) in one `BPF_MAP_LOOKUP_BATCH` call per map (Linux 5.6+) instead of one
//! `BPF_MAP_LOOKUP_ELEM` per slot: the drop-reason array alone has 1024 slots, which made each
//! performance snapshot cost about 1300 `bpf(2)` calls. aya 0.13 has no batch API, so the call
//! is made here with the kernel's `bpf_attr.batch` layout; when the kernel refuses it, the
//! caller reads slot by slot as before.

use std::io;
use std::os::fd::RawFd;

/// `enum bpf_cmd`: `BPF_MAP_LOOKUP_BATCH`.
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;

/// `union bpf_attr`'s `batch` member (include/uapi/linux/bpf.h); the kernel accepts a shorter
/// attribute than its own union as long as what it leaves out would be zero.
#[repr(C, align(8))]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// Per slot of the per-CPU `u64` array `fd` (slots `0..slots`), its sum over the `cpus` possible
/// CPUs, read in one batch. Fails with the kernel's error (e.g. `EINVAL` before Linux 5.6).
pub(crate) fn sums(fd: RawFd, slots: u32, cpus: usize) -> io::Result<Vec<u64>> {
    if slots == 0 {
        return Ok(Vec::new());
    }
    let n = slots as usize;
    let mut keys = vec![0u32; n];
    // Per slot, one 8-byte value per possible CPU (a u64 needs no rounding up).
    let mut values = vec![0u64; n * cpus];
    let mut next = 0u32;
    let mut attr = BatchAttr {
        out_batch: &mut next as *mut u32 as u64,
        keys: keys.as_mut_ptr() as u64,
        values: values.as_mut_ptr() as u64,
        count: slots,
        map_fd: fd as u32,
        ..BatchAttr::default()
    };
    // SAFETY: `attr` points at buffers that hold `count` keys (4 bytes each, the arrays' key
    // size), `count * cpus` u64 values and one key for `out_batch`, all alive for the call; the
    // kernel writes only within them and into `attr.count`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_LOOKUP_BATCH,
            &mut attr as *mut BatchAttr,
            std::mem::size_of::<BatchAttr>() as u32,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // ENOENT: the end of the array came before `count` slots (what was read is valid).
        if e.raw_os_error() != Some(libc::ENOENT) {
            return Err(e);
        }
    }
    let got = (attr.count as usize).min(n);
    let mut out = vec![0u64; n];
    for (i, key) in keys.iter().take(got).enumerate() {
        let slot = *key as usize;
        if slot < n {
            out[slot] = values[i * cpus..(i + 1) * cpus].iter().sum();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_descriptor_is_an_error_not_a_panic() {
        let e = sums(-1, 4, 2).unwrap_err();
        // EBADF as root; EPERM without CAP_BPF; ENOSYS where bpf(2) is filtered out.
        assert!(e.raw_os_error().is_some(), "{e}");
        assert_eq!(sums(-1, 0, 2).unwrap(), Vec::<u64>::new());
    }
}
