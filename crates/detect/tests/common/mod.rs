//! Set-up shared by the tests that run the built-in rules through the detection stage.

// Each test file uses part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use loglynx_detect::{Alert, AlertBook, AlertFilter, DetectionStage, DetectionStats, Detector, DetectorOptions, LoadOptions, RuleSet};

/// The built-in rules with `params` set (the `[tcp_states]` thresholds they take, see
/// `loglynx_detect::rules::builtin_with`), all of them compiled.
pub fn builtin_detector(params: &[(&str, &str)]) -> Detector {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let texts = loglynx_detect::rules::builtin_with(&params);
    let texts: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let rules = RuleSet::load_all::<&str>(&[], &texts, LoadOptions::default()).unwrap();
    assert!(rules.rejected().is_empty(), "{:?}", rules.rejected());
    Detector::new(rules, DetectorOptions::default())
}

/// [`builtin_detector`] run by a detection stage that
/// folds its matches into `book` and resolves quiet alerts after `resolve_after` seconds of
/// event time (0: never).
pub fn builtin_stage(params: &[(&str, &str)], book: AlertBook, resolve_after: u64) -> (Arc<Detector>, DetectionStage, Arc<AlertBook>) {
    let detector = Arc::new(builtin_detector(params));
    let book = Arc::new(book);
    let mut stage = DetectionStage::new(detector.clone(), book.clone(), Arc::new(Mutex::new(DetectionStats::default())));
    stage.resolve_after(resolve_after);
    (detector, stage, book)
}

/// Every alert of `book`, by rule name, group and first event.
pub fn all_alerts(book: &AlertBook) -> Vec<Alert> {
    let (_, mut a) = book.list(&AlertFilter { limit: 10_000, ..Default::default() }).unwrap();
    a.sort_by_key(|x| (x.rule.name.clone(), serde_json::to_string(&x.group).unwrap(), x.first_seen));
    a
}
