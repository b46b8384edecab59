//! The query language over a fixed corpus of ten events (see `common::language_corpus`):
//! every construct with its exact hit count.

mod common;

use loglynx_query::{Filter, QueryError};

fn error(q: &str) -> QueryError {
    let windows = common::language_corpus();
    match common::engine().count(
        &windows,
        &Filter {
            query: q.into(),
            ..Default::default()
        },
    ) {
        Ok(n) => panic!("query {q:?} should fail, matched {n}"),
        Err(e) => e,
    }
}

fn check(cases: &[(&str, u64)]) {
    let windows = common::language_corpus();
    let engine = common::engine();
    for (q, want) in cases {
        let got = engine
            .count(
                &windows,
                &Filter {
                    query: q.to_string(),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
        assert_eq!(got, *want, "query {q:?}");
    }
}

#[test]
fn empty_and_star_match_everything() {
    check(&[("", 10), ("  ", 10), ("*", 10), ("message:*", 10)]);
}

#[test]
fn bare_words_search_message_lowercased_and_anded() {
    check(&[
        ("disk", 4),
        ("DISK", 4),
        ("Disk", 4),
        ("disk full", 4),
        ("disk warning", 1),
        ("error", 1), // only e7 says "ERROR" in its message; log.level is not searched
        ("message:error", 1),
        ("nothing-like-this", 0),
    ]);
}

#[test]
fn phrases_need_adjacent_words() {
    check(&[
        ("\"disk full\"", 2), // e1 "Disk full", e10 "disk-full"; not "disk is full" nor "full disk"
        ("disk-full", 2),     // split like the index: the phrase "disk full"
        ("message:\"full disk\"", 1),
        ("\"DISK FULL\"", 2),
        ("\"connection failed\"", 1),
    ]);
}

#[test]
fn keyword_fields_are_exact_and_case_sensitive() {
    check(&[
        ("log.level:error", 3),
        ("log.level:ERROR", 0),
        ("log.level:err", 0),
        ("host.name:web1", 2),
        ("host.name:Web1", 1),
        ("host.name:\"my host\"", 1),
        ("service.name:nginx", 4),
        ("user.name:root", 1),
        ("source.ip:::1", 1),
        ("log.flags:truncated", 1),
    ]);
}

#[test]
fn boolean_operators_and_precedence() {
    check(&[
        ("disk OR connection", 6),
        ("disk || connection", 6),
        ("log.level:error AND host.name:web2", 1),
        ("log.level:error && host.name:web2", 1),
        // AND binds tighter than OR: error OR (warn AND web2)
        ("log.level:error OR log.level:warn AND host.name:web2", 4),
        ("(log.level:error OR log.level:warn) AND host.name:web2", 2),
        // implicit AND has AND's precedence: (error web2) OR db1
        ("log.level:error host.name:web2 OR host.name:db1", 3),
        ("NOT service.name:nginx", 6),
        ("-service.name:nginx", 6),
        ("!service.name:nginx", 6),
        ("disk -log.level:error", 3),
        ("disk NOT log.level:error", 3),
        ("NOT log.level:error OR host.name:web1", 8),
        ("disk AND NOT (host.name:db1 OR log.level:error)", 1),
        ("+disk +full", 4),
        ("NOT NOT log.level:error", 3),
        ("host.name:(web1 OR web2)", 4),
        ("host.name:(web1 OR web2) -log.level:warn", 2),
    ]);
}

/// Events a Kafka worker stored carry their partition and offset; the search root filters
/// leaves by offset ranges with these queries. Events stored by `run` have neither.
#[test]
fn kafka_partition_and_offset_ranges() {
    let events: Vec<loglynx_core::Event> = (0..10u64)
        .map(|i| {
            let mut e = common::event(&format!("k{i}"), i as i64, "line");
            if i < 8 {
                e.kafka_partition = Some(i % 2);
                e.kafka_offset = Some(100 + i * 20);
            }
            e
        })
        .collect();
    let windows = vec![common::window("kafka", &[events])];
    let engine = common::engine();
    for (q, want) in [
        ("kafka.offset:[100 TO 200]", 6),
        ("kafka.offset:[100 TO 200}", 5),
        ("kafka.partition:1", 4),
        ("kafka.partition:0 AND kafka.offset:[140 TO 220]", 3),
        ("kafka.offset:[0 TO *]", 8),
        ("NOT kafka.offset:[0 TO *]", 2),
    ] {
        let got = engine
            .count(&windows, &Filter { query: q.into(), ..Default::default() })
            .unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
        assert_eq!(got, want, "query {q:?}");
    }
}

#[test]
fn numeric_ranges_inclusive_exclusive_and_comparisons() {
    check(&[
        ("process.pid:100", 2),
        ("process.pid:[100 TO 200]", 4),
        ("process.pid:{100 TO 200}", 1),
        ("process.pid:[100 TO 200}", 3),
        ("process.pid:{100 TO 200]", 2),
        ("process.pid:[* TO 50]", 2),
        ("process.pid:[300 TO *]", 2),
        ("process.pid:>=200", 4),
        ("process.pid:>200", 3),
        ("process.pid:<100", 3),
        ("process.pid:<=100", 5),
        ("process.pid:*", 10),
        ("source.port:*", 0),
    ]);
}

#[test]
fn date_ranges() {
    check(&[
        ("@timestamp:>=2024-05-01T10:04:00Z", 6),
        (
            "@timestamp:[2024-05-01T10:02:00Z TO 2024-05-01T10:04:00Z}",
            2,
        ),
        (
            "@timestamp:[2024-05-01T10:02:00Z TO 2024-05-01T10:04:00Z]",
            3,
        ),
        ("@timestamp:2024-05-01T10:00:00Z", 1),
        ("@timestamp:>=2024-05-01", 10),
        ("@timestamp:<2024-05-01", 0),
        ("@timestamp:<now", 10),
        ("@timestamp:>=now-1h", 0),
        ("event.ingested:>2024-05-01T10:00:01Z", 9),
    ]);
}

#[test]
fn wildcards() {
    check(&[
        ("service.name:ngin*", 5),
        ("service.name:*proxy", 1),
        ("service.name:p?stgres", 2),
        ("service.name:NGIN*", 0),
        ("host.name:web?", 6),
        ("message:fail*", 3),
        ("FAIL*", 3),
        ("f?iled", 2),
        ("service.name:nginx\\*", 0),
        ("host.name:*", 10),
        ("user.name:*", 1),
    ]);
}

/// Found by AFL (`query_parser`, 2026-12-04): a term of ~20 wildcards between multi-byte
/// characters took a second to compile (and then failed as too complex). Runs of `*` count once
/// and match as one; more than 10 wildcards in a term are refused at once, naming the term.
#[test]
fn wildcard_terms_are_bounded_and_runs_of_stars_are_one() {
    check(&[
        ("service.name:ngin****", 5),
        ("service.name:**proxy", 1),
        ("service.name:*g*i*n*x*", 5),
        ("message:f*a*i*l*e*d*", 2),
    ]);
    let eleven = "é*".repeat(11);
    for q in [format!("message:{eleven}"), eleven.clone(), format!("service.name:{eleven}"), format!("labels.env:{eleven}")] {
        let err = error(&q);
        assert!(
            matches!(&err, QueryError::BadValue { value, reason, .. } if value == &eleven && reason.contains("at most 10")),
            "{q}: {err:?}"
        );
    }
    // ten is allowed (and a long run of stars is one)
    check(&[(&format!("service.name:zz{}{}", "?*".repeat(5), "*".repeat(30)), 0)]);
}

#[test]
fn labels() {
    check(&[
        ("labels.env:prod", 4),
        ("labels.env:PROD", 0),
        ("labels.env:pr*", 4),
        ("labels.team:core", 1),
        ("labels.env:*", 6),
        ("labels.k8s.pod:api-1", 1),
        ("labels.nope:x", 0),
        ("labels.env:prod AND NOT host.name:web1", 2),
        ("labels.env:(dev OR staging)", 2),
    ]);
}

#[test]
fn unknown_field_lists_the_known_ones() {
    let err = error("hots.name:web1");
    let QueryError::UnknownField {
        ref field,
        ref known,
    } = err
    else {
        panic!("got {err:?}")
    };
    assert_eq!(field, "hots.name");
    for name in [
        "host.name",
        "@timestamp",
        "process.pid",
        "message",
        "labels.<key>",
    ] {
        assert!(known.contains(name), "{name} missing from {known}");
    }
    assert!(
        err.to_string()
            .starts_with("unknown field `hots.name`: use one of "),
        "{err}"
    );
    assert!(err.is_user_error());
}

#[test]
fn syntax_errors_are_readable() {
    let err = error("\"disk full");
    assert_eq!(
        err.to_string(),
        "invalid query at position 0: unterminated phrase: add the closing `\"`"
    );
    let err = error("disk AND (full OR");
    assert!(
        matches!(err, QueryError::Syntax { position: 15, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid query at position 15: `OR` needs a term on both sides"
    );
}

#[test]
fn values_that_do_not_fit_their_field() {
    let err = error("process.pid:abc");
    assert_eq!(
        err.to_string(),
        "invalid value `abc` for field `process.pid`: expected a whole number like 200"
    );
    let err = error("process.pid:[1 TO x]");
    assert!(
        matches!(err, QueryError::BadValue { ref value, .. } if value == "x"),
        "{err:?}"
    );
    assert!(matches!(
        error("message:[a TO b]"),
        QueryError::BadValue { .. }
    ));
    assert!(matches!(
        error("process.pid:1*"),
        QueryError::BadValue { .. }
    ));
    assert!(matches!(
        error("@timestamp:>=yesterday"),
        QueryError::BadTime { .. }
    ));
    assert!(matches!(error("labels.:x"), QueryError::BadValue { .. }));
}

/// `event.id` is kept in the stored event but not indexed (one unique term per event would be
/// a tenth of the index): filtering on it is refused with the list of fields that can be used.
#[test]
fn event_id_is_not_a_filter_field() {
    let engine = common::engine();
    let err = engine
        .count(&common::language_corpus(), &Filter { query: "event.id:e3".into(), ..Default::default() })
        .unwrap_err();
    assert!(matches!(err, QueryError::UnknownField { .. }), "{err}");
    assert!(err.to_string().contains("host.name"), "the error lists usable fields: {err}");
}

/// Found by AFL (`histogram_tail`, 2026-12-04; the inputs are `fuzz/corpus/histogram_tail/slow-*`):
/// terms of a `*` followed by ~200 letters took 25 ms each to compile in a debug build (the
/// automaton has a state per character after the wildcard), a whole fuzz input up to 5 s. More
/// than 64 characters after the first wildcard are refused, naming the term; a long prefix
/// before it is not capped.
#[test]
fn wildcard_tails_are_bounded() {
    let slow = format!("UAAAAAAAAAAAAA****5**{}", "A".repeat(200));
    for q in [slow.clone(), format!("message:{slow}"), format!("host.name:{slow}"), format!("labels.env:{slow}")] {
        let err = error(&q);
        assert!(
            matches!(&err, QueryError::BadValue { value, reason, .. } if value == &slow && reason.contains("at most 64 characters after")),
            "{q}: {err:?}"
        );
        assert!(err.is_user_error(), "a 400");
    }
    // 64 after the wildcard (a run of stars counts once), and any prefix, still answer
    let ok = format!("{}*{}**", "x".repeat(300), "y".repeat(63));
    check(&[(&format!("service.name:{ok}"), 0), (&format!("service.name:ngin***{}", "x".repeat(64)), 0)]);
    let over = format!("service.name:ngin*{}", "x".repeat(65));
    assert!(error(&over).to_string().contains("at most 64"), "{over}");
}
