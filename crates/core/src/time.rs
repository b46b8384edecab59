//! Timestamps: nanoseconds since the Unix epoch, UTC.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, nanoseconds since the Unix epoch (UTC). Covers 1677..2262.
///
/// JSON form: an RFC 3339 string (`"2024-05-01T10:00:00.123Z"`); integers (nanoseconds) are
/// accepted on input too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Nanos(i64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Nanos(n) => Ok(Timestamp(n)),
            Repr::Text(t) => Timestamp::parse_rfc3339(&t)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp: {t}"))),
        }
    }
}

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX))
    }
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }
    pub fn from_micros(us: i64) -> Self {
        Timestamp(us.saturating_mul(1_000))
    }
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1_000_000))
    }
    pub fn as_nanos(self) -> i64 {
        self.0
    }
    pub fn as_micros(self) -> i64 {
        self.0.div_euclid(1_000)
    }
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_nanos(self.0)
    }
    pub fn from_datetime<Tz: TimeZone>(dt: &DateTime<Tz>) -> Option<Self> {
        dt.timestamp_nanos_opt().map(Timestamp)
    }
    /// RFC 3339 with as many fractional digits as needed, `Z` suffix.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime().to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
    /// Parses RFC 3339 (`2024-05-01T10:00:00Z`, offsets allowed).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s.trim()).ok().and_then(|d| Self::from_datetime(&d))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::parse_rfc3339("2024-05-01T10:00:00.123456Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-05-01T10:00:00.123456Z");
        assert_eq!(t.as_micros() % 1_000_000, 123_456);
        let o = Timestamp::parse_rfc3339("2024-05-01T12:00:00+02:00").unwrap();
        assert_eq!(o.to_rfc3339(), "2024-05-01T10:00:00Z");
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
    }
}
