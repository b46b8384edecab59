//! Loading Sigma rules from files and folders, compiling them against loglynx events, and
//! refusing the ones that do not compile (with file, line and reason) while the others load.
//!
//! Parsing and compiling are rsigma's (`rsigma-parser`, `rsigma-eval`: spec v2.1, MIT).
//! Written here, because rsigma stops at the first error of a collection
//! (`Engine::add_collection`, `CorrelationEngine::add_collection`) and its parse errors carry
//! no file line: the loop over files and rules, the line search ([`crate::locate`]) and the
//! check of correlation references across all the files loaded.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use loglynx_core::Event;
use rsigma_eval::{compile_rule, correlation::compile_correlation, transform_rule, CompiledCorrelation, Pipeline};
use rsigma_parser::{CorrelationRule, SigmaCollection, SigmaRule};
use serde::Serialize;

use crate::event::SigmaEvent;
use crate::locate::{doc_start, line_of};
use crate::pipeline::{loglynx_pipeline, ROUTE_PREFIX};
use crate::DetectError;

/// A rule (or a whole file) that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The rule file.
    pub file: PathBuf,
    /// 1-based line of the problem: from the parser where it gives one, else the line of the
    /// offending key found in the file's text, else the start of the rule's document.
    pub line: usize,
    /// What is wrong, for the rule's author.
    pub reason: String,
}

/// What a loaded rule is, for listings and alerts (the `author` must follow every alert of a
/// SigmaHQ rule: DRL 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// `title`.
    pub title: String,
    /// `id` (a UUID in SigmaHQ rules).
    pub id: Option<String>,
    /// `name` (how correlation rules refer to a rule, besides its id).
    pub name: Option<String>,
    /// `level`: informational, low, medium, high, critical.
    pub level: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// `logsource` as `product/category/service` (absent parts empty).
    pub logsource: String,
    /// Tagged `loglynx.resolve`: its alerts resolve when no match came for `[detect]
    /// resolve_after` (a condition that holds, then clears).
    pub resolves: bool,
}

impl RuleInfo {
    /// How events, alerts and the API name the rule: its `id`, else its `name`, else its
    /// `title`.
    pub fn key(&self) -> &str {
        self.id.as_deref().or(self.name.as_deref()).unwrap_or(&self.title)
    }

    /// Whether `key` names it: its key, id, name or title.
    pub fn is_named(&self, key: &str) -> bool {
        self.id.as_deref() == Some(key) || self.name.as_deref() == Some(key) || self.title == key
    }

    /// Its `name`, else its `title`.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.title)
    }
}

/// Rules loaded from files and folders, compiled.
///
/// Detection rules whose logsource loglynx routes (see [`crate::pipeline`]) are *active*: they
/// are evaluated by [`RuleSet::matching_rules`]. The others compiled but target logs loglynx does
/// not collect (Windows, cloud, ...): they are counted as loaded and listed by
/// [`RuleSet::inactive`]. Correlation rules are compiled and their references checked; their
/// evaluation (windows, state) is not part of this crate yet, nor is applying Sigma filters.
pub struct RuleSet {
    engine: routing::RoutedEngine,
    active: Vec<RuleInfo>,
    by_key: HashMap<String, usize>,
    inactive: Vec<RuleInfo>,
    correlations: Vec<(RuleInfo, CompiledCorrelation)>,
    filters: usize,
    rejected: Vec<Rejection>,
    replaced: Vec<Replaced>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("active", &self.active.len())
            .field("inactive", &self.inactive.len())
            .field("correlations", &self.correlations.len())
            .field("rejected", &self.rejected.len())
            .finish()
    }
}

/// How [`RuleSet::load_with`] loads rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Evaluate every detection rule that compiles, also those whose logsource loglynx does not
    /// route (no routing condition is added to them). For benchmarks and for trying foreign
    /// rules; by default (false) such rules load inactive.
    pub evaluate_unrouted: bool,
    /// Evaluate each rule whole in one rsigma engine, its routing condition included, as
    /// rsigma alone would (the peer of the benchmarks and the equivalence test); by default
    /// (false) rules are grouped by route (see `routing`).
    pub whole_rules: bool,
}

/// A built-in rule replaced by a rule with the same `id` or `name` (see [`RuleSet::load_all`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replaced {
    /// The replaced rule's key (`id`, else `name`, else `title`).
    pub key: String,
    /// Where the replaced rule is (`builtin:<file>`).
    pub file: PathBuf,
    /// The file of the rule that replaces it.
    pub by: PathBuf,
}

/// One rule source, read and parsed.
struct Source<'a> {
    file: PathBuf,
    /// A text given to [`RuleSet::load_all`] (built in): later sources may replace its rules.
    replaceable: bool,
    text: Cow<'a, str>,
    parsed: Result<SigmaCollection, rsigma_parser::SigmaParserError>,
    /// The file holds no Sigma document at all (before any replacement).
    empty: bool,
}

impl<'a> Source<'a> {
    fn parse(file: PathBuf, replaceable: bool, text: Cow<'a, str>) -> Source<'a> {
        let parsed = rsigma_parser::parse_sigma_yaml(&text);
        let empty = parsed.as_ref().is_ok_and(|c| c.is_empty() && c.errors.is_empty());
        Source { file, replaceable, text, parsed, empty }
    }
}

/// One parsed correlation waiting for every file to be read (its references may be anywhere).
struct PendingCorrelation {
    rule: CorrelationRule,
    info: RuleInfo,
    line: usize,
}

impl RuleSet {
    /// Loads every `*.yml` / `*.yaml` file of `paths` (files, or folders read recursively in
    /// name order). A rule that does not parse or compile is a [`Rejection`]; the others load.
    /// Fails only when a path cannot be read at all.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<RuleSet, DetectError> {
        Self::load_with(paths, LoadOptions::default())
    }

    /// [`RuleSet::load`] with options.
    pub fn load_with<P: AsRef<Path>>(paths: &[P], options: LoadOptions) -> Result<RuleSet, DetectError> {
        Self::load_all(paths, &[], options)
    }

    /// Loads `texts` (name, YAML: rules compiled into the binary, named `builtin:<name>`) and
    /// then the rule files of `paths`, as [`RuleSet::load_with`].
    ///
    /// A rule of a later source (a rule file, or a later text such as a backtested one) whose
    /// `id` or `name` is the `id` or `name` of a rule of a text replaces that rule: the text's
    /// rule is not loaded ([`RuleSet::replaced`]). That is how a built-in rule is overridden.
    pub fn load_all<P: AsRef<Path>>(
        paths: &[P],
        texts: &[(&str, &str)],
        options: LoadOptions,
    ) -> Result<RuleSet, DetectError> {
        Self::load_all_with(paths, texts, options, &[])
    }

    /// [`RuleSet::load_all`] with processing pipelines of the user's (`[detect] pipelines`,
    /// read by [`crate::pipeline::read_pipelines`]) besides loglynx's own: all of them apply
    /// to every rule, in `priority` order (loglynx's is 10; for equal priorities, loglynx's
    /// first, then the user's in the order given). A user's `add_condition` item whose id
    /// starts with `route_` routes a logsource to loglynx events, as the built-in routes do.
    pub fn load_all_with<P: AsRef<Path>>(
        paths: &[P],
        texts: &[(&str, &str)],
        options: LoadOptions,
        pipelines: &[Pipeline],
    ) -> Result<RuleSet, DetectError> {
        let mut files = Vec::new();
        for p in paths {
            collect_files(p.as_ref(), &mut files)?;
        }
        let mut pipeline = vec![loglynx_pipeline()?];
        pipeline.extend(pipelines.iter().cloned());
        pipeline.sort_by_key(|p| p.priority);
        let pipeline = pipeline.as_slice();
        let mut set = RuleSet {
            engine: routing::RoutedEngine::default(),
            active: Vec::new(),
            by_key: HashMap::new(),
            inactive: Vec::new(),
            correlations: Vec::new(),
            filters: 0,
            rejected: Vec::new(),
            replaced: Vec::new(),
        };
        // Every source is read and parsed first: whether a text's rule is replaced depends on
        // the sources after it.
        let mut sources: Vec<Source> = Vec::with_capacity(texts.len() + files.len());
        for (name, text) in texts {
            let file = PathBuf::from(format!("builtin:{name}"));
            sources.push(Source::parse(file, true, Cow::Borrowed(*text)));
        }
        for file in &files {
            match std::fs::read(file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => sources.push(Source::parse(file.clone(), false, Cow::Owned(text))),
                    Err(_) => set.reject(
                        file,
                        1,
                        "the file is not UTF-8 text: save it as UTF-8".into(),
                    ),
                },
                Err(e) => set.reject(file, 1, format!("cannot read the file: {e}")),
            }
        }
        // (id or name) -> the file of the last source declaring it, walked from the end
        let mut later: HashMap<String, PathBuf> = HashMap::new();
        for src in sources.iter_mut().rev() {
            let Ok(c) = &mut src.parsed else { continue };
            if src.replaceable {
                let file = &src.file;
                let replaced = &mut set.replaced;
                let mut by = |id: &Option<String>, name: &Option<String>, title: &str| {
                    let hit = [id, name].into_iter().flatten().find_map(|k| later.get(k));
                    if let Some(by) = hit {
                        replaced.push(Replaced {
                            key: id.clone().or_else(|| name.clone()).unwrap_or_else(|| title.to_string()),
                            file: file.clone(),
                            by: by.clone(),
                        });
                    }
                    hit.is_none()
                };
                c.rules.retain(|r| by(&r.id, &r.name, &r.title));
                c.correlations.retain(|r| by(&r.id, &r.name, &r.title));
            }
            let keys = c.rules.iter().flat_map(|r| [&r.id, &r.name]);
            let keys = keys.chain(c.correlations.iter().flat_map(|r| [&r.id, &r.name]));
            for k in keys.flatten() {
                later.entry(k.clone()).or_insert_with(|| src.file.clone());
            }
        }
        set.replaced.reverse();
        for r in &set.replaced {
            tracing::info!(rule = %r.key, file = %r.file.display(), by = %r.by.display(), "rule replaced");
        }
        let mut pending = Vec::new();
        for src in sources {
            set.load_parsed(src, pipeline, options, &mut pending);
        }
        set.engine.finish();
        set.add_correlations(pending, pipeline);
        Ok(set)
    }

    /// Compiles the rules of one parsed file.
    fn load_parsed(
        &mut self,
        src: Source,
        pipeline: &[Pipeline],
        options: LoadOptions,
        pending: &mut Vec<PendingCorrelation>,
    ) {
        let (file, text) = (src.file.as_path(), src.text.as_ref());
        let collection = match src.parsed {
            Ok(c) => c,
            Err(e) => {
                let reason = format!("not a valid sigma file: {e}");
                let line = e.location().map_or_else(
                    || line_of(text, &reason, 1, "detection:"),
                    |l| l.line as usize,
                );
                return self.reject(file, line, reason);
            }
        };
        for err in &collection.errors {
            let line = if err.starts_with("Condition parse error") {
                line_of(text, "", 1, "condition:")
            } else {
                yaml_line(err).unwrap_or_else(|| line_of(text, err, 1, "detection:"))
            };
            self.reject(file, line, explain_parse_error(err));
        }
        self.filters += collection.filters.len();
        if src.empty {
            self.reject(file, 1, "no sigma rule in this file: a rule needs title, logsource and detection (or correlation, or filter)".into());
        }
        for rule in &collection.rules {
            let start = title_line(text, &rule.title);
            let info = rule_info(rule, file);
            let transformed = match transform_rule(pipeline, rule) {
                Ok(t) => t,
                Err(e) => {
                    let reason = format!("cannot apply the loglynx field mapping: {e}");
                    let line = line_of(text, &reason, start, "detection:");
                    self.reject(file, line, reason);
                    continue;
                }
            };
            // Compiled whole first: what a rule author is told is about the rule as written.
            match compile_rule(&transformed.rule) {
                Ok(c) => {
                    let routes: Vec<String> =
                        transformed.applied_items.iter().filter(|i| i.starts_with(ROUTE_PREFIX)).cloned().collect();
                    if routes.is_empty() && !options.evaluate_unrouted {
                        self.inactive.push(info);
                        continue;
                    }
                    // Evaluated as route + body (see `routing`); whole when it cannot be split.
                    let split = if options.whole_rules {
                        routing::Split::whole(&transformed.rule)
                    } else {
                        routing::split(&transformed.rule, &routes)
                    };
                    let literals = if options.whole_rules { None } else { routing::keyword_literals(&split.body) };
                    let added = match compile_rule(&split.body) {
                        Ok(body) => self.engine.add(&split, body, literals),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = added {
                        tracing::debug!("rule {:?} evaluated whole: {e}", info.title);
                        if let Err(e) = self.engine.add(&routing::Split::whole(&transformed.rule), c, None) {
                            self.reject(file, start, format!("the rule does not compile: {e}"));
                            continue;
                        }
                    }
                    self.index(&info);
                    self.active.push(info);
                }
                Err(e) => {
                    let reason = explain_compile_error(&e);
                    let hint = match &e {
                        rsigma_eval::EvalError::InvalidRegex(_) => "'re'".to_string(),
                        rsigma_eval::EvalError::InvalidCidr(_) => "'cidr'".to_string(),
                        other => other.to_string(),
                    };
                    let line = line_of(text, &hint, start, "detection:");
                    self.reject(file, line, reason);
                }
            }
        }
        for corr in collection.correlations {
            let line = title_line(text, &corr.title);
            let info = correlation_info(&corr, file);
            pending.push(PendingCorrelation {
                rule: corr,
                info,
                line,
            });
        }
    }

    fn index(&mut self, info: &RuleInfo) {
        let n = self.active.len();
        if let Some(id) = &info.id {
            self.by_key.entry(id.clone()).or_insert(n);
        }
        if let Some(name) = &info.name {
            self.by_key.entry(name.clone()).or_insert(n);
        }
        self.by_key.entry(info.title.clone()).or_insert(n);
    }

    /// Checks each correlation's references against every rule loaded, then compiles it.
    fn add_correlations(&mut self, pending: Vec<PendingCorrelation>, pipeline: &[Pipeline]) {
        let mut known: HashSet<&str> = HashSet::new();
        for info in self
            .active
            .iter()
            .chain(&self.inactive)
            .chain(pending.iter().map(|p| &p.info))
        {
            known.extend(info.id.as_deref());
            known.extend(info.name.as_deref());
        }
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for p in &pending {
            let text = std::fs::read_to_string(&p.info.file).unwrap_or_default();
            if let Some(missing) = p.rule.rules.iter().find(|r| !known.contains(r.as_str())) {
                let line = line_of(&text, &format!("'{missing}'"), p.line, "rules:");
                rejected.push((p.info.file.clone(), line, format!(
                    "correlation rule refers to unknown rule '{missing}': load the rule with that id or name too, or fix the reference"
                )));
                continue;
            }
            let mut rule = p.rule.clone();
            let result = rsigma_eval::pipeline::apply_pipelines_to_correlation(
                pipeline,
                &mut rule,
            )
            .and_then(|_| compile_correlation(&rule));
            match result {
                Ok(c) => accepted.push((p.info.clone(), c)),
                Err(e) => {
                    let reason = format!("correlation rule does not compile: {e}");
                    let line = line_of(&text, &reason, p.line, "correlation:");
                    rejected.push((p.info.file.clone(), line, reason));
                }
            }
        }
        self.correlations = accepted;
        for (file, line, reason) in rejected {
            self.reject(&file, line, reason);
        }
    }

    fn reject(&mut self, file: &Path, line: usize, reason: String) {
        // one line per rejection (`file:line: reason`), whatever the parser's message looks like
        let reason = if reason.contains('\n') {
            reason.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            reason
        };
        self.rejected.push(Rejection {
            file: file.to_path_buf(),
            line,
            reason,
        });
    }

    /// How many rules compiled: detection rules (active and inactive), correlation rules and
    /// filters.
    pub fn loaded(&self) -> usize {
        self.active.len() + self.inactive.len() + self.correlations.len() + self.filters
    }

    /// How many Sigma filters (documents with `filter:`) parsed; they are not applied yet.
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// The refused rules, in the order met.
    pub fn rejected(&self) -> &[Rejection] {
        &self.rejected
    }

    /// The built-in rules not loaded because a rule with the same `id` or `name` replaces them.
    pub fn replaced(&self) -> &[Replaced] {
        &self.replaced
    }

    /// Detection rules evaluated against loglynx events (their logsource is routed, or
    /// [`LoadOptions::evaluate_unrouted`]).
    pub fn active(&self) -> &[RuleInfo] {
        &self.active
    }

    /// Detection rules that compiled but whose logsource loglynx does not collect.
    pub fn inactive(&self) -> &[RuleInfo] {
        &self.inactive
    }

    /// Correlation rules that compiled, with their references found.
    pub fn correlations(&self) -> impl Iterator<Item = &RuleInfo> {
        self.correlations.iter().map(|(i, _)| i)
    }

    /// Tags `event` with the active rules it matches: their keys ([`RuleInfo::key`]) in
    /// `rule_ids`, their names in `rule_names` (replacing tags it had), skipping the rules
    /// `skip` says to.
    pub fn tag(&self, event: &mut Event, skip: impl Fn(&RuleInfo) -> bool) {
        let matched: Vec<&RuleInfo> = self.matching_rules(event).into_iter().filter(|r| !skip(r)).collect();
        event.rule_ids = matched.iter().map(|r| r.key().to_string()).collect();
        event.rule_names = matched.iter().map(|r| r.display_name().to_string()).collect();
    }

    /// Turns rsigma's bloom pre-filter of substring patterns on or off (off by default): it
    /// skips the substring search of rules whose patterns cannot occur in an event.
    pub fn set_bloom_prefilter(&mut self, on: bool) {
        self.engine.set_bloom_prefilter(on);
    }

    /// The correlation rules with their compiled form, in load order.
    pub(crate) fn correlations_compiled(&self) -> impl Iterator<Item = &(RuleInfo, CompiledCorrelation)> {
        self.correlations.iter()
    }

    /// The compiled correlation rules.
    pub fn correlation_specs(&self) -> Vec<crate::correlate::CorrelationSpec> {
        self.correlations
            .iter()
            .map(|(info, compiled)| crate::correlate::CorrelationSpec {
                info: info.clone(),
                compiled: compiled.clone(),
            })
            .collect()
    }

    /// Keys and names of the detection rules that correlations use without `generate: true`:
    /// their matches feed the correlations and raise no alert of their own.
    pub fn correlation_only(&self) -> HashSet<String> {
        self.correlations
            .iter()
            .filter(|(_, c)| !c.generate)
            .flat_map(|(_, c)| c.rule_refs.iter().cloned())
            .collect()
    }

    /// The active detection rule `key` names (its key, id, name or title), by index.
    pub fn active_rule(&self, key: &str) -> Option<&RuleInfo> {
        self.by_key.get(key).map(|&i| &self.active[i])
    }

    /// The loaded rule `key` names, detection (active) or correlation.
    pub fn find(&self, key: &str) -> Option<&RuleInfo> {
        self.active_rule(key).or_else(|| self.correlations().find(|r| r.is_named(key)))
    }

    /// The active rules that match `event`. Reads the event's fields in place; allocates only
    /// for matches (rsigma builds a result per matching rule).
    pub fn matching_rules(&self, event: &Event) -> Vec<&RuleInfo> {
        let mut hits: Vec<usize> = Vec::new();
        self.engine.evaluate(&SigmaEvent(event), |r| {
            let key = r.header.rule_id.as_deref().unwrap_or(&r.header.rule_title);
            if let Some(&i) = self.by_key.get(key).or_else(|| self.by_key.get(&r.header.rule_title)) {
                hits.push(i);
            }
        });
        // in load order, whichever group matched first
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter().map(|i| &self.active[i]).collect()
    }

    /// How many routing groups the active rules fall into (rules sharing their routing
    /// conditions are evaluated together, see `routing`).
    pub fn route_groups(&self) -> usize {
        self.engine.groups()
    }

    /// How many active rules are gated by their keyword literals (evaluated only on events
    /// where one occurs, see `routing`).
    pub fn keyword_gated(&self) -> usize {
        self.engine.gated()
    }
}

/// Pushes `path` (a rule file) or the rule files under it (a folder) onto `out`.
pub(crate) fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), DetectError> {
    let read = |source| DetectError::ReadPath {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
    Ok(())
}

/// The tag of rules whose alerts resolve (see [`RuleInfo::resolves`]).
pub const RESOLVE_TAG: &str = "loglynx.resolve";

fn rule_info(rule: &SigmaRule, file: &Path) -> RuleInfo {
    let ls = &rule.logsource;
    RuleInfo {
        title: rule.title.clone(),
        id: rule.id.clone(),
        name: rule.name.clone(),
        level: rule.level.map(|l| l.as_str().to_string()),
        author: rule.author.clone(),
        file: file.to_path_buf(),
        resolves: rule.tags.iter().any(|t| t == RESOLVE_TAG),
        logsource: format!(
            "{}/{}/{}",
            ls.product.as_deref().unwrap_or(""),
            ls.category.as_deref().unwrap_or(""),
            ls.service.as_deref().unwrap_or("")
        ),
    }
}

fn correlation_info(corr: &CorrelationRule, file: &Path) -> RuleInfo {
    RuleInfo {
        title: corr.title.clone(),
        id: corr.id.clone(),
        name: corr.name.clone(),
        level: corr.level.map(|l| l.as_str().to_string()),
        author: corr.author.clone(),
        file: file.to_path_buf(),
        logsource: String::new(),
        resolves: corr.tags.iter().any(|t| t == RESOLVE_TAG),
    }
}

/// The line of `title: <title>` (where a rule's document starts), else 1.
fn title_line(text: &str, title: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix("title:")
                .is_some_and(|t| t.trim().trim_matches(['\'', '"']) == title)
        })
        .map_or_else(|| doc_start(text, 0), |i| i + 1)
}

/// The line yaml_serde puts in its messages (`... at line 3 column 5`).
fn yaml_line(err: &str) -> Option<usize> {
    let (_, rest) = err.split_once("at line ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A parser message with what to do next.
fn explain_parse_error(err: &str) -> String {
    if let Some(rest) = err.strip_prefix("Condition parse error") {
        // pest's multi-line report: keep the position and what was expected, on one line
        let at = rest.strip_prefix(" at ").and_then(|r| r.split(':').nth(1)).map(str::trim);
        let expected = err.lines().find_map(|l| l.trim().strip_prefix("= ")).unwrap_or("a valid expression");
        let column = at.map_or(String::new(), |c| format!(" at column {c}"));
        format!("the condition does not parse{column}: {expected}: fix the condition")
    } else if err.starts_with("Unknown modifier") {
        format!("{err}: use a modifier of the sigma specification (contains, startswith, endswith, re, cidr, all, ...)")
    } else if err.starts_with("YAML parse error") {
        format!("{err}: fix the YAML syntax")
    } else if err.starts_with("Document is not a YAML mapping") {
        "the document is not a YAML mapping: a sigma rule is a mapping with title, logsource and detection".into()
    } else {
        err.to_string()
    }
}

/// A compiler message with what to do next.
fn explain_compile_error(e: &rsigma_eval::EvalError) -> String {
    use rsigma_eval::EvalError as E;
    match e {
        E::UnknownDetection(name) => format!(
            "the condition names '{name}', which is not a selection of this rule's detection: add it or fix the condition"
        ),
        E::InvalidRegex(err) => format!("a |re value is not a valid regular expression ({err}): fix the pattern"),
        E::InvalidCidr(err) => format!("a |cidr value is not a network ({err}): write it like 10.0.0.0/8"),
        other => format!("the rule does not compile: {other}"),
    }
}

mod routing;

#[cfg(test)]
mod tests;
