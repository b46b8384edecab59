//! Input a miner must survive with bounded memory: one 100 KB token, binary junk, a million
//! distinct lines without structure, a flood of one template.

use loglynx_patterns::{Miner, MinerSettings, OVERFLOW_TEMPLATE, template_id};

#[test]
fn a_huge_token_and_binary_junk_get_templates_without_keeping_them() {
    let mut m = Miner::new(MinerSettings::default());
    let huge = "x".repeat(100_000);
    let a = m.mine("svc", &huge, 0);
    let b = m.mine("svc", &"y".repeat(100_000), 1);
    assert_eq!(a.id, b.id, "two huge tokens are one value");
    let line = format!("upload {huge} done");
    m.mine("svc", &line, 2);
    let junk = String::from_utf8_lossy(&[0xff, 0x00, 0x1b, 0x80, b'a', 0xfe, 0x07]).into_owned();
    m.mine("svc", &junk, 3);
    m.mine("svc", "", 4);
    m.mine("svc", "\u{0}\u{1}\u{2}", 5);
    let d = m.dictionary();
    for t in d.templates() {
        assert!(t.template.len() <= 1024, "template kept {} bytes", t.template.len());
        assert!(t.example.len() <= 512, "example kept {} bytes", t.example.len());
    }
    assert!(d.templates().iter().any(|t| t.template == "upload <*> done"));
    // a line of 100,000 words is cut into a bounded number of tokens
    let words = (0..100_000).map(|i| format!("w{}", i % 7)).collect::<Vec<_>>().join(" ");
    m.mine("svc", &words, 6);
    assert!(m.save().len() < 200_000, "state grew to {} bytes", m.save().len());
}

#[test]
fn a_million_distinct_lines_stay_under_the_cap_with_the_overflow_counted() {
    let cap = 500;
    let mut m = Miner::new(MinerSettings { max_templates: cap, ..Default::default() });
    let mut overflow = 0u64;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut line = String::new();
    for i in 0..1_000_000 {
        // words of letters only, none alike: no structure to find
        line.clear();
        for _ in 0..(1 + i % 6) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..6 {
                line.push((b'a' + ((x >> (k * 5)) % 26) as u8) as char);
            }
            line.push(' ');
        }
        if m.mine("noise", &line, i).overflow {
            overflow += 1;
        }
    }
    assert_eq!(m.template_count(), cap);
    let d = m.dictionary();
    assert_eq!(d.overflow(), &[("noise".to_string(), overflow)]);
    assert!(overflow > 900_000, "overflow {overflow}");
    assert_eq!(m.mine("noise", "zzzzzz qqqqqq wwwwww eeeeee rrrrrr tttttt uuuuuu", 0).id, template_id(OVERFLOW_TEMPLATE));
}

#[test]
fn a_flood_of_one_template_keeps_one_template() {
    let mut m = Miner::new(MinerSettings::default());
    let mut ids = std::collections::HashSet::new();
    for i in 0..100_000u64 {
        let r = m.mine("web", &format!("GET /api/items/{i} took {} ms from 10.0.{}.{}", i % 900, i % 256, i % 7), i as i64);
        ids.insert(r.id);
    }
    assert_eq!(m.template_count(), 1);
    let d = m.dictionary();
    assert_eq!(d.templates()[0].template, "GET /api/items/<*> took <*> ms from <*>");
    assert_eq!(d.templates()[0].count, 100_000);
    // every id handed out resolves to the one template
    assert!(ids.iter().all(|id| d.get(*id).is_some_and(|t| t.template == d.templates()[0].template)));
}

#[test]
fn tokens_of_keys_quotes_and_brackets_in_any_order_get_templates() {
    // keyed values (issue 12) are cut at `=`, `:`, quotes and brackets: any mix of them, with
    // non-ASCII and long runs, must mine without a panic and with bounded templates
    let alphabet: Vec<char> = "ab=:,;\"'()[]{}<>./@_-|&019xé\u{fffd}*".chars().collect();
    let mut m = Miner::new(MinerSettings::default());
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000 {
        let mut line = String::from("set ");
        let len = (next() % 300) as usize;
        for _ in 0..len {
            let r = next();
            line.push(if r % 11 == 0 { ' ' } else { alphabet[(r >> 8) as usize % alphabet.len()] });
        }
        m.mine("svc", &line, i);
    }
    for t in m.dictionary().templates() {
        assert!(t.template.len() <= 4096, "template kept {} bytes", t.template.len());
    }
    let back = Miner::load(MinerSettings::default(), &m.save()).expect("the state reads back");
    assert_eq!(back.template_count(), m.template_count());
}
