//! The rule pack written for loglynx, compiled into the binary (`crates/detect/rules/`) and
//! loaded by `run` and the workers unless `[detect] builtin = false`; each rule can be disabled
//! by id or name (`[detect] disabled`) or overridden by a rule file with the same id.

/// (name, YAML) of each built-in rule file.
pub const BUILTIN: &[(&str, &str)] = &[
    ("ssh.yml", include_str!("../rules/ssh.yml")),
    ("linux.yml", include_str!("../rules/linux.yml")),
    ("patterns.yml", include_str!("../rules/patterns.yml")),
];
