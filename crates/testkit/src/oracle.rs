//! Expected results computed from the lines themselves, independently of the code under test.

use std::collections::BTreeMap;

/// Per source address, (event time in seconds, event id) of the SSH "Failed <method> for ...
/// from ADDR" messages among `(time, id, message)`, in input order.
pub fn ssh_failures<'a>(events: impl IntoIterator<Item = (i64, &'a str, &'a str)>) -> BTreeMap<String, Vec<(i64, String)>> {
    let mut m: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for (t, id, msg) in events {
        // `message repeated N times: [ Failed ...]` holds one failure too
        let Some(at) = msg.find("Failed ") else { continue };
        let m2 = &msg[at..];
        if !(at == 0 || msg[..at].ends_with("[ ")) || !m2.contains(" for ") {
            continue;
        }
        let Some(addr) = m2.rsplit(" from ").next().and_then(|r| r.split(' ').next()) else { continue };
        if addr.parse::<std::net::IpAddr>().is_err() {
            continue;
        }
        m.entry(addr.to_string()).or_default().push((t, id.to_string()));
    }
    m
}

/// The alerts an event-count rule raises over `times` (sorted): it fires when `threshold`
/// matches fall within `window` seconds; then every match within `suppress` seconds of the
/// previous one folds into the alert; after a longer gap the rule must fire again for a new
/// alert. Each alert as (event time of its first event, count).
pub fn event_count_alerts(times: &[(i64, String)], threshold: usize, window: i64, suppress: i64) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut k = 0;
    while k < times.len() {
        let t = times[k].0;
        let first = (from..=k).find(|&i| times[i].0 >= t - window).unwrap_or(k);
        if k + 1 - first < threshold {
            k += 1;
            continue;
        }
        let mut count = (k + 1 - first) as u64;
        let mut last = t;
        let mut j = k + 1;
        while j < times.len() && times[j].0 <= last + suppress {
            count += 1;
            last = last.max(times[j].0);
            j += 1;
        }
        out.push((times[first].0, count));
        from = j;
        k = j;
    }
    out
}

/// The alerts a value-count rule raises over `events` (time in seconds, value; sorted by time):
/// it fires when the events within `window` seconds hold `threshold` distinct values; the
/// alert counts those events, then every event within `suppress` seconds of the previous one
/// folds in; after a longer gap the rule must fire again for a new alert. Each alert as (event
/// time of its first event, count).
pub fn value_count_alerts(events: &[(i64, String)], threshold: usize, window: i64, suppress: i64) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut k = 0;
    while k < events.len() {
        let t = events[k].0;
        let first = (from..=k).find(|&i| events[i].0 >= t - window).unwrap_or(k);
        let distinct: std::collections::BTreeSet<&str> = events[first..=k].iter().map(|(_, v)| v.as_str()).collect();
        if distinct.len() < threshold {
            k += 1;
            continue;
        }
        let mut count = (k + 1 - first) as u64;
        let mut last = t;
        let mut j = k + 1;
        while j < events.len() && events[j].0 <= last + suppress {
            count += 1;
            last = last.max(events[j].0);
            j += 1;
        }
        out.push((events[first].0, count));
        from = j;
        k = j;
    }
    out
}
