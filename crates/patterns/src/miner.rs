//! The miner: lines of a service grouped into templates as they arrive.
//!
//! Lines are bucketed by service, token count and first word (a first token that is a value
//! buckets with the other values), like Drain's fixed-depth tree. Within a bucket a line joins
//! the template it fits best when the fit reaches [`MinerSettings::similarity`] (ties go to the
//! template with fewer `Any` positions, then to the older one), and the template learns from
//! it; otherwise it starts a new template. A service keeps at most
//! [`MinerSettings::max_templates`] templates: past that, lines that fit none are counted as
//! the service's overflow and get the overflow template's id.
//!
//! The fast path: most lines are of a kind the miner knows, and would join their template
//! unchanged. Such a line is split on whitespace only, looked up by its first word and number
//! of pieces among the templates lines like it were found in lately, and checked against one
//! straight from its bytes ([`Template::fits_unchanged`]: literal words compared, values
//! classified only where the template holds values); when it fits, and the template is one
//! the full path is sure to choose for any line that fits it ([`is_safe`]), only its
//! counts move. Anything else takes the full path (tokens, scores, learning), which the fast
//! path never changes the outcome of (`tests/fast_path.rs` mines the same lines both ways).

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::template::{template_id, Template, TemplateId};
use crate::token::{key_at, split, tokenize, Piece, Span, ANY_KEY};

/// The text of the template that lines past a service's cap get.
pub const OVERFLOW_TEMPLATE: &str = "<overflow: too many patterns>";

/// How the miner groups lines.
#[derive(Debug, Clone, Copy)]
pub struct MinerSettings {
    /// Least share of a line's positions that must fit a template for the line to join it.
    pub similarity: f64,
    /// Most templates per service.
    pub max_templates: usize,
    /// Most tokens a line is split into (the rest is one value).
    pub max_tokens: usize,
    /// Most services kept apart (others share one).
    pub max_services: usize,
}

/// Defaults of [`MinerSettings`].
pub const DEFAULT_SIMILARITY: f64 = 0.5;
/// Default of [`MinerSettings::max_templates`].
pub const DEFAULT_MAX_TEMPLATES: usize = 2000;
/// Default of [`MinerSettings::max_tokens`].
pub const DEFAULT_MAX_TOKENS: usize = 80;
/// Default of [`MinerSettings::max_services`].
pub const DEFAULT_MAX_SERVICES: usize = 1000;

impl Default for MinerSettings {
    fn default() -> Self {
        MinerSettings {
            similarity: DEFAULT_SIMILARITY,
            max_templates: DEFAULT_MAX_TEMPLATES,
            max_tokens: DEFAULT_MAX_TOKENS,
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

/// The service that services past [`MinerSettings::max_services`] share.
pub const OTHER_SERVICES: &str = "<other>";

/// What mining one line gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    /// The line's template id now.
    pub id: TemplateId,
    /// The line started a new template.
    pub new: bool,
    /// The line refined its template (the id changed; the old one is a former id).
    pub refined: bool,
    /// The line went over the service's cap.
    pub overflow: bool,
    /// Event time of the line less that of its service's first line (milliseconds): how long
    /// the miner has known the service, for a warm-up before new patterns mean something.
    pub service_age: i64,
}

/// The templates of one service.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ServiceMiner {
    pub templates: Vec<Template>,
    /// Lines that fit no template once the cap was reached.
    pub overflow: u64,
    /// Event time of the service's first line (milliseconds).
    #[serde(default)]
    pub first_seen: Option<i64>,
    #[serde(skip)]
    buckets: FxHashMap<u64, Bucket>,
    /// The templates lines were found in lately, by the first word of the line
    /// ([`dispatch_key`]), the latest first: where [`ServiceMiner::fast_fit`] looks.
    #[serde(skip)]
    hot: FxHashMap<u64, [u32; HOT]>,
}

/// Templates remembered per first word for the fast path.
const HOT: usize = 4;
/// First words remembered for the fast path, per service (then it starts again): 512 keys of
/// 24 bytes, so at most ~16 KiB a service with the table's own room.
const HOT_KEYS: usize = 512;
/// An empty place in a [`ServiceMiner::hot`] list.
const NO_TEMPLATE: u32 = u32::MAX;

/// The templates of one bucket, and which of them lines of a given shape fit best.
#[derive(Debug, Default)]
struct Bucket {
    members: Vec<u32>,
    /// The best fit by a hash of a line's token keys ([`shape_of`]), kept once a bucket has
    /// [`MEMO_FROM`] templates (scoring them all is then the cost of a line); emptied when a
    /// template is added or one of them changes shape, so it gives what scoring would.
    memo: FxHashMap<u64, u32>,
    /// The positions (of the first 128) where some template of the bucket is not `Any`: the
    /// others cannot change a fit, so they are left out of the shape. Set with the memo's
    /// first entry.
    relevant: u128,
    /// Per member (in the order of `members`), whether a line that fits it exactly is sure to
    /// join it ([`is_safe`]): 0 not known yet, [`SAFE`] or [`UNSAFE`]; forgotten when a member
    /// is added or changes shape.
    safe: Vec<u8>,
}

const SAFE: u8 = 1;
const UNSAFE: u8 = 2;

impl Bucket {
    /// A member was added or changed shape: what was found from the old shapes is forgotten.
    fn changed(&mut self) {
        self.memo.clear();
        self.safe.clear();
    }
}

/// Whether a line fitting member `i` of a bucket exactly ([`Template::fits_unchanged`]) would
/// join it on the full path. A full fit scores every position of the template but its
/// `Any` ones, and that must reach the similarity. Every other member of the same length must
/// score less on any such line, or as much and lose the full path's ties (more `Any`
/// positions, or as many and younger): at most it scores where it is not `Any` and has the
/// template's key or faces the template's `Any` (where the line may hold anything).
fn is_safe(templates: &[Template], members: &[u32], i: u32, settings: &MinerSettings) -> bool {
    let any_of = |t: &Template| t.keys.iter().filter(|&&k| k == ANY_KEY).count();
    let t = &templates[i as usize];
    let n = t.keys.len();
    let any = any_of(t);
    let score = n - any;
    if n == 0 || n >= settings.max_tokens || (score as f64 / n as f64) < settings.similarity {
        return false;
    }
    members.iter().all(|&j| {
        let u = &templates[j as usize];
        if j == i || u.keys.len() != n {
            return true;
        }
        let best = t.keys.iter().zip(&u.keys).filter(|&(&x, &y)| y != ANY_KEY && (x == y || x == ANY_KEY)).count();
        let other = any_of(u);
        best < score || (best == score && (other > any || (other == any && j > i)))
    })
}

/// The key lines are remembered by for the fast path: their first piece's ([`key_at`]), or 0
/// when it holds a digit or another notable byte, with their number of pieces.
fn dispatch_key(line: &str, toks: &[Piece]) -> u64 {
    let first = match toks.first() {
        None | Some((_, _, true)) => 0,
        Some(&(start, end, false)) => key_at(line.as_bytes(), start as usize, end as usize),
    };
    first ^ (toks.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Templates in a bucket from which its best fits are remembered.
const MEMO_FROM: usize = 4;
/// Most shapes a bucket remembers (then it starts again): a bucket of many templates with
/// words that vary at a few places (methods, servers, one-level paths) has hundreds.
const MEMO_MAX: usize = 512;

/// A hash of the keys of a line's tokens: lines with equal shapes fit the same templates
/// equally (a 64-bit hash: two shapes that collide would pick the same template, which then
/// checks the line's words itself).
fn shape_of(spans: &[Span], relevant: u128) -> u64 {
    // independent products added (no chain of multiplications through the line)
    spans.iter().zip(0u64..).fold(0, |h: u64, (s, i)| {
        if i < 128 && relevant & (1 << i) == 0 {
            return h;
        }
        h.wrapping_add((s.key ^ (i + 1).wrapping_mul(0x243f_6a88_85a3_08d3)).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i as u32 & 63))
    })
}

/// The positions where some of these templates is not `Any` (see [`Bucket::relevant`]).
fn relevant_of(templates: &[Template], members: &[u32]) -> u128 {
    let mut r = 0u128;
    for &i in members {
        for (p, &k) in templates[i as usize].keys.iter().take(128).enumerate() {
            if k != ANY_KEY {
                r |= 1 << p;
            }
        }
    }
    r
}

/// How many templates differing only in words at the same places make those words variables
/// (up to three stay apart: `for root` / `for admin`, `HTTPS` / `SOCKS5` are often kinds of
/// line of their own; a fourth says the place holds values).
pub const VARIANTS_TO_MERGE: usize = 4;

/// Whether the line's word at one of the places `at` is a constant's name, capitals and
/// underscores (`RUNNING`, `FAIL_TASK_CLEANUP`, `SCREEN_ON`): a state or a kind, so lines that
/// differ there are different kinds of line however many there are, not values of one
/// variable. A name in capitals with a digit (`WORKSTATION1`, `SERVER01`) is more often a
/// host's and is left to the variants rule.
fn names_a_state(line: &str, spans: &[Span], at: &[usize]) -> bool {
    at.iter().any(|&p| {
        let w = spans[p].text(line).trim_end_matches([',', '.', ';', ':', ')', ']']).trim_start_matches(['(', '[']);
        w.len() >= 2 && w.bytes().all(|c| c.is_ascii_uppercase() || c == b'_') && w.bytes().any(|c| c != b'_')
    })
}

impl ServiceMiner {
    /// Templates of the bucket that are `i` but for words at `at` (`i` included).
    fn variants(&self, i: usize, bucket: u64, at: &[usize]) -> usize {
        let t = &self.templates[i];
        self.buckets[&bucket].members.iter().filter(|&&j| t.sibling_of(&self.templates[j as usize], at)).count()
    }

    /// A template refined into the text of another of its bucket (they grew towards each other
    /// from different first lines) becomes one with it, under the older; returns the index of
    /// the one kept.
    fn dedupe(&mut self, i: usize, bucket: u64) -> usize {
        let id = self.templates[i].id;
        let Some(j) = self.buckets[&bucket].members.iter().map(|&j| j as usize).find(|&j| j != i && self.templates[j].id == id) else {
            return i;
        };
        let (keep, gone) = (i.min(j), i.max(j));
        let other = self.templates.remove(gone);
        let at: Vec<usize> = (0..other.positions.len())
            .filter(|&p| self.templates[keep].positions[p].slot != other.positions[p].slot)
            .collect();
        self.templates[keep].swallow(other, &at);
        self.reindex();
        keep
    }

    /// Merges the variants of `i` into the oldest of them; returns its index afterwards.
    fn merge_variants(&mut self, i: usize, bucket: u64, at: &[usize]) -> usize {
        let t = &self.templates[i];
        let mut members: Vec<usize> = self.buckets[&bucket]
            .members
            .iter()
            .map(|&j| j as usize)
            .filter(|&j| t.sibling_of(&self.templates[j], at))
            .collect();
        members.sort_unstable();
        let keep = members[0];
        // remove from the highest index down so the others stay valid
        let mut taken = Vec::new();
        for &j in members[1..].iter().rev() {
            taken.push(self.templates.remove(j));
        }
        for other in taken.into_iter().rev() {
            self.templates[keep].swallow(other, at);
        }
        self.reindex();
        keep
    }

    /// Template `i` of `bucket` learns from a line; true when its text changed.
    fn learn(&mut self, i: usize, bucket: u64, line: &str, spans: &[Span], now: i64, words_checked: bool) -> bool {
        let l = self.templates[i].absorb(line, spans, now, words_checked);
        if l.reshaped {
            if let Some(b) = self.buckets.get_mut(&bucket) {
                b.changed();
            }
        }
        l.renamed
    }

    /// The template a line fits exactly and would join unchanged (only its counts move), among
    /// those lines with its first word were found in lately: the full path's answer without
    /// tokens, scores or learning. `None` sends the line down the full path.
    fn fast_fit(&mut self, line: &str, toks: &[Piece], key: u64, settings: &MinerSettings) -> Option<usize> {
        let list = *self.hot.get(&key)?;
        for (r, &i) in list.iter().enumerate() {
            if i == NO_TEMPLATE {
                break;
            }
            let Some(t) = self.templates.get(i as usize) else { continue };
            let b = self.buckets.get_mut(&t.bucket)?;
            // (members are in the order of their index: templates are added at the end)
            let Ok(m) = b.members.binary_search(&i) else { continue };
            if b.safe.len() != b.members.len() {
                b.safe.clear();
                b.safe.resize(b.members.len(), 0);
            }
            if b.safe[m] == 0 {
                b.safe[m] = if is_safe(&self.templates, &b.members, i, settings) { SAFE } else { UNSAFE };
            }
            if b.safe[m] != SAFE || !self.templates[i as usize].fits_unchanged(line, toks) {
                continue;
            }
            if r > 0 {
                let l = self.hot.get_mut(&key).expect("looked up above");
                l[..=r].rotate_right(1);
            }
            return Some(i as usize);
        }
        None
    }

    /// Remembers that a line with first-word key `key` was found in template `i`.
    fn remember(&mut self, key: u64, i: usize) {
        if self.hot.len() >= HOT_KEYS && !self.hot.contains_key(&key) {
            self.hot.clear();
        }
        let l = self.hot.entry(key).or_insert([NO_TEMPLATE; HOT]);
        let i = i as u32;
        let r = l.iter().position(|&x| x == i).unwrap_or(HOT - 1);
        l[r] = i;
        l[..=r].rotate_right(1);
    }

    pub(crate) fn reindex(&mut self) {
        // template indices move: what the fast path remembered by index goes
        self.hot.clear();
        self.buckets.clear();
        for (i, t) in self.templates.iter_mut().enumerate() {
            if t.keys.len() != t.positions.len() {
                t.sync_keys();
            }
            self.buckets.entry(t.bucket).or_default().members.push(i as u32);
        }
    }
}

/// The online template miner (single-threaded; [`crate::Patterns`] shares one).
#[derive(Debug, Default)]
pub struct Miner {
    settings: MinerSettings,
    /// The services, each with its templates.
    pub(crate) services: Vec<(String, ServiceMiner)>,
    /// Where each service is in `services`.
    index: FxHashMap<String, u32>,
    /// The service of the last line (lines come in runs of one service), if any.
    last: Option<u32>,
    scratch: Vec<Span>,
    at: Vec<usize>,
    /// Every line down the full path (tests compare the two paths).
    full_path_only: bool,
    /// Lines the fast path took.
    fast_lines: u64,
    pieces: Vec<Piece>,
}

fn bucket_of(line: &str, spans: &[Span]) -> u64 {
    // a first word with digits (`I1203` of klog, `SOCKS5`) may still vary: it does not bucket
    let first = spans
        .first()
        .filter(|s| !s.var())
        .map(|s| s.text(line))
        .filter(|t| !t.bytes().any(|b| b.is_ascii_digit()))
        .unwrap_or("");
    xxh3_64(first.as_bytes()) ^ (spans.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Miner {
    pub fn new(settings: MinerSettings) -> Miner {
        Miner {
            settings,
            services: Vec::new(),
            index: FxHashMap::default(),
            last: None,
            scratch: Vec::new(),
            at: Vec::new(),
            full_path_only: false,
            fast_lines: 0,
            pieces: Vec::new(),
        }
    }

    /// A miner holding these services (from a saved state).
    pub(crate) fn with_services(settings: MinerSettings, services: impl IntoIterator<Item = (String, ServiceMiner)>) -> Miner {
        let mut m = Miner::new(settings);
        for (name, mut sm) in services {
            sm.reindex();
            m.index.insert(name.clone(), m.services.len() as u32);
            m.services.push((name, sm));
        }
        m
    }

    /// The place of `service` in `services`, added when new (past the cap, the shared one).
    fn service_slot(&mut self, service: &str) -> usize {
        if let Some(i) = self.last.filter(|&i| self.services[i as usize].0 == service) {
            return i as usize;
        }
        let i = match self.index.get(service) {
            Some(&i) => i,
            None => {
                let name = if self.services.len() < self.settings.max_services { service } else { OTHER_SERVICES };
                match self.index.get(name) {
                    Some(&i) => i,
                    None => {
                        let i = self.services.len() as u32;
                        self.index.insert(name.to_string(), i);
                        self.services.push((name.to_string(), ServiceMiner::default()));
                        i
                    }
                }
            }
        };
        self.last = Some(i);
        i as usize
    }

    /// The miner of `service` (or of the services past the cap), if it has one.
    pub(crate) fn service(&self, service: &str) -> Option<&ServiceMiner> {
        let i = self.index.get(service).or_else(|| self.index.get(OTHER_SERVICES))?;
        Some(&self.services[*i as usize].1)
    }

    pub fn settings(&self) -> &MinerSettings {
        &self.settings
    }

    /// Sends every line down the full path (tokens, scores, learning), without the fast path
    /// for lines that fit a known template exactly: for tests and benchmarks that compare the
    /// two, which must give the same templates and ids.
    #[doc(hidden)]
    pub fn set_full_path_only(&mut self, on: bool) {
        self.full_path_only = on;
    }

    /// Lines the fast path took since this miner was made.
    #[doc(hidden)]
    pub fn fast_lines(&self) -> u64 {
        self.fast_lines
    }

    /// Mines one line of `service` seen at `now` (milliseconds since the epoch).
    pub fn mine(&mut self, service: &str, line: &str, now: i64) -> Mined {
        let settings = self.settings;
        let slot = self.service_slot(service);
        let sm = &mut self.services[slot].1;
        let first = *sm.first_seen.get_or_insert(now);
        let service_age = now.saturating_sub(first);
        let mut pieces = std::mem::take(&mut self.pieces);
        // (a line of too many pieces is cut by the tokenizer: the full path)
        let whole = split(line, settings.max_tokens, &mut pieces);
        let key = if whole { dispatch_key(line, &pieces) } else { 0 };
        let fast = if whole && !self.full_path_only { sm.fast_fit(line, &pieces, key, &settings) } else { None };
        self.pieces = pieces;
        if let Some(i) = fast {
            {
                self.fast_lines += 1;
                let t = &mut sm.templates[i];
                t.count += 1;
                t.first_seen = t.first_seen.min(now);
                t.last_seen = t.last_seen.max(now);
                return Mined { id: t.id, new: false, refined: false, overflow: false, service_age };
            }
        }
        let mut spans = std::mem::take(&mut self.scratch);
        tokenize(line, settings.max_tokens.max(1), &mut spans);
        let bucket = bucket_of(line, &spans);
        // the best fit: most positions that fit, then fewest `Any`, then the oldest
        let mut best: Option<(usize, usize, usize)> = None;
        if let Some(b) = sm.buckets.get_mut(&bucket) {
            if b.members.len() >= MEMO_FROM && b.memo.is_empty() {
                b.relevant = relevant_of(&sm.templates, &b.members);
            }
            let shape = (b.members.len() >= MEMO_FROM).then(|| shape_of(&spans, b.relevant));
            if let Some(&i) = shape.and_then(|h| b.memo.get(&h)) {
                best = sm.templates[i as usize].score(&spans).map(|(same, any)| (i as usize, same, any));
            } else {
                for &i in &b.members {
                    let Some((same, any)) = sm.templates[i as usize].score(&spans) else { continue };
                    let better = match best {
                        None => true,
                        Some((_, bs, ba)) => same > bs || (same == bs && any < ba),
                    };
                    if better {
                        best = Some((i as usize, same, any));
                    }
                }
                if let (Some(h), Some((i, _, _))) = (shape, best) {
                    if b.memo.len() == MEMO_MAX {
                        b.memo.clear();
                    }
                    b.memo.insert(h, i as u32);
                }
            }
        }
        let n = spans.len();
        let best = best.map(|(i, same, any)| (i, if n == 0 { 1.0 } else { same as f64 / n as f64 }, any));
        let mut at = std::mem::take(&mut self.at);
        let out = match best {
            Some((i, sim, _)) if sim >= settings.similarity && !sm.templates[i].has_word_mismatch(line, &spans, &mut at) => {
                let refined = sm.learn(i, bucket, line, &spans, now, true);
                let i = if refined { sm.dedupe(i, bucket) } else { i };
                (Mined { id: sm.templates[i].id, new: false, refined, overflow: false, service_age }, Some(i))
            }
            Some((i, sim, _))
                if sim >= settings.similarity
                    && !names_a_state(line, &spans, &at)
                    && sm.variants(i, bucket, &at) + 1 >= VARIANTS_TO_MERGE =>
            {
                // enough different words at the same places: they are a variable
                let i = sm.merge_variants(i, bucket, &at);
                sm.learn(i, bucket, line, &spans, now, false);
                let i = sm.dedupe(i, bucket);
                (Mined { id: sm.templates[i].id, new: false, refined: true, overflow: false, service_age }, Some(i))
            }
            Some((i, sim, _)) if sim >= settings.similarity && sm.templates.len() >= settings.max_templates => {
                // no room for a variant: the line joins the template, the words become variables
                let refined = sm.learn(i, bucket, line, &spans, now, false);
                let i = if refined { sm.dedupe(i, bucket) } else { i };
                (Mined { id: sm.templates[i].id, new: false, refined, overflow: false, service_age }, Some(i))
            }
            _ if sm.templates.len() >= settings.max_templates => {
                sm.overflow += 1;
                (Mined { id: template_id(OVERFLOW_TEMPLATE), new: false, refined: false, overflow: true, service_age }, None)
            }
            _ => {
                let t = Template::new(line, &spans, bucket, now);
                let id = t.id;
                let b = sm.buckets.entry(bucket).or_default();
                b.members.push(sm.templates.len() as u32);
                b.changed();
                sm.templates.push(t);
                // a line that renders as a template its bucket already has joins it
                let i = sm.dedupe(sm.templates.len() - 1, bucket);
                (Mined { id, new: sm.templates[i].count == 1, refined: false, overflow: false, service_age }, Some(i))
            }
        };
        let (out, found) = out;
        if let (Some(i), true) = (found, whole) {
            sm.remember(key, i);
        }
        self.scratch = spans;
        self.at = at;
        out
    }

    /// The text of the template `id` of `service`, if it is one of its current templates.
    pub fn template_text(&self, service: &str, id: TemplateId) -> Option<&str> {
        let sm = self.service(service)?;
        sm.templates.iter().find(|t| t.id == id).map(|t| t.text.as_str())
    }

    /// Number of templates over all services.
    pub fn template_count(&self) -> usize {
        self.services.iter().map(|(_, s)| s.templates.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::format_id;

    #[test]
    fn lines_of_one_kind_share_a_template_and_others_do_not() {
        let mut m = Miner::new(MinerSettings::default());
        let a = m.mine("sshd", "Failed password for root from 10.0.0.1 port 22 ssh2", 1);
        assert!(a.new);
        // another word at one place: another kind of line, until a fourth word says it is a value
        let b = m.mine("sshd", "Failed password for admin from 10.0.0.9 port 2222 ssh2", 2);
        assert!(b.new);
        let b = m.mine("sshd", "Failed password for guest from 10.0.0.9 port 2222 ssh2", 2);
        assert!(b.new);
        let b = m.mine("sshd", "Failed password for bob from 10.0.0.7 port 1 ssh2", 3);
        assert!(!b.new && b.refined);
        let c = m.mine("sshd", "Failed password for carol from 10.0.0.7 port 1 ssh2", 3);
        assert_eq!(c.id, b.id);
        assert!(!c.refined);
        assert_eq!(m.dictionary().get(a.id).unwrap().template, "Failed password for <*> from <*> port <*> ssh2");
        assert_eq!(m.dictionary().get(a.id).unwrap().count, 5);
        let d = m.mine("sshd", "Connection closed by 10.0.0.1 [preauth]", 4);
        assert!(d.new && d.id != c.id);
        // another service mines apart but agrees on the id of the same template
        let e = m.mine("other", "Connection closed by 10.9.9.9 [preauth]", 5);
        assert!(e.new);
        assert_eq!(e.id, d.id);
        assert_eq!(m.template_count(), 3);
    }

    #[test]
    fn templates_that_grow_into_the_same_text_become_one() {
        let mut m = Miner::new(MinerSettings::default());
        // a value first (a Value slot), then words that become a variable on their own
        m.mine("s", "Failed password for invalid user 0 from 1.1.1.1 port 1 ssh2", 0);
        for u in ["admin", "test", "oracle", "guest", "bob", "carol"] {
            m.mine("s", &format!("Failed password for invalid user {u} from 1.1.1.1 port 1 ssh2"), 1);
        }
        let d = m.dictionary();
        let texts: Vec<_> = d.templates().iter().map(|t| t.template.as_str()).collect();
        assert_eq!(texts, ["Failed password for invalid user <*> from <*> port <*> ssh2"]);
        assert_eq!(d.templates()[0].count, 7);
    }

    #[test]
    fn a_first_word_with_digits_does_not_split_lines_apart() {
        // klog's header (`I1203`) varies with the date: one kind of line all the same
        let mut m = Miner::new(MinerSettings::default());
        for i in 0..50 {
            let line = format!("I{:04} 10:14:{:02}.192152 prober.go:129] \"Probe succeeded\" probeType=\"Readiness\"", 1100 + i * 3, i);
            m.mine("kubelet", &line, i);
        }
        assert_eq!(m.template_count(), 1, "{:?}", m.dictionary().templates());
    }

    #[test]
    fn keyed_values_with_other_keys_are_other_kinds_of_line() {
        // issue 12 (HealthApp, Android): `setTotalSteps=5` and `setLastMinute=7` were one value
        let mut m = Miner::new(MinerSettings::default());
        let a = m.mine("app", "setTotalSteps=5", 1);
        let b = m.mine("app", "setLastMinute=7", 2);
        assert_ne!(a.id, b.id);
        // one value renders as itself, a second as the shape
        let c = m.mine("app", "setTotalSteps=12", 3);
        assert_eq!(m.dictionary().get(c.id).unwrap().template, "setTotalSteps=<*>");
        assert_eq!(m.dictionary().get(a.id).unwrap().id, format_id(c.id));
        // the same keys with other values, packed or apart: one kind of line
        for i in 0..6 {
            m.mine("app", &format!("acquire lock={}, flags=0x{i}, uid={}", 7 * i, 1000 + i), 10 + i);
            m.mine("app", &format!("policy state={},mode=idle,wake={}", i % 2, i), 20 + i);
        }
        let texts: Vec<String> = m.dictionary().templates().iter().map(|t| t.template.clone()).collect();
        assert!(texts.contains(&"acquire lock=<*>, flags=<*>, uid=<*>".to_string()), "{texts:?}");
        assert!(texts.contains(&"policy state=<*>,mode=<*>,wake=<*>".to_string()), "{texts:?}");
        assert_eq!(texts.len(), 4, "{texts:?}");
        // a number where the lines had a word under the same key: one field, not a new kind
        let d = m.mine("ui", "setSystemUiVisibility vis=0 mask=ffffffff oldVal=708", 30);
        let e = m.mine("ui", "setSystemUiVisibility vis=1 mask=1 oldVal=12", 31);
        assert!(!e.new, "{:?}", m.dictionary().templates());
        assert_eq!(m.dictionary().get(d.id).unwrap().template, "setSystemUiVisibility vis=<*> mask=<*> oldVal=<*>");
        // two words under one key stay apart (Linux: user=root, user=guest are kinds of line)
        let f = m.mine("pam", "authentication failure; user=root", 32);
        let g = m.mine("pam", "authentication failure; user=guest", 33);
        assert_ne!(f.id, g.id);
    }

    #[test]
    fn states_in_capitals_stay_kinds_of_line() {
        // issue 12 (Hadoop): a state machine's transitions are kinds of line, however many
        let mut m = Miner::new(MinerSettings::default());
        let states = ["NEW", "UNASSIGNED", "ASSIGNED", "RUNNING", "SUCCESS_CONTAINER_CLEANUP", "SUCCEEDED"];
        for (i, w) in states.windows(2).enumerate() {
            m.mine("am", &format!("attempt_{i} TaskAttempt Transitioned from {} to {}", w[0], w[1]), i as i64);
        }
        assert_eq!(m.template_count(), 5, "{:?}", m.dictionary().templates());
        // words in lower case (users) still become a variable at the fourth
        for u in ["root", "admin", "guest", "bob"] {
            m.mine("sshd", &format!("session opened for user {u} by 0"), 9);
        }
        assert_eq!(m.service("sshd").unwrap().templates.len(), 1);
    }

    #[test]
    fn a_service_past_its_cap_counts_overflow() {
        let mut m = Miner::new(MinerSettings { max_templates: 10, ..Default::default() });
        for i in 0..1000 {
            // no two lines alike: one word each, all different
            let line: String = format!("{}", i).chars().map(|c| (b'a' + c.to_digit(10).unwrap() as u8) as char).collect();
            m.mine("svc", &line, i);
        }
        assert_eq!(m.template_count(), 10);
        assert_eq!(m.service("svc").unwrap().overflow, 990);
    }

    #[test]
    fn services_past_their_cap_share_one() {
        let mut m = Miner::new(MinerSettings { max_services: 3, ..Default::default() });
        for i in 0..10 {
            m.mine(&format!("s{i}"), "hello world", 0);
        }
        assert_eq!(m.services.len(), 4);
        assert!(m.services.iter().any(|(n, _)| n == OTHER_SERVICES));
    }
}
