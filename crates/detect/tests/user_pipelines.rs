//! Processing pipelines of the user's (`[detect] pipelines`) beside loglynx's own: a route for
//! a logsource loglynx does not know, and a field mapping for the names the user's rules use.

use loglynx_core::{Event, Timestamp};
use loglynx_detect::pipeline::read_pipelines;
use loglynx_detect::{DetectError, LoadOptions, RuleSet};

/// Routes `product: acme, service: vault` to the events of the `vault` program, and maps the
/// field `AccountName` (as the vendor's rules write it) to `user.name`.
const PIPELINE: &str = "\
name: acme
priority: 20
transformations:
  - id: route_acme_vault
    type: add_condition
    prepend: true
    conditions:
      process.name: vault
    rule_conditions:
      - type: logsource
        product: acme
        service: vault
  - id: map_acme_fields
    type: field_name_mapping
    mapping:
      AccountName: user.name
";

/// A vendor rule in its own field names and logsource.
const RULE: &str = "\
title: Vault root token used
name: vault_root_token
logsource:
  product: acme
  service: vault
detection:
  selection:
    AccountName: root
  keywords:
    - 'token used'
  condition: selection and keywords
level: high
";

fn event(program: &str, user: &str, msg: &str) -> Event {
    let t = Timestamp::from_secs(1_700_000_000);
    let mut e = Event::new(msg, t, t, format!("{program}-{user}"));
    e.process_name = Some(program.into());
    e.user_name = Some(user.into());
    e
}

#[test]
fn a_user_pipeline_routes_a_new_logsource_and_maps_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vault.yml"), RULE).unwrap();
    let pipeline_file = dir.path().join("acme-pipeline.yaml");
    std::fs::write(&pipeline_file, PIPELINE).unwrap();
    let rules = dir.path().join("vault.yml");

    // without it the rule targets logs loglynx does not route: loaded, inactive
    let set = RuleSet::load(&[&rules]).unwrap();
    assert_eq!((set.active().len(), set.inactive().len()), (0, 1));

    let pipelines = read_pipelines(std::slice::from_ref(&pipeline_file)).unwrap();
    let set = RuleSet::load_all_with(&[&rules], &[], LoadOptions::default(), &pipelines).unwrap();
    assert!(set.rejected().is_empty(), "{:?}", set.rejected());
    assert_eq!((set.active().len(), set.inactive().len()), (1, 0));
    let names = |e: &Event| -> Vec<String> {
        set.matching_rules(e)
            .iter()
            .map(|r| r.display_name().to_string())
            .collect()
    };
    assert_eq!(
        names(&event("vault", "root", "root token used for /sys/seal")),
        ["vault_root_token"]
    );
    assert!(
        names(&event("vault", "alice", "root token used for /sys/seal")).is_empty(),
        "AccountName is user.name"
    );
    assert!(
        names(&event("sshd", "root", "root token used for /sys/seal")).is_empty(),
        "routed to vault only"
    );

    // loglynx's own mapping and routes still apply beside it
    let sigma_sshd = "title: ssh root\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    User: root\n  condition: sel\n";
    std::fs::write(dir.path().join("sshd.yml"), sigma_sshd).unwrap();
    let set =
        RuleSet::load_all_with(&[dir.path()], &[], LoadOptions::default(), &pipelines).unwrap();
    assert_eq!(set.active().len(), 2, "{:?}", set.inactive());
}

#[test]
fn a_pipeline_that_does_not_parse_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "name: bad\ntransformations:\n  - id: x\n    type: no_such_transformation\n",
    )
    .unwrap();
    let err = read_pipelines(std::slice::from_ref(&bad)).unwrap_err();
    assert!(matches!(err, DetectError::UserPipeline { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("bad.yml") && msg.contains("no_such_transformation"),
        "{msg}"
    );
    let missing = dir.path().join("missing.yml");
    let err = read_pipelines(std::slice::from_ref(&missing)).unwrap_err();
    assert!(err.to_string().contains("missing.yml"), "{err}");
}
