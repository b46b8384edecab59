//! Every id the miner hands out resolves through its dictionary at the end, however often its
//! template was refined or merged with variants (events stored with it name it for good).

use loglynx_patterns::{format_id, Miner, MinerSettings};

#[test]
fn every_id_handed_out_resolves_after_many_refinements_and_merges() {
    // a proxy's access lines: servers, methods and one-level paths are words that vary at the
    // same places, so templates are born as variants, merge and refine again and again
    let methods = ["GET", "PUT", "POST", "DELETE", "PATCH"];
    let paths = ["/login", "/logout", "/cart", "/checkout", "/healthz", "/metrics", "/api/v1/items", "/images/logo.png", "/ws/notifications"];
    let mut m = Miner::new(MinerSettings::default());
    let mut ids = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..30_000i64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = |k: u64| (x >> k) as usize;
        let line = format!(
            "10.{}.{}.{}:{} [fe_https~] be_app/srv{} 0/0/{}/{}/{} {} {} - - ---- {}/{}/0/0/0 0/0 \"{} {} HTTP/1.1\"",
            r(3) % 256,
            r(11) % 256,
            r(19) % 256,
            r(27) % 60_000,
            1 + r(35) % 8,
            r(39) % 8,
            r(42) % 900,
            r(45) % 1100,
            [200, 302, 401, 404, 500][r(50) % 5],
            r(53) % 200_000,
            r(20) % 900,
            r(30) % 150,
            methods[r(57) % methods.len()],
            paths[r(60) % paths.len()],
        );
        ids.push(m.mine("haproxy", &line, i).id);
    }
    let d = m.dictionary();
    let missing: Vec<_> = ids.iter().filter(|id| d.get(**id).is_none()).map(|id| format_id(*id)).collect();
    assert!(missing.is_empty(), "{} of {} lines have an id the dictionary lost: {:?}", missing.len(), ids.len(), &missing[..missing.len().min(5)]);
}
