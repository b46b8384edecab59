//! `loglynx rules check` on the real binary: a folder with one good and one bad rule.

mod support;

use std::process::Command;

use support::BIN;

const GOOD: &str = "title: ssh failure\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\nlevel: medium\n";
const BAD: &str = "title: typo\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    message|containz: x\n  condition: sel\n";

fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("rules")
        .arg("check")
        .args(args)
        .output()
        .expect("run loglynx");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rules_check_lists_the_refused_rule_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yml"), GOOD).unwrap();
    std::fs::write(dir.path().join("bad.yml"), BAD).unwrap();
    let folder = dir.path().to_str().unwrap();

    let (code, out, err) = check(&[folder, "--json"]);
    assert_eq!(code, 1, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["loaded"], 1);
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0]["file"],
        dir.path().join("bad.yml").to_str().unwrap()
    );
    assert_eq!(rejected[0]["line"], 7);
    assert!(
        rejected[0]["reason"].as_str().unwrap().contains("containz"),
        "{out}"
    );

    let (code, out, _) = check(&[folder]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("1 rules loaded (1 apply to loglynx events"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}:7: Unknown modifier 'containz'",
            dir.path().join("bad.yml").display()
        )),
        "{out}"
    );

    let good = dir.path().join("good.yml");
    let (code, out, _) = check(&[good.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"{"loaded":1,"rejected":[]}"#);

    let (code, _, err) = check(&["/nonexistent/rules"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/rules"), "{err}");
}

/// A vendor rule whose logsource and field names only a pipeline of the user's maps.
const VENDOR: &str = "title: vault root\nlogsource:\n  product: acme\n  service: vault\ndetection:\n  sel:\n    AccountName: root\n  condition: sel\n";
const PIPELINE: &str = "name: acme\ntransformations:\n  - id: route_acme_vault\n    type: add_condition\n    conditions:\n      process.name: vault\n    rule_conditions:\n      - type: logsource\n        product: acme\n        service: vault\n  - id: map_acme\n    type: field_name_mapping\n    mapping:\n      AccountName: user.name\n";

#[test]
fn rules_check_applies_the_pipelines_given() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("vault.yml");
    std::fs::write(&rule, VENDOR).unwrap();
    let pipeline = dir.path().join("acme.pipeline.yaml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let (code, out, _) = check(&[rule.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("1 rules loaded (0 apply to loglynx events, 1 target logs loglynx does not collect"), "{out}");
    let (code, out, err) = check(&[rule.to_str().unwrap(), "--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("1 rules loaded (1 apply to loglynx events, 0 target"), "{out}");
    std::fs::write(&pipeline, "name: acme\ntransformations: 7\n").unwrap();
    let (code, _, err) = check(&[rule.to_str().unwrap(), "--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("acme.pipeline.yaml") && err.contains("does not parse"), "{err}");
}
