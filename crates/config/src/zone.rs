//! Time zones of sources (`files.timezone`, `[[files.zones]]`): the zone of the timestamps
//! that carry none. Written as an IANA name (`Europe/Paris`, read from the system's tzdb, with
//! its daylight saving rules), `UTC`, `local` (the system's zone) or a fixed offset (`+02:00`,
//! `-0530`, `+09`).

use std::fmt;

use jiff::tz::{Offset, TimeZone};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time zone as written in the configuration, checked when the file is read.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Zone { name: "UTC".into(), tz: TimeZone::UTC }
    }

    /// Reads a zone: an IANA name, `UTC`, `local` or `±hh[:mm]`. The error says what is taken.
    pub fn parse(s: &str) -> Result<Self, String> {
        let tz = if s.eq_ignore_ascii_case("utc") || s == "Z" {
            TimeZone::UTC
        } else if s == "local" {
            TimeZone::try_system().map_err(|e| format!("time zone \"local\": the system's zone cannot be read ({e})"))?
        } else if let Some(secs) = fixed_offset(s) {
            let off = Offset::from_seconds(secs).map_err(|e| format!("time zone {s:?}: {e}"))?;
            TimeZone::fixed(off)
        } else {
            TimeZone::get(s).map_err(|_| {
                format!(
                    "time zone {s:?} is unknown: use an IANA name such as \"Europe/Paris\" (from the system's /usr/share/zoneinfo), \"UTC\", \"local\" or an offset such as \"+02:00\""
                )
            })?
        };
        Ok(Zone { name: s.to_string(), tz })
    }

    /// The zone's rules (jiff), for cutting or printing times in it.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The zone as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset when it never changes (UTC, `+02:00`, a zone without rules); `None` for a
    /// zone with daylight saving or historical changes.
    pub fn fixed_offset_secs(&self) -> Option<i32> {
        self.tz.to_fixed_offset().ok().map(|o| o.seconds())
    }

    /// Seconds east of UTC in force at `unix_nanos` (nanoseconds since 1970, UTC).
    pub fn offset_secs_at(&self, unix_nanos: i64) -> i32 {
        match jiff::Timestamp::from_nanosecond(i128::from(unix_nanos)) {
            Ok(t) => self.tz.to_offset(t).seconds(),
            Err(_) => 0,
        }
    }
}

/// `±hh`, `±hhmm` or `±hh:mm`, hours up to 23 and minutes up to 59.
fn fixed_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|&c| c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || rest.matches(':').count() > 1 {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 if rest.len() == 4 || rest.find(':') == Some(2) => {
            (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?)
        }
        _ => return None,
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({:?})", self.name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Zone::parse(&s).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i32 = 3600;

    #[test]
    fn fixed_offsets_in_three_spellings() {
        assert_eq!(Zone::parse("+02:00").unwrap().fixed_offset_secs(), Some(2 * HOUR));
        assert_eq!(Zone::parse("-0530").unwrap().fixed_offset_secs(), Some(-(5 * HOUR + 1800)));
        assert_eq!(Zone::parse("+09").unwrap().fixed_offset_secs(), Some(9 * HOUR));
        assert_eq!(Zone::parse("UTC").unwrap().fixed_offset_secs(), Some(0));
        for bad in ["+24:00", "+02:60", "+2", "+02:0", "02:00", "+02::00", "Mars/Olympus"] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_iana_zone_follows_daylight_saving() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(paris.fixed_offset_secs(), None);
        // 2024-01-15T12:00:00Z and 2024-07-15T12:00:00Z.
        assert_eq!(paris.offset_secs_at(1_705_320_000 * 1_000_000_000), HOUR);
        assert_eq!(paris.offset_secs_at(1_721_044_800 * 1_000_000_000), 2 * HOUR);
    }

    #[test]
    fn an_unknown_name_says_what_is_taken() {
        let e = Zone::parse("Europe/Pariss").unwrap_err();
        assert!(e.contains("\"Europe/Pariss\" is unknown") && e.contains("+02:00"), "{e}");
    }
}
