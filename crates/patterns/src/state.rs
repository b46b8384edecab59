//! The miner's state as persisted (JSON), and the dictionary read from it: template text,
//! service, counts and former ids by id.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::error::PatternError;
use crate::miner::{Miner, MinerSettings, ServiceMiner};
use crate::template::{format_id, parse_id, TemplateId};

/// The version of the persisted format this build writes. 2: a template's word may be the
/// shape of a keyed value (`uid=<*>`, see `token::shape_into`) where version 1 had a value. A version 1 state is read as it is: its templates keep their text and ids (stored
/// events resolve), and lines whose values have shapes may start new templates beside them.
/// An older build refuses version 2 (it would take the shapes for words).
pub const STATE_VERSION: u32 = 2;

/// The oldest version this build reads.
const OLDEST_READ: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Persisted {
    version: u32,
    services: FxHashMap<String, ServiceMiner>,
}

impl Miner {
    /// The state as bytes (JSON) to persist.
    pub fn save(&self) -> Vec<u8> {
        // the services as a map by name, as they always were
        struct Services<'a>(&'a [(String, ServiceMiner)]);
        impl Serialize for Services<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(name, sm)| (name, sm)))
            }
        }
        #[derive(Serialize)]
        struct Out<'a> {
            version: u32,
            services: Services<'a>,
        }
        serde_json::to_vec(&Out { version: STATE_VERSION, services: Services(&self.services) }).expect("the state serialises")
    }

    /// A miner resumed from [`Miner::save`]'s bytes.
    pub fn load(settings: MinerSettings, bytes: &[u8]) -> Result<Miner, PatternError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(bytes).map_err(|source| PatternError::StateFormat { source })?;
        if !(OLDEST_READ..=STATE_VERSION).contains(&v.version) {
            return Err(PatternError::StateVersion { found: v.version, expected: STATE_VERSION });
        }
        let p: Persisted = serde_json::from_slice(bytes).map_err(|source| PatternError::StateFormat { source })?;
        Ok(Miner::with_services(settings, p.services))
    }

    /// What the miner knows of every template, and of each service's overflow.
    pub fn dictionary(&self) -> Dictionary {
        let mut d = Dictionary::default();
        for (service, sm) in &self.services {
            for t in &sm.templates {
                let i = d.entries.len();
                d.entries.push(TemplateInfo {
                    id: format_id(t.id),
                    template: t.text.clone(),
                    service: service.clone(),
                    count: t.count,
                    first_seen: t.first_seen,
                    last_seen: t.last_seen,
                    example: t.example.clone(),
                    former: t.former.iter().map(|f| format_id(*f)).collect(),
                });
                for f in &t.former {
                    d.by_former.insert(*f, i);
                }
                d.by_id.insert(t.id, i);
            }
            if sm.overflow > 0 {
                d.overflow.push((service.clone(), sm.overflow));
            }
        }
        d.overflow.sort();
        d
    }
}

/// One template as the dictionary describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateInfo {
    /// The current id (16 hex digits).
    pub id: String,
    /// The template text, `<*>` for variables.
    pub template: String,
    /// The service (or dataset) it was mined for.
    pub service: String,
    /// Lines the miner gave it (since its state began; the index has exact counts).
    pub count: u64,
    /// Event time of its first and last line, in milliseconds since the epoch.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Its first line (cut to 512 bytes).
    pub example: String,
    /// Ids it had before it was refined; events stored then carry them.
    pub former: Vec<String>,
}

/// Templates by current or former id. On the wire (a worker's leaf API answers its own, the
/// search root merges them) it is `{"templates": [TemplateInfo...], "overflow": [[service, lines]...]}`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(into = "WireDictionary", from = "WireDictionary")]
pub struct Dictionary {
    entries: Vec<TemplateInfo>,
    by_id: HashMap<TemplateId, usize>,
    by_former: HashMap<TemplateId, usize>,
    overflow: Vec<(String, u64)>,
}

/// [`Dictionary`] as sent: the indexes by id are built again on arrival.
#[derive(Serialize, Deserialize)]
struct WireDictionary {
    templates: Vec<TemplateInfo>,
    #[serde(default)]
    overflow: Vec<(String, u64)>,
}

impl From<Dictionary> for WireDictionary {
    fn from(d: Dictionary) -> WireDictionary {
        WireDictionary { templates: d.entries, overflow: d.overflow }
    }
}

impl From<WireDictionary> for Dictionary {
    fn from(w: WireDictionary) -> Dictionary {
        let part = Dictionary { entries: w.templates, overflow: w.overflow, ..Dictionary::default() };
        Dictionary::merge([part])
    }
}

impl Dictionary {
    /// The template an id names now (a former id gives the template it became).
    pub fn get(&self, id: TemplateId) -> Option<&TemplateInfo> {
        let i = self.by_id.get(&id).or_else(|| self.by_former.get(&id))?;
        self.entries.get(*i)
    }

    /// Every template.
    pub fn templates(&self) -> &[TemplateInfo] {
        &self.entries
    }

    /// Lines past the cap, per service.
    pub fn overflow(&self) -> &[(String, u64)] {
        &self.overflow
    }

    /// The dictionaries of miners that ran apart (one per worker), merged by id: ids are a hash
    /// of the template text, so a template mined apart has one entry, with the miners' counts
    /// added, the earliest first line, the latest last line and every former id. A template one
    /// miner still has but another refined (its id is a former id there) is folded into the
    /// refined one, so every id resolves to one template whichever miner saw its lines; overflow
    /// is added per service.
    pub fn merge(parts: impl IntoIterator<Item = Dictionary>) -> Dictionary {
        let mut entries: Vec<TemplateInfo> = Vec::new();
        let mut by_id: HashMap<TemplateId, usize> = HashMap::new();
        let mut overflow: HashMap<String, u64> = HashMap::new();
        for part in parts {
            for t in part.entries {
                let Some(id) = parse_id(&t.id) else { continue };
                match by_id.get(&id) {
                    Some(&i) => absorb(&mut entries[i], t, false),
                    None => {
                        by_id.insert(id, entries.len());
                        entries.push(t);
                    }
                }
            }
            for (s, n) in part.overflow {
                *overflow.entry(s).or_default() += n;
            }
        }
        // which entry refined each id
        let mut refined_into: HashMap<TemplateId, usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for f in e.former.iter().filter_map(|f| parse_id(f)) {
                refined_into.insert(f, i);
            }
        }
        // each entry's root: follow refinements (bounded, so a cycle cannot loop)
        let root = |mut i: usize| {
            for _ in 0..entries.len() {
                match parse_id(&entries[i].id).and_then(|id| refined_into.get(&id)) {
                    Some(&j) if j != i => i = j,
                    _ => break,
                }
            }
            i
        };
        let roots: Vec<usize> = (0..entries.len()).map(root).collect();
        let mut slots: Vec<Option<TemplateInfo>> = entries.into_iter().map(Some).collect();
        for (i, &r) in roots.iter().enumerate() {
            if r != i && roots[r] == r {
                if let Some(t) = slots[i].take() {
                    let into = slots[r].as_mut().expect("a root keeps its entry");
                    absorb(into, t, true);
                }
            }
        }
        let mut d = Dictionary::default();
        for t in slots.into_iter().flatten() {
            let i = d.entries.len();
            if let Some(id) = parse_id(&t.id) {
                d.by_id.insert(id, i);
            }
            for f in t.former.iter().filter_map(|f| parse_id(f)) {
                d.by_former.insert(f, i);
            }
            d.entries.push(t);
        }
        d.overflow = overflow.into_iter().collect();
        d.overflow.sort();
        d
    }
}

/// Adds `t` to `into`: counts, seen range, example, former ids (and `t`'s own id when it is a
/// template `into` refined).
fn absorb(into: &mut TemplateInfo, t: TemplateInfo, own_id: bool) {
    into.count += t.count;
    if t.first_seen < into.first_seen {
        into.first_seen = t.first_seen;
        into.example = t.example;
    }
    into.last_seen = into.last_seen.max(t.last_seen);
    let ids = t.former.into_iter().chain(own_id.then_some(t.id));
    for f in ids {
        if f != into.id && !into.former.contains(&f) {
            into.former.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::template_id;

    #[test]
    fn state_round_trips_and_former_ids_resolve() {
        let mut m = Miner::new(MinerSettings::default());
        let a = m.mine("sshd", "Invalid user admin from 1.2.3.4", 10);
        m.mine("sshd", "Invalid user guest from 1.2.3.5", 15);
        m.mine("sshd", "Invalid user test from 1.2.3.5", 16);
        let b = m.mine("sshd", "Invalid user oracle from 1.2.3.5", 20);
        assert_ne!(a.id, b.id);
        let bytes = m.save();
        let mut back = Miner::load(MinerSettings::default(), &bytes).unwrap();
        let d = back.dictionary();
        assert_eq!(d.get(a.id).unwrap().template, "Invalid user <*> from <*>");
        assert_eq!(d.get(b.id).unwrap().id, format_id(template_id("Invalid user <*> from <*>")));
        assert_eq!(d.get(b.id).unwrap().count, 4);
        assert_eq!((d.get(b.id).unwrap().first_seen, d.get(b.id).unwrap().last_seen), (10, 20));
        // the restored miner goes on where it stopped
        let c = back.mine("sshd", "Invalid user root from 9.9.9.9", 30);
        assert!(!c.new && c.id == b.id);
        assert!(matches!(Miner::load(MinerSettings::default(), b"{"), Err(PatternError::StateFormat { .. })));
        assert!(matches!(
            Miner::load(MinerSettings::default(), br#"{"version": 99, "services": {}}"#),
            Err(PatternError::StateVersion { found: 99, .. })
        ));
    }

    #[test]
    fn a_version_1_state_is_read_and_keeps_its_ids() {
        // a template a version 1 miner made: a value (`Value`) where version 2 has a shape
        let v1 = br#"{"version": 1, "services": {"sshd": {"templates": [{"positions": [
            {"slot": {"Word": "session"}, "sep": "", "same": "session", "render": "session"},
            {"slot": "Value", "sep": " ", "same": null, "render": "(uid=<*>)"}],
            "bucket": 1, "id": 42, "text": "session (uid=<*>)", "count": 3, "first_seen": 1, "last_seen": 2,
            "example": "session (uid=0)", "former": []}], "overflow": 0}}}"#;
        let mut m = Miner::load(MinerSettings::default(), v1).unwrap();
        assert_eq!(m.dictionary().get(42).unwrap().template, "session (uid=<*>)");
        // new lines of the kind mine on; the version 1 template stays in the dictionary
        let a = m.mine("sshd", "session (uid=5)", 3);
        assert_eq!(m.dictionary().get(42).unwrap().template, "session (uid=<*>)");
        assert!(m.dictionary().get(a.id).is_some());
        let saved = m.save();
        assert!(saved.starts_with(br#"{"version":2,"#), "{}", String::from_utf8_lossy(&saved));
        // a shape survives the trip: the restored miner puts the kind's next line with it
        let b = m.mine("sshd", "session (uid=7)", 4);
        let mut back = Miner::load(MinerSettings::default(), &m.save()).unwrap();
        let c = back.mine("sshd", "session (uid=9)", 5);
        assert!(!c.new && c.id == b.id, "{:?}", back.dictionary().templates());
    }

    #[test]
    fn a_dictionary_sent_as_json_resolves_current_and_former_ids() {
        let mut m = Miner::new(MinerSettings::default());
        let a = m.mine("sshd", "Invalid user admin from 1.2.3.4", 10);
        m.mine("sshd", "Invalid user guest from 1.2.3.5", 15);
        m.mine("sshd", "Invalid user test from 1.2.3.5", 16);
        let b = m.mine("sshd", "Invalid user oracle from 1.2.3.5", 20);
        assert_ne!(a.id, b.id);
        let d = m.dictionary();
        let json = serde_json::to_string(&d).unwrap();
        let back: Dictionary = serde_json::from_str(&json).unwrap();
        assert_eq!(back.templates(), d.templates());
        assert_eq!(back.get(a.id).unwrap().id, format_id(b.id), "a former id resolves after the trip: {json}");
        assert_eq!(back.get(b.id).unwrap().template, "Invalid user <*> from <*>");
        assert_eq!(back.overflow(), d.overflow());
        assert!(serde_json::from_str::<Dictionary>(r#"{"templates": 3}"#).is_err());
    }

    #[test]
    fn dictionaries_mined_apart_merge_by_id() {
        // two workers, each seeing part of the lines
        let mut w1 = Miner::new(MinerSettings::default());
        let mut w2 = Miner::new(MinerSettings::default());
        let first = w1.mine("sshd", "Invalid user admin from 1.2.3.4", 10);
        for (i, u) in ["guest", "test", "oracle"].iter().enumerate() {
            w1.mine("sshd", &format!("Invalid user {u} from 1.2.3.5"), 20 + i as i64);
        }
        for (i, u) in ["root", "pi", "ftp", "www"].iter().enumerate() {
            w2.mine("sshd", &format!("Invalid user {u} from 5.6.7.8"), 5 + i as i64 * 30);
        }
        w2.mine("cron", "job started", 40);
        let d = Dictionary::merge([w1.dictionary(), w2.dictionary()]);
        let id = template_id("Invalid user <*> from <*>");
        assert_eq!(d.templates().len(), 2, "{:?}", d.templates());
        let t = d.get(id).unwrap();
        assert_eq!(t.count, 8);
        assert_eq!((t.first_seen, t.last_seen), (5, 95));
        assert_eq!(t.example, "Invalid user root from 5.6.7.8");
        // the id worker 1 gave before refining resolves to the merged template
        assert_eq!(d.get(first.id).unwrap().id, format_id(id));
        assert_eq!(d.get(template_id("job started")).unwrap().service, "cron");

        // a template one worker still has, another refined: folded into the refined one
        let mut w3 = Miner::new(MinerSettings::default());
        w3.mine("sshd", "Invalid user admin from 1.2.3.4", 1);
        w3.mine("sshd", "Invalid user admin from 1.2.3.9", 200);
        let d = Dictionary::merge([w3.dictionary(), w1.dictionary(), w2.dictionary()]);
        assert_eq!(d.templates().len(), 2, "{:?}", d.templates());
        let t = d.get(first.id).unwrap();
        assert_eq!(t.id, format_id(id));
        assert_eq!((t.count, t.first_seen, t.last_seen), (10, 1, 200));
        assert!(t.former.contains(&format_id(first.id)));
    }
}
