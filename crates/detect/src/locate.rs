//! Finding the line of a problem in a rule file when the parser does not give one: the line of
//! the offending key or value, found by searching the file's text.

/// 1-based line of the first line of `text` containing `needle` at or after line `from`
/// (1-based), if any.
fn find_from(text: &str, needle: &str, from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
}

/// The 1-based line where document `doc` (0-based, documents separated by `---` lines) starts.
pub(crate) fn doc_start(text: &str, doc: usize) -> usize {
    if doc == 0 {
        return 1;
    }
    let mut seen = 0;
    for (i, l) in text.lines().enumerate() {
        if l.trim_end() == "---" && i > 0 {
            seen += 1;
            if seen == doc {
                return i + 2;
            }
        }
    }
    1
}

/// The line that best locates `reason` in `text`, searching from line `from`: the quoted names
/// the message carries (a modifier, a detection name, a rule reference), then `fallback_key`
/// (`detection:`, `correlation:`), else `from`.
pub(crate) fn line_of(text: &str, reason: &str, from: usize, fallback_key: &str) -> usize {
    for token in tokens(reason) {
        let probes = [format!("|{token}"), format!("{token}:"), token.clone()];
        if let Some(n) = probes.iter().find_map(|p| find_from(text, p, from)) {
            return n;
        }
    }
    find_from(text, fallback_key, from).unwrap_or(from)
}

/// Candidate names in an error message: quoted parts and the text after the last `: `.
fn tokens(reason: &str) -> Vec<String> {
    let mut out = Vec::new();
    for q in ['\'', '`', '"'] {
        let mut parts = reason.split(q);
        parts.next();
        while let (Some(inner), _) = (parts.next(), parts.next()) {
            if !inner.is_empty() && inner.len() < 200 {
                out.push(inner.to_string());
            }
        }
    }
    if let Some((_, tail)) = reason.rsplit_once(": ") {
        let tail = tail.trim();
        if !tail.is_empty() && tail.len() < 200 && !tail.contains(' ') {
            out.push(tail.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "title: a\ndetection:\n  sel:\n    f|foo: x\n  condition: sel and nope\n---\ntitle: b\n";

    #[test]
    fn finds_the_offending_modifier_and_selection() {
        assert_eq!(line_of(TEXT, "Unknown modifier 'foo'", 1, "detection:"), 4);
        assert_eq!(
            line_of(TEXT, "unknown detection identifier: nope", 1, "detection:"),
            5
        );
        assert_eq!(line_of(TEXT, "something else entirely", 1, "detection:"), 2);
        assert_eq!(doc_start(TEXT, 1), 7);
    }
}
