//! Journal positions and the store's checkpoint.
//!
//! A journal cursor (`s=<seqnum_id>;i=<seqnum hex>;b=<boot id>;m=..;t=..;x=..`) names an
//! entry; within one sequence id (the journal files journald wrote as one series) the sequence
//! number grows with every entry, so `(seqnum_id, seqnum)` is the entry's place and the next
//! position to read is `seqnum + 1`. That is what the checkpoint keeps:
//! `journald:<seqnum_id>` -> next sequence number. libsystemd seeks to a cursor that holds only
//! `s=` and `i=` (sd_journal_seek_cursor), and an entry missing since (vacuumed) makes it land on
//! the next one.

use std::collections::HashMap;

use loglynx_config::StartAt;
use loglynx_core::Checkpoint;

/// Prefix of the journal's checkpoint keys.
pub const KEY_PREFIX: &str = "journald:";

/// An entry's place in its journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The sequence id (32 hex digits), shared by the files journald writes as one series.
    pub seqnum_id: String,
    /// The entry's sequence number in that series.
    pub seqnum: u64,
}

impl Position {
    /// The checkpoint key of this entry's series.
    pub fn key(&self) -> String {
        key(&self.seqnum_id)
    }
}

/// The checkpoint key of the series `seqnum_id`.
pub fn key(seqnum_id: &str) -> String {
    format!("{KEY_PREFIX}{seqnum_id}")
}

/// The position in a cursor as `sd_journal_get_cursor` writes it; `None` when it lacks `s=` or
/// `i=` (the sequence number is hexadecimal).
pub fn parse_cursor(cursor: &str) -> Option<Position> {
    let mut seqnum_id = None;
    let mut seqnum = None;
    for part in cursor.split(';') {
        if let Some(s) = part.strip_prefix("s=") {
            seqnum_id = Some(s).filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()));
        } else if let Some(i) = part.strip_prefix("i=") {
            seqnum = u64::from_str_radix(i, 16).ok();
        }
    }
    Some(Position {
        seqnum_id: seqnum_id?.to_string(),
        seqnum: seqnum?,
    })
}

/// Where reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// The oldest entry the journal holds.
    Head,
    /// Only entries written from now on.
    Tail,
    /// At this (partial) cursor: the last stored entry, or the first after it when it is gone.
    Cursor(String),
}

/// Where to start given the store's `checkpoint`, and the next sequence number per sequence id
/// already stored (entries below it are skipped, whatever the seek lands on). With several
/// series stored (journals of several machines in one directory, a journal started anew),
/// reading starts at the head and the skip does the rest.
pub fn resume(checkpoint: &Checkpoint, start_at: StartAt) -> (Resume, HashMap<String, u64>) {
    let next: HashMap<String, u64> = checkpoint
        .positions
        .iter()
        .filter_map(|(k, p)| Some((k.strip_prefix(KEY_PREFIX)?.to_string(), *p)))
        .collect();
    let at = match next.len() {
        0 => match start_at {
            StartAt::Beginning => Resume::Head,
            StartAt::End => Resume::Tail,
        },
        1 => {
            let (sid, n) = next.iter().next().expect("one element");
            Resume::Cursor(format!("s={sid};i={:x}", n.saturating_sub(1)))
        }
        _ => Resume::Head,
    };
    (at, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_gives_its_series_and_hex_sequence_number() {
        let c = "s=e981730dd553433e8cc82fc8b031db49;i=a;b=0123456789abcdef0123456789abcdef;m=5;t=661b4e8960b29;x=5fc5c87e5e6ce15e";
        let p = parse_cursor(c).unwrap();
        assert_eq!(p.seqnum_id, "e981730dd553433e8cc82fc8b031db49");
        assert_eq!(p.seqnum, 10);
        assert_eq!(p.key(), "journald:e981730dd553433e8cc82fc8b031db49");
        assert_eq!(parse_cursor("i=1;b=00"), None);
        assert_eq!(parse_cursor("s=zz;i=1"), None);
        assert_eq!(parse_cursor("s=ab;i=nothex"), None);
    }

    #[test]
    fn resume_seeks_to_the_last_stored_entry_of_the_only_series() {
        let mut c = Checkpoint::default();
        assert_eq!(resume(&c, StartAt::Beginning).0, Resume::Head);
        assert_eq!(resume(&c, StartAt::End).0, Resume::Tail);
        c.advance("file:1:2:ab", 99);
        c.advance("journald:ab12", 0x2b);
        let (at, next) = resume(&c, StartAt::End);
        assert_eq!(at, Resume::Cursor("s=ab12;i=2a".into()));
        assert_eq!(next.get("ab12"), Some(&0x2b));
        assert_eq!(next.len(), 1, "other sources' keys are not the journal's");
        c.advance("journald:cd34", 5);
        assert_eq!(resume(&c, StartAt::End).0, Resume::Head);
    }
}
