//! The miner's state as persisted (JSON), and the dictionary read from it: template text,
//! service, counts and former ids by id.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::error::PatternError;
use crate::miner::{Miner, MinerSettings, ServiceMiner};
use crate::template::{format_id, TemplateId};

/// The version of the persisted format this build reads and writes.
pub const STATE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Persisted {
    version: u32,
    services: FxHashMap<String, ServiceMiner>,
}

impl Miner {
    /// The state as bytes (JSON) to persist.
    pub fn save(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Out<'a> {
            version: u32,
            services: &'a FxHashMap<String, ServiceMiner>,
        }
        serde_json::to_vec(&Out { version: STATE_VERSION, services: &self.services }).expect("the state serialises")
    }

    /// A miner resumed from [`Miner::save`]'s bytes.
    pub fn load(settings: MinerSettings, bytes: &[u8]) -> Result<Miner, PatternError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(bytes).map_err(|source| PatternError::StateFormat { source })?;
        if v.version != STATE_VERSION {
            return Err(PatternError::StateVersion { found: v.version, expected: STATE_VERSION });
        }
        let p: Persisted = serde_json::from_slice(bytes).map_err(|source| PatternError::StateFormat { source })?;
        let mut m = Miner::new(settings);
        m.services = p.services;
        for s in m.services.values_mut() {
            s.reindex();
        }
        Ok(m)
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
#[derive(Debug, Clone, Serialize, PartialEq)]
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

/// Templates by current or former id.
#[derive(Debug, Default, Clone)]
pub struct Dictionary {
    entries: Vec<TemplateInfo>,
    by_id: HashMap<TemplateId, usize>,
    by_former: HashMap<TemplateId, usize>,
    overflow: Vec<(String, u64)>,
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
}
