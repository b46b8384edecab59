//! An address that `""` or `"off"` switches off (TOML has no null), for
//! `#[serde(with = "crate::opt_addr")]` on an `Option<SocketAddr>`.

use std::net::{AddrParseError, SocketAddr};

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.serialize_str(&a.to_string()),
        None => s.serialize_str("off"),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let t = String::deserialize(d)?;
    parse_opt_addr(&t).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid address {:?} ({e}): expected IP:PORT or \"off\"",
            t.trim()
        ))
    })
}

/// Reads an optional address as the config file and the flags write it: `IP:PORT`, or `""` /
/// `"off"` (any case, surrounding spaces ignored) for none.
pub fn parse_opt_addr(text: &str) -> Result<Option<SocketAddr>, AddrParseError> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    t.parse().map(Some)
}
