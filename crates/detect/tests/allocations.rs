//! What matching costs in heap allocations: reading an event's fields through `SigmaEvent`
//! allocates nothing; rsigma's `Engine::evaluate` allocates once per event without a match (its
//! candidate set), more per match (the result). Counted with a counting global allocator; the figures are printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use loglynx_core::{Event, Timestamp};
use loglynx_detect::{RuleSet, SigmaEvent};
use rsigma_eval::Event as _;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    f();
    ALLOCS.load(Ordering::Relaxed) - before
}

#[test]
fn field_access_does_not_allocate_and_evaluation_allocates_little() {
    let mut e = Event::new(
        "Accepted password for alice from 10.0.0.1 port 22 ssh2",
        Timestamp::from_secs(1),
        Timestamp::from_secs(1),
        "1".into(),
    );
    e.process_name = Some("sshd".into());
    e.source_port = Some(22);
    e.labels.insert("url.original".into(), "/".into());

    let s = SigmaEvent(&e);
    let n = allocations(|| {
        for f in [
            "message",
            "process.name",
            "source.port",
            "url.original",
            "user.name",
        ] {
            std::hint::black_box(s.get_field(f));
        }
        std::hint::black_box(s.any_string_value(&|v| v.contains("password")));
    });
    assert_eq!(n, 0, "reading fields allocated {n} times");

    let dir = tempfile::tempdir().unwrap();
    let rule = "title: r\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['Failed password']\n  condition: k\n";
    std::fs::write(dir.path().join("r.yml"), rule).unwrap();
    let set = RuleSet::load(&[dir.path()]).unwrap();
    let runs = 1000;
    let n = allocations(|| {
        for _ in 0..runs {
            std::hint::black_box(set.matching_rules(&e));
        }
    });
    println!(
        "RuleSet::matching_rules without a match: {:.1} allocations per event",
        n as f64 / runs as f64
    );
    assert!(n <= runs * 2, "{n} allocations for {runs} events");
}
