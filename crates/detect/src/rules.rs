//! The rule pack written for loglynx, compiled into the binary (`crates/detect/rules/`) and
//! loaded by `run` and the workers unless `[detect] builtin = false`; each rule can be disabled
//! by id or name (`[detect] disabled`) or overridden by a rule file with the same id.

/// (name, YAML) of each built-in rule file.
pub const BUILTIN: &[(&str, &str)] = &[
    ("ssh.yml", include_str!("../rules/ssh.yml")),
    ("linux.yml", include_str!("../rules/linux.yml")),
    ("patterns.yml", include_str!("../rules/patterns.yml")),
    ("network.yml", include_str!("../rules/network.yml")),
];

/// The built-in rule files with their parameters set: in a line ending with `# param: NAME`,
/// the value before the comment becomes the value `params` gives NAME (the file's own value,
/// the setting's default, stays when `params` has none).
pub fn builtin_with(params: &[(String, String)]) -> Vec<(&'static str, String)> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            let lines: Vec<String> = text
                .lines()
                .map(|line| {
                    let Some((head, param)) = line.split_once("# param:") else {
                        return line.to_string();
                    };
                    let Some((_, v)) = params.iter().find(|(p, _)| p == param.trim()) else {
                        return line.to_string();
                    };
                    match head.split_once(':') {
                        Some((key, _)) => format!("{key}: {v} # param:{param}"),
                        None => line.to_string(),
                    }
                })
                .collect();
            (*name, lines.join("\n") + "\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_replace_the_default_values_they_follow() {
        let params = vec![("failed_connect_threshold".to_string(), "5".to_string()), ("failed_connect_window".to_string(), "30s".to_string())];
        let set = super::builtin_with(&params);
        let (_, net) = set.iter().find(|(n, _)| *n == "network.yml").unwrap();
        assert!(net.contains("gte: 5 # param: failed_connect_threshold"), "{net}");
        assert!(net.contains("timespan: 30s # param: failed_connect_window"), "{net}");
        // without parameters: the file as written
        let (_, plain) = super::builtin_with(&[]).into_iter().find(|(n, _)| *n == "network.yml").unwrap();
        assert!(plain.contains("gte: 20 # param"), "{plain}");
    }
}
