//! Settings with a closed set of values (`kafka.compression`, `files.start_at`, ...): a lowercase
//! word in TOML, an enum in Rust, refused at parse time with a message that names the key and
//! lists the values it takes.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// An enum spelled as one lowercase word per variant in the configuration file.
pub(crate) trait Choice: Sized + Copy + 'static {
    /// Every value, in the order the error message lists them.
    const ALL: &'static [Self];
    /// The value as written in the file (the same spelling as the enum's serde name).
    fn as_str(self) -> &'static str;
}

/// Reads the value of `key` (a dotted path such as `kafka.compression`, for the message).
pub(crate) fn deserialize<'de, T: Choice, D: Deserializer<'de>>(key: &str, d: D) -> Result<T, D::Error> {
    let s = String::deserialize(d)?;
    T::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
        D::Error::custom(format!("{key} = {s:?}: use {}", one_of(T::ALL)))
    })
}

/// `"a, b or c"`.
fn one_of<T: Choice>(all: &[T]) -> String {
    let names: Vec<&str> = all.iter().map(|v| v.as_str()).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde::Serialize;

    use super::*;

    /// Checks that `as_str` spells every value as serde does, both ways.
    pub(crate) fn spelled_like_serde<T>()
    where
        T: Choice + Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        #[derive(Serialize, Deserialize)]
        struct W<T> {
            v: T,
        }
        for &v in T::ALL {
            let text = toml::to_string(&W { v }).unwrap();
            assert_eq!(text.trim(), format!("v = {:?}", v.as_str()));
            let back: W<T> = toml::from_str(&text).unwrap();
            assert_eq!(back.v, v);
        }
    }
}
