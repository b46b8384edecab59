//! Reads the per-CPU counter arrays of the kernel side (drops by reason, resets by reason, the
//! overflow slots) in one `BPF_MAP_LOOKUP_BATCH` call per range of slots (Linux 5.6+) instead of one
//! `BPF_MAP_LOOKUP_ELEM` per slot: the drop-reason array alone has 1024 slots, which made each
//! performance snapshot cost about 1300 `bpf(2)` calls. Only the slots that can hold a count are
//! read (`Tracer::reason_slots`): the kernel copies each slot's value per CPU, and the reasons
//! a kernel names fill about a tenth of the drop-reason array. aya 0.13 has no batch API, so the call
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

/// `bpf(2)` with command `cmd` and attribute `attr`: its result, or the kernel's error.
///
/// # Safety
///
/// `attr` must have the kernel's layout for `cmd`, and every pointer in it must be valid, for
/// the sizes `cmd` reads and writes, until the call returns.
unsafe fn bpf<A>(cmd: libc::c_long, attr: &mut A) -> io::Result<libc::c_long> {
    // SAFETY: the caller vouches for `attr`; the kernel reads `size_of::<A>()` bytes of it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut A,
            std::mem::size_of::<A>() as u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Per slot of the per-CPU `u64` array `fd` in `first..first + slots`, its sum over the `cpus`
/// possible CPUs (index 0 of the answer is slot `first`), read in one batch. Fails with the
/// kernel's error (e.g. `EINVAL` before Linux 5.6).
pub(crate) fn sums(fd: RawFd, first: u32, slots: u32, cpus: usize) -> io::Result<Vec<u64>> {
    if slots == 0 {
        return Ok(Vec::new());
    }
    let n = slots as usize;
    let mut keys = vec![0u32; n];
    // Per slot, one 8-byte value per possible CPU (a u64 needs no rounding up).
    let mut values = vec![0u64; n * cpus];
    let mut next = 0u32;
    // The batch starts after the key `in_batch` points at (the last key of a previous batch),
    // or at the first slot when there is none.
    let mut before = first.wrapping_sub(1);
    let mut attr = BatchAttr {
        in_batch: if first > 0 {
            &mut before as *mut u32 as u64
        } else {
            0
        },
        out_batch: &mut next as *mut u32 as u64,
        keys: keys.as_mut_ptr() as u64,
        values: values.as_mut_ptr() as u64,
        count: slots,
        map_fd: fd as u32,
        ..BatchAttr::default()
    };
    // SAFETY: `attr` points at buffers that hold `count` keys (4 bytes each, the arrays' key
    // size), `count * cpus` u64 values and one key each for `in_batch` (read) and `out_batch`,
    // all alive for the call; the kernel writes only within them and into `attr.count`.
    match unsafe { bpf(BPF_MAP_LOOKUP_BATCH, &mut attr) } {
        // ENOENT: the end of the array came before `count` slots (what was read is valid).
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(e),
        _ => {}
    }
    let got = (attr.count as usize).min(n);
    let mut out = vec![0u64; n];
    for (i, key) in keys.iter().take(got).enumerate() {
        if let Some(slot) = key
            .checked_sub(first)
            .map(|k| k as usize)
            .filter(|k| *k < n)
        {
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
        let e = sums(-1, 0, 4, 2).unwrap_err();
        // EBADF as root; EPERM without CAP_BPF; ENOSYS where bpf(2) is filtered out.
        assert!(e.raw_os_error().is_some(), "{e}");
        assert_eq!(sums(-1, 0, 0, 2).unwrap(), Vec::<u64>::new());
    }

    /// A real per-CPU array of 64 slots (root): slot i holds i + 1 on CPU 0 and 100 on CPU 1
    /// (when there is one); any range of slots reads back those sums, including one that starts
    /// past slot 0 (the batch's start key) and the last slot alone.
    #[test]
    fn ranges_of_a_real_per_cpu_array_read_back_what_was_written() {
        if !loglynx_testkit::require_root("creates a BPF map") {
            return;
        }
        const BPF_MAP_CREATE: libc::c_long = 0;
        const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
        const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
        let cpus = aya::util::nr_cpus().unwrap();
        // The first members of `union bpf_attr` for BPF_MAP_CREATE; the kernel takes the rest as 0.
        #[repr(C)]
        struct Create {
            map_type: u32,
            key_size: u32,
            value_size: u32,
            max_entries: u32,
            map_flags: u32,
            inner_map_fd: u32,
        }
        let mut create = Create {
            map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 64,
            map_flags: 0,
            inner_map_fd: 0,
        };
        // SAFETY: a map-create attribute of the kernel's layout, with no pointer.
        let fd = unsafe { bpf(BPF_MAP_CREATE, &mut create) }.expect("BPF_MAP_CREATE") as RawFd;
        #[repr(C, align(8))]
        struct Update {
            map_fd: u32,
            _pad: u32,
            key: u64,
            value: u64,
            flags: u64,
        }
        let expect = |slot: u32| u64::from(slot) + 1 + if cpus > 1 { 100 } else { 0 };
        for slot in 0u32..64 {
            let mut values = vec![0u64; cpus];
            values[0] = u64::from(slot) + 1;
            if cpus > 1 {
                values[1] = 100;
            }
            let mut u = Update {
                map_fd: fd as u32,
                _pad: 0,
                key: &slot as *const u32 as u64,
                value: values.as_ptr() as u64,
                flags: 0,
            };
            // SAFETY: key and value buffers of the map's sizes, alive for the call.
            let rc = unsafe { bpf(BPF_MAP_UPDATE_ELEM, &mut u) }.expect("BPF_MAP_UPDATE_ELEM");
            assert_eq!(rc, 0, "BPF_MAP_UPDATE_ELEM");
        }
        for (first, n) in [
            (0u32, 64u32),
            (0, 10),
            (1, 5),
            (17, 30),
            (63, 1),
            (60, 10),
            (64, 3),
        ] {
            let got = sums(fd, first, n, cpus).unwrap();
            let want: Vec<u64> = (first..first + n)
                .map(|s| if s < 64 { expect(s) } else { 0 })
                .collect();
            assert_eq!(got, want, "slots {first}..{}", first + n);
        }
        // SAFETY: the descriptor was opened above and is not used again.
        unsafe { libc::close(fd) };
    }
}
