//! The one check the HTTP source makes on a JSON line: it is a JSON object. Anything more (field
//! names, timestamps) is the parser's business.

use std::fmt;

use serde_json::Value;

/// Why a line is not one JSON object; its text is what the client is told, e.g.
/// `invalid JSON: expected value at line 1 column 1`.
#[derive(Debug)]
pub enum JsonLineError {
    /// Valid JSON, but not an object (`an array`, `a string`, `a number`, `a boolean`, `null`).
    NotAnObject(&'static str),
    /// Not valid JSON.
    Invalid(serde_json::Error),
}

impl fmt::Display for JsonLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonLineError::NotAnObject(kind) => write!(
                f,
                "expected a JSON object, got {kind}: send one object per line"
            ),
            JsonLineError::Invalid(e) => write!(f, "invalid JSON: {e}"),
        }
    }
}

impl std::error::Error for JsonLineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonLineError::NotAnObject(_) => None,
            JsonLineError::Invalid(e) => Some(e),
        }
    }
}

/// `Ok` when `body` is one JSON object; otherwise why not, for a 4xx answer.
pub fn validate_json_line(body: &[u8]) -> Result<(), JsonLineError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(v) => Err(JsonLineError::NotAnObject(match v {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        })),
        Err(e) => Err(JsonLineError::Invalid(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_validation() {
        let v = |b: &[u8]| validate_json_line(b).map_err(|e| e.to_string());
        assert_eq!(v(br#"{"a":1}"#), Ok(()));
        assert_eq!(
            v(b"[1]"),
            Err("expected a JSON object, got an array: send one object per line".into())
        );
        assert!(v(b"{oops")
            .unwrap_err()
            .starts_with("invalid JSON: key must be a string"));
    }

    #[test]
    fn every_non_object_is_named() {
        for (line, kind) in [
            (&b"\"s\""[..], "a string"),
            (b"1", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
        ] {
            assert!(
                matches!(validate_json_line(line), Err(JsonLineError::NotAnObject(k)) if k == kind)
            );
        }
    }
}
