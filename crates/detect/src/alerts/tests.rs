//! The alert book: folding, replays, closing, and copies merged in any order.

use std::path::PathBuf;

use loglynx_core::Timestamp;

use super::*;
use crate::correlate::Fired;
use crate::ruleset::RuleInfo;

fn rule() -> RuleInfo {
    RuleInfo {
        title: "t".into(),
        id: Some("r1".into()),
        name: Some("r".into()),
        level: Some("high".into()),
        author: Some("a".into()),
        file: PathBuf::from("x.yml"),
        logsource: String::new(),
        resolves: false,
    }
}

fn fired<'a>(r: &'a RuleInfo, ts: i64, ev: &'a str, evidence: &[&str]) -> Signal<'a> {
    Signal {
        rule: std::borrow::Cow::Borrowed(r),
        group: vec![("source.ip".into(), "1.2.3.4".into())],
        ts,
        event_id: ev,
        host: None,
        fired: Some(Fired { value: 1.0, first_ts: 100, evidence: evidence.iter().map(|s| s.to_string()).collect() }),
    }
}

#[test]
fn matches_fold_replays_count_once_and_a_closed_alert_is_not_reopened() {
    let book = AlertBook::in_memory(3600, 1000).unwrap();
    let r = rule();
    let created = book.apply(&[fired(&r, 110, "e2", &["e1", "e2"])]).unwrap();
    assert_eq!(created.len(), 1);
    let first = created[0].id.clone();
    // more of the same, and a replay of e1/e2: folds, counts e3 once
    assert!(book.apply(&[fired(&r, 120, "e3", &["e1", "e2", "e3"]), fired(&r, 120, "e3", &["e3"])]).unwrap().is_empty());
    assert_eq!(book.get(&first).unwrap().unwrap().count, 3);
    // closed: the next firing of the same window raises a new alert, the closed one keeps its count
    book.set_status(&first, AlertStatus::Closed, "bob", None).unwrap();
    let again = book.apply(&[fired(&r, 130, "e4", &["e3", "e4"])]).unwrap();
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, first);
    assert_eq!(book.get(&first).unwrap().unwrap().count, 3);
    assert_eq!(book.get(&first).unwrap().unwrap().status, AlertStatus::Closed);
    // and later matches fold into the new one, not the closed one
    assert!(book.apply(&[fired(&r, 140, "e5", &["e5"])]).unwrap().is_empty());
    assert_eq!(book.get(&again[0].id).unwrap().unwrap().count, 3);
    let (total, _) = book.list(&AlertFilter { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(total, 2);
}

#[test]
fn changes_are_reported_once_and_copies_merge_to_the_same_alert_in_any_order() {
    // The correlator's book: the changes it publishes; a replay publishes nothing.
    let corr = AlertBook::in_memory(3600, 1000).unwrap();
    let r = rule();
    let a = corr.apply_changes(&[fired(&r, 110, "e2", &["e1", "e2"])]).unwrap();
    assert_eq!((a.created.len(), a.changed.len()), (1, 1));
    let b = corr.apply_changes(&[fired(&r, 120, "e3", &["e3"])]).unwrap();
    assert_eq!((b.created.len(), b.changed.len()), (0, 1));
    assert_eq!(b.changed[0].count, 3);
    let replay = corr.apply_changes(&[fired(&r, 120, "e3", &["e1", "e2", "e3"])]).unwrap();
    assert!(replay.changed.is_empty(), "{:?}", replay.changed);

    // serve's book: the alert as first published, then acknowledged there, then the
    // correlator's later copy (count 3, no acknowledgement) arrives: one alert, acknowledged,
    // counting 3, whichever order the copies come in.
    let first = a.changed[0].clone();
    let later = b.changed[0].clone();
    let mut acked = first.clone();
    acked.status = AlertStatus::Acknowledged;
    acked.history.push(Change { status: AlertStatus::Acknowledged, by: "ann".into(), at: Timestamp::from_secs(200), comment: None });
    for order in [vec![first.clone(), acked.clone(), later.clone()], vec![later.clone(), acked.clone(), first.clone()]] {
        let serve = AlertBook::in_memory(3600, 1000).unwrap();
        for copy in order {
            serve.merge(&[copy]).unwrap();
        }
        let got = serve.get(&first.id).unwrap().unwrap();
        assert_eq!((got.status, got.count, got.evidence.len()), (AlertStatus::Acknowledged, 3, 3));
        assert_eq!(got.history.len(), 2);
    }
    // A merged alert is the latest of its rule + group: new matches fold into it.
    let restored = AlertBook::in_memory(3600, 1000).unwrap();
    restored.merge(&[later.clone()]).unwrap();
    let more = restored.apply_changes(&[fired(&r, 130, "e4", &["e4"])]).unwrap();
    assert!(more.created.is_empty());
    assert_eq!(more.changed[0].id, later.id);
    assert_eq!(more.changed[0].count, 4);
}
