//! [`Patterns`]: one miner shared by the parse threads, with its state saved and restored.

use parking_lot::Mutex;

use crate::error::PatternError;
use crate::miner::{Mined, Miner, MinerSettings};
use crate::state::Dictionary;

/// A miner behind a lock: the parse threads mine through it, the store's commit saves it, the
/// API reads its dictionary.
#[derive(Debug)]
pub struct Patterns {
    miner: Mutex<Miner>,
}

impl Patterns {
    /// A fresh miner.
    pub fn new(settings: MinerSettings) -> Patterns {
        Patterns { miner: Mutex::new(Miner::new(settings)) }
    }

    /// A miner resumed from saved bytes.
    pub fn load(settings: MinerSettings, bytes: &[u8]) -> Result<Patterns, PatternError> {
        Ok(Patterns { miner: Mutex::new(Miner::load(settings, bytes)?) })
    }

    /// Mines each `(service, line, time)`, calling `out` with each result in order (and, for a
    /// line that started a template, that template's text as it was then), under one lock for
    /// the whole batch.
    pub fn mine_batch<'a, I, F>(&self, lines: I, mut out: F)
    where
        I: IntoIterator<Item = (&'a str, &'a str, i64)>,
        F: FnMut(usize, Mined, Option<&str>),
    {
        let mut m = self.miner.lock();
        for (i, (service, line, now)) in lines.into_iter().enumerate() {
            let r = m.mine(service, line, now);
            let text = if r.new { m.template_text(service, r.id) } else { None };
            out(i, r, text);
        }
    }

    /// Mines one line.
    pub fn mine(&self, service: &str, line: &str, now: i64) -> Mined {
        self.miner.lock().mine(service, line, now)
    }

    /// The text of the template `id` of `service` (see [`Miner::template_text`]).
    pub fn template_text(&self, service: &str, id: crate::TemplateId) -> Option<String> {
        self.miner.lock().template_text(service, id).map(str::to_string)
    }

    /// The state as bytes, to persist.
    pub fn save(&self) -> Vec<u8> {
        self.miner.lock().save()
    }

    /// What the miner knows now.
    pub fn dictionary(&self) -> Dictionary {
        self.miner.lock().dictionary()
    }

    /// Number of templates.
    pub fn template_count(&self) -> usize {
        self.miner.lock().template_count()
    }
}
