//! [`RoutedEngine`]: the active detection rules grouped by the routing conditions the loglynx
//! pipeline put in front of them, one rsigma [`Engine`] per group.
//!
//! Why: the pipeline ANDs a routing condition (`event.dataset: syslog`, `process.name: sshd`,
//! ...) in front of each rule. rsigma's candidate index keeps one witness per AND, the most
//! selective by its ranking, and an exact field value outranks a keyword: so every routed
//! keyword rule (most SigmaHQ `linux` rules) became a candidate for every event of its route
//! and was evaluated in full, one substring search per rule. Taken apart, the routing
//! condition is checked once per group and event, and inside a group rsigma's index sees the
//! rules' own literals (one Aho-Corasick pass per event for all keyword rules of the group):
//! most rules are never evaluated on most events.
//!
//! Keyword rules go one step further. Many SigmaHQ keyword values have wildcards inside
//! (`'cat /dev/null >*sh_history'`), which rsigma's index cannot gate, so such a rule was
//! evaluated on every event of its route. A rule whose body needs a keyword match is *gated*
//! here instead: each keyword value has a longest literal run that any match must contain, and
//! one case-insensitive Aho-Corasick automaton over the literals of every gated rule (all routes
//! together) is run over the event's text values once; only the rules with a literal found are
//! checked for their route and evaluated (rsigma's [`evaluate_rule`]). The result is the same as
//! evaluating the whole rule (`route AND body`); `tests/route_groups.rs` checks it against
//! rsigma's single engine over real events and every SigmaHQ rule.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use rsigma_eval::result::EvaluationResult;
use rsigma_eval::{
    compile_rule, evaluate_rule, CompiledDetection, CompiledRule, Engine, EvalError,
};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SigmaRule, SigmaValue,
    SpecialChar, StringPart,
};

use crate::event::SigmaEvent;

/// Prefix rsigma gives the detections a pipeline's `add_condition` adds.
const PIPELINE_COND: &str = "__pipeline_cond_";

/// A rule split into its routing conditions and its own body.
pub(crate) struct Split {
    /// The routing items applied (`route_*` ids, sorted): the group key.
    pub(crate) key: String,
    /// The routing conditions alone (`None`: the rule has none, or could not be split).
    pub(crate) route: Option<SigmaRule>,
    /// The rule without them.
    pub(crate) body: SigmaRule,
}

impl Split {
    /// `rule` as it is, evaluated on every event.
    pub(crate) fn whole(rule: &SigmaRule) -> Split {
        Split {
            key: String::new(),
            route: None,
            body: rule.clone(),
        }
    }
}

/// Splits a transformed rule: the routing detections the pipeline prepended (`route AND
/// body`, for every condition of the rule) go to `route`. A rule whose conditions do not all
/// carry the same routing prefix stays whole (group key `""`, evaluated on every event).
pub(crate) fn split(rule: &SigmaRule, routes: &[String]) -> Split {
    let whole = || Split::whole(rule);
    let mut names: Option<Vec<String>> = None;
    let mut bodies = Vec::with_capacity(rule.detection.conditions.len());
    for c in &rule.detection.conditions {
        let mut prefix = Vec::new();
        let body = strip(c, &mut prefix);
        prefix.sort();
        match &names {
            None => names = Some(prefix),
            Some(n) if *n == prefix => {}
            Some(_) => return whole(),
        }
        bodies.push(body.clone());
    }
    let names = names.unwrap_or_default();
    if names.is_empty() {
        return whole();
    }
    let mut body = rule.clone();
    body.detection.conditions = bodies;
    body.detection.condition_strings = body
        .detection
        .conditions
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut route = rule.clone();
    route.detection.named.clear();
    for n in &names {
        if let Some(d) = body.detection.named.remove(n) {
            route.detection.named.insert(n.clone(), d);
        }
    }
    let cond = ConditionExpr::And(
        names
            .iter()
            .cloned()
            .map(ConditionExpr::Identifier)
            .collect(),
    );
    route.detection.condition_strings = vec![cond.to_string()];
    route.detection.conditions = vec![cond];
    let mut key: Vec<&str> = routes.iter().map(String::as_str).collect();
    key.sort_unstable();
    Split {
        key: key.join("+"),
        route: Some(route),
        body,
    }
}

/// `route AND body` -> `body`, collecting the routing detection names into `prefix`.
fn strip<'a>(c: &'a ConditionExpr, prefix: &mut Vec<String>) -> &'a ConditionExpr {
    match c {
        ConditionExpr::And(parts) if parts.len() == 2 => match &parts[0] {
            ConditionExpr::Identifier(n) if n.starts_with(PIPELINE_COND) => {
                prefix.push(n.clone());
                strip(&parts[1], prefix)
            }
            _ => c,
        },
        _ => c,
    }
}

/// One group: the rules that share routing conditions.
struct Group {
    /// Checked once per event before the group's rules (`None`: always).
    route: Option<CompiledRule>,
    /// The route is an AND of field tests (as the pipeline writes them): checked item by item
    /// without rsigma's bookkeeping of matched selections (no allocation).
    simple: bool,
    engine: Engine,
}

/// Whether `r` is an AND of detections that are each an AND of field tests.
fn is_simple(r: &CompiledRule) -> bool {
    r.conditions.iter().all(|c| match c {
        ConditionExpr::And(ids) => ids.iter().all(|i| match i {
            ConditionExpr::Identifier(n) => {
                matches!(r.detections.get(n), Some(CompiledDetection::AllOf(items))
                if items.iter().all(|it| it.field.is_some() && it.exists.is_none()))
            }
            _ => false,
        }),
        _ => false,
    })
}

/// Whether `event` passes the route `r` (one of its conditions holds).
fn routed(
    r: &CompiledRule,
    simple: bool,
    event: &SigmaEvent<'_>,
    scratch: &mut Vec<String>,
) -> bool {
    use rsigma_eval::Event as _;
    if !simple {
        scratch.clear();
        return r
            .conditions
            .iter()
            .any(|c| rsigma_eval::compiler::eval_condition(c, &r.detections, event, scratch));
    }
    r.conditions.iter().any(|c| {
        let ConditionExpr::And(ids) = c else {
            return false;
        };
        ids.iter().all(|i| {
            let ConditionExpr::Identifier(n) = i else {
                return false;
            };
            let Some(CompiledDetection::AllOf(items)) = r.detections.get(n) else {
                return false;
            };
            items.iter().all(|it| {
                let Some(f) = it.field.as_deref() else {
                    return false;
                };
                event
                    .get_field(f)
                    .is_some_and(|v| it.matcher.matches(&v, event))
            })
        })
    })
}

/// A rule evaluated only on events where one of its literals occurs.
struct Gated {
    /// Its route's group.
    group: usize,
    rule: CompiledRule,
}

/// The active rules, grouped by route.
#[derive(Default)]
pub(crate) struct RoutedEngine {
    groups: Vec<Group>,
    by_key: HashMap<String, usize>,
    /// Rules waiting for [`RoutedEngine::finish`], per group.
    pending: Vec<Vec<CompiledRule>>,
    gated: Vec<Gated>,
    /// Lowercased literal -> the gated rules that need it (until [`RoutedEngine::finish`]).
    literals: HashMap<String, Vec<usize>>,
    /// Over the literals, case-insensitive (ASCII, as rsigma folds keywords).
    automaton: Option<AhoCorasick>,
    /// Pattern of `automaton` -> gated rules.
    pattern_rules: Vec<Vec<usize>>,
    /// The fields the memoizable routes read (see [`RouteMemo`]); empty: no memo.
    memo_fields: Vec<String>,
    /// Per group: whether its route result is a function of `memo_fields` alone.
    memoizable: Vec<bool>,
    /// Tells this engine's memo entries from those of an engine loaded before it.
    id: u64,
}

/// The route results of recent events, per thread, keyed by the values of the fields the
/// routes read.
///
/// Why: every event is checked against every group's route (a dozen with the built-in pack and
/// the SigmaHQ linux rules), and rsigma's case-insensitive matchers lowercase the value into a
/// new string for each alternative (`route_linux_auth` lists ~70 program names): that was a
/// third of detection's cost per syslog line. The routes read one or two fields
/// (`process.name`, `event.dataset`) whose values repeat from line to line, so each distinct
/// combination is checked once per thread.
#[derive(Default)]
struct RouteMemo {
    /// [`RoutedEngine::id`] of the engine the entries belong to.
    engine: u64,
    entries: HashMap<u64, MemoEntry>,
}

struct MemoEntry {
    key: Vec<Option<Box<str>>>,
    /// Per group: 1 routed, 2 not, 0 not memoized (checked per event).
    routes: Vec<u8>,
}

/// Most distinct field-value combinations a thread remembers; then it starts over.
const MEMO_MAX: usize = 4096;

thread_local! {
    static MEMO: std::cell::RefCell<RouteMemo> = std::cell::RefCell::new(RouteMemo::default());
    static LITERALS: std::cell::RefCell<LiteralMemo> = std::cell::RefCell::new(LiteralMemo::default());
}

/// The keyword-gate literals found in the values that name an event's source (host, service,
/// program, file path), per thread: they repeat from event to event, and scanning them was a
/// third of the gate's bytes on syslog lines.
#[derive(Default)]
struct LiteralMemo {
    /// [`RoutedEngine::id`] of the engine whose automaton found them.
    engine: u64,
    /// Hash of the value -> the value and the patterns found in it.
    entries: HashMap<u64, (Box<str>, Box<[u32]>)>,
}

/// Longer values are scanned each time (a path this long is rare; the memo stays small).
const LITERAL_MEMO_MAX_LEN: usize = 512;

static ENGINE_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The fields `r` reads, when its result depends on them alone (an AND of field tests with no
/// reference to other fields), else `None`.
fn route_fields(r: &CompiledRule) -> Option<Vec<String>> {
    if !is_simple(r) {
        return None;
    }
    let mut out = Vec::new();
    for d in r.detections.values() {
        let CompiledDetection::AllOf(items) = d else {
            return None;
        };
        for it in items {
            // field references and placeholder expansion read beyond the item's own field
            let m = format!("{:?}", it.matcher);
            if m.contains("FieldRef") || m.contains("Expand") {
                return None;
            }
            out.push(it.field.clone()?);
        }
    }
    Some(out)
}

/// The literal runs of which a match of `rule`'s body must contain at least one (lowercased),
/// or `None` when there is no such set (a condition not made of keyword selections, a keyword
/// value without a literal run, a non-ASCII literal whose case folding rsigma may do
/// otherwise).
pub(crate) fn keyword_literals(rule: &SigmaRule) -> Option<Vec<String>> {
    let mut all = Vec::new();
    for c in &rule.detection.conditions {
        all.extend(needed(c, rule)?);
    }
    all.sort();
    all.dedup();
    (!all.is_empty()).then_some(all)
}

/// Literals of which one is in every match of `c` (see [`keyword_literals`]).
fn needed(c: &ConditionExpr, rule: &SigmaRule) -> Option<Vec<String>> {
    let named = &rule.detection.named;
    let union = |parts: &mut dyn Iterator<Item = Option<Vec<String>>>| -> Option<Vec<String>> {
        let mut out = Vec::new();
        for p in parts {
            out.extend(p?);
        }
        (!out.is_empty()).then_some(out)
    };
    // of several alternatives that are each needed, the one whose shortest literal is longest
    let best = |parts: &mut dyn Iterator<Item = Option<Vec<String>>>| -> Option<Vec<String>> {
        parts
            .flatten()
            .max_by_key(|ls| ls.iter().map(String::len).min().unwrap_or(0))
    };
    match c {
        ConditionExpr::Identifier(n) => detection_literals(named.get(n)?),
        ConditionExpr::And(parts) => best(&mut parts.iter().map(|p| needed(p, rule))),
        ConditionExpr::Or(parts) => union(&mut parts.iter().map(|p| needed(p, rule))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let mut chosen = named
                .keys()
                .filter(|n| pattern.matches_detection_name(n))
                .map(|n| needed(&ConditionExpr::Identifier(n.clone()), rule));
            match quantifier {
                Quantifier::All => best(&mut chosen),
                Quantifier::Any => union(&mut chosen),
                Quantifier::Count(n) if *n >= 1 => union(&mut chosen),
                Quantifier::Count(_) => None,
            }
        }
    }
}

/// Literals of which one is in every match of the detection `d`: keyword lists (`- 'text'`),
/// keyword items with modifiers (`'|all': [...]`), and mappings or lists of them.
fn detection_literals(d: &Detection) -> Option<Vec<String>> {
    match d {
        Detection::Keywords(values) => values.iter().map(literal).collect(),
        // a mapping: every item holds, so the literals of any one keyword item will do (the
        // item whose shortest literal is longest)
        Detection::AllOf(items) => items
            .iter()
            .filter_map(keyword_item_literals)
            .max_by_key(|ls| ls.iter().map(String::len).min().unwrap_or(0)),
        // a list of mappings: one of them holds
        Detection::AnyOf(subs) => {
            let mut out = Vec::new();
            for d in subs {
                out.extend(detection_literals(d)?);
            }
            (!out.is_empty()).then_some(out)
        }
        _ => None,
    }
}

/// The literals of a keyword item (no field) of a mapping: with `|all` every value is in a
/// match, so its longest literal alone; otherwise one of the values is, so all of theirs.
/// Modifiers that change what the text must contain (`re`, `base64`, `wide`, ...) give none.
fn keyword_item_literals(item: &DetectionItem) -> Option<Vec<String>> {
    if item.field.name.is_some() {
        return None;
    }
    let plain = item.field.modifiers.iter().all(|m| {
        matches!(
            m,
            Modifier::All
                | Modifier::Contains
                | Modifier::StartsWith
                | Modifier::EndsWith
                | Modifier::Cased
        )
    });
    if !plain || item.values.is_empty() {
        return None;
    }
    let ls: Vec<String> = item.values.iter().map(literal).collect::<Option<_>>()?;
    if item.field.has_modifier(Modifier::All) {
        ls.into_iter().max_by_key(String::len).map(|l| vec![l])
    } else {
        Some(ls)
    }
}

/// The longest literal run of a keyword value (what any string it matches contains), lowercased.
fn literal(v: &SigmaValue) -> Option<String> {
    let SigmaValue::String(s) = v else {
        return None;
    };
    let mut best = String::new();
    let mut run = String::new();
    for part in &s.parts {
        match part {
            StringPart::Plain(p) => run.push_str(p),
            StringPart::Special(SpecialChar::WildcardMulti | SpecialChar::WildcardSingle) => {
                if run.len() > best.len() {
                    best = std::mem::take(&mut run);
                }
                run.clear();
            }
        }
    }
    if run.len() > best.len() {
        best = run;
    }
    (!best.is_empty() && best.is_ascii()).then(|| best.to_ascii_lowercase())
}

impl RoutedEngine {
    /// Adds a rule; its group's `route` is compiled the first time its key is met. A rule whose
    /// body needs one of `literals` (see [`keyword_literals`]) is gated by them.
    pub(crate) fn add(
        &mut self,
        split: &Split,
        body: CompiledRule,
        literals: Option<Vec<String>>,
    ) -> Result<(), EvalError> {
        let g = match self.by_key.get(&split.key) {
            Some(&g) => g,
            None => {
                let route = split.route.as_ref().map(compile_rule).transpose()?;
                let simple = route.as_ref().is_some_and(is_simple);
                self.groups.push(Group {
                    route,
                    simple,
                    engine: Engine::new(),
                });
                self.pending.push(Vec::new());
                self.by_key.insert(split.key.clone(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        match literals {
            Some(ls) => {
                let i = self.gated.len();
                self.gated.push(Gated {
                    group: g,
                    rule: body,
                });
                for l in ls {
                    self.literals.entry(l).or_default().push(i);
                }
            }
            None => self.pending[g].push(body),
        }
        Ok(())
    }

    /// Builds each group's index (once, after the last [`RoutedEngine::add`]).
    pub(crate) fn finish(&mut self) {
        for (g, rules) in self
            .groups
            .iter_mut()
            .zip(std::mem::take(&mut self.pending))
        {
            g.engine.extend_compiled_rules(rules);
        }
        self.id = ENGINE_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.memo_fields.clear();
        self.memoizable = self
            .groups
            .iter()
            .map(|g| match g.route.as_ref().map(route_fields) {
                Some(Some(fields)) => {
                    for f in fields {
                        if !self.memo_fields.contains(&f) {
                            self.memo_fields.push(f);
                        }
                    }
                    true
                }
                _ => false,
            })
            .collect();
        if self.memo_fields.len() > 8 {
            // too many to make a cheap key of: checked per event
            self.memo_fields.clear();
            self.memoizable.iter_mut().for_each(|m| *m = false);
        }
        let mut literals: Vec<(String, Vec<usize>)> =
            std::mem::take(&mut self.literals).into_iter().collect();
        literals.sort();
        let built = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // a few hundred literals: the DFA is small and scans fastest
            .kind(Some(AhoCorasickKind::DFA))
            .build(literals.iter().map(|(l, _)| l));
        match built {
            Ok(ac) => {
                self.automaton = Some(ac);
                self.pattern_rules = literals.into_iter().map(|(_, r)| r).collect();
            }
            Err(e) => {
                // Evaluated ungated then: slower, the same result.
                tracing::warn!("keyword prefilter not built ({e}): those rules are evaluated on every event of their route");
                for gr in std::mem::take(&mut self.gated) {
                    self.groups[gr.group].engine.add_compiled_rule(gr.rule);
                }
            }
        }
    }

    pub(crate) fn set_bloom_prefilter(&mut self, on: bool) {
        for g in &mut self.groups {
            g.engine.set_bloom_prefilter(on);
        }
    }

    /// How many groups (distinct routes) the rules fall into.
    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }

    /// How many rules are gated by their keyword literals.
    pub(crate) fn gated(&self) -> usize {
        self.gated.len()
    }

    /// The route results of the memoizable groups for `event` (0 for the others), from this
    /// thread's [`RouteMemo`] when an event with the same values of `memo_fields` was seen.
    fn memoized_routes(&self, event: &SigmaEvent<'_>, scratch: &mut Vec<String>) -> Vec<u8> {
        use rsigma_eval::EventValue;
        use std::borrow::Cow;
        let n = self.groups.len();
        if self.memo_fields.is_empty() {
            return vec![0; n];
        }
        let mut values: [Option<&str>; 8] = [None; 8];
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (i, f) in self.memo_fields.iter().enumerate() {
            match event.field(f) {
                Some(EventValue::Str(Cow::Borrowed(v))) => {
                    values[i] = Some(v);
                    h.update(&(v.len() as u64 + 1).to_le_bytes());
                    h.update(v.as_bytes());
                }
                None => h.update(&0u64.to_le_bytes()),
                // a number: not memoized
                Some(_) => return vec![0; n],
            }
        }
        let key = h.digest();
        let values = &values[..self.memo_fields.len()];
        let hit = MEMO.with_borrow(|m| {
            if m.engine != self.id {
                return None;
            }
            m.entries
                .get(&key)
                .filter(|e| {
                    e.key
                        .iter()
                        .map(|k| k.as_deref())
                        .eq(values.iter().copied())
                })
                .map(|e| e.routes.clone())
        });
        if let Some(r) = hit {
            return r;
        }
        let routes: Vec<u8> = self
            .groups
            .iter()
            .zip(&self.memoizable)
            .map(|(g, &memo)| match (&g.route, memo) {
                (Some(r), true) => {
                    if routed(r, g.simple, event, scratch) {
                        1
                    } else {
                        2
                    }
                }
                _ => 0,
            })
            .collect();
        MEMO.with_borrow_mut(|m| {
            if m.engine != self.id || m.entries.len() >= MEMO_MAX {
                m.engine = self.id;
                m.entries.clear();
            }
            let key_values = values.iter().map(|v| v.map(Box::from)).collect();
            m.entries.insert(
                key,
                MemoEntry {
                    key: key_values,
                    routes: routes.clone(),
                },
            );
        });
        routes
    }

    /// Calls `found` with each pattern of `ac` found in `text`, from this thread's
    /// [`LiteralMemo`] when `text` was scanned before.
    fn source_literals(&self, ac: &AhoCorasick, text: &str, mut found: impl FnMut(usize)) {
        let key = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
        let known = LITERALS.with_borrow(|m| {
            if m.engine != self.id {
                return false;
            }
            match m.entries.get(&key) {
                Some((t, ps)) if &**t == text => {
                    ps.iter().for_each(|&p| found(p as usize));
                    true
                }
                _ => false,
            }
        });
        if known {
            return;
        }
        let ps: Vec<u32> = ac
            .find_overlapping_iter(text)
            .map(|m| m.pattern().as_u32())
            .collect();
        ps.iter().for_each(|&p| found(p as usize));
        if text.len() > LITERAL_MEMO_MAX_LEN {
            return;
        }
        LITERALS.with_borrow_mut(|m| {
            if m.engine != self.id || m.entries.len() >= MEMO_MAX {
                m.engine = self.id;
                m.entries.clear();
            }
            m.entries.insert(key, (text.into(), ps.into()));
        });
    }

    /// Calls `hit` with rsigma's result for each rule matching `event`.
    pub(crate) fn evaluate(&self, event: &SigmaEvent<'_>, mut hit: impl FnMut(&EvaluationResult)) {
        let mut scratch = Vec::new();
        // per group: 0 not checked yet, 1 routed, 2 not
        let mut routes = self.memoized_routes(event, &mut scratch);
        let mut pass = |g: usize, scratch: &mut Vec<String>| -> bool {
            if routes[g] == 0 {
                let grp = &self.groups[g];
                let ok = grp
                    .route
                    .as_ref()
                    .is_none_or(|r| routed(r, grp.simple, event, scratch));
                routes[g] = if ok { 1 } else { 2 };
            }
            routes[g] == 1
        };
        for (i, g) in self.groups.iter().enumerate() {
            if g.engine.rules().is_empty() || !pass(i, &mut scratch) {
                continue;
            }
            for m in g.engine.evaluate(event) {
                hit(&m);
            }
        }
        let Some(ac) = &self.automaton else { return };
        if self.gated.is_empty() {
            return;
        }
        // one pass over the text values for every gated rule
        let mut found: Vec<usize> = Vec::new();
        event.own_texts_to_scan().for_each(|t| {
            for m in ac.find_overlapping_iter(t) {
                found.extend_from_slice(&self.pattern_rules[m.pattern().as_usize()]);
            }
        });
        // the host, service, program and file path repeat: their literals are remembered
        event.source_texts().for_each(|t| {
            self.source_literals(ac, t, |p| found.extend_from_slice(&self.pattern_rules[p]));
        });
        if found.is_empty() {
            return;
        }
        found.sort_unstable();
        found.dedup();
        for i in found {
            let gr = &self.gated[i];
            if !pass(gr.group, &mut scratch) {
                continue;
            }
            if let Some(m) = evaluate_rule(&gr.rule, event) {
                hit(&m);
            }
        }
    }
}
