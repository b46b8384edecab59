//! [`Root`]: sends a query to the leaves, each with the offsets the cover gave it, and merges
//! their answers. A leaf that does not answer in time, answers an error or garbage has its
//! pieces of the offset line asked once more of the leaves holding another copy of them
//! ([`other_copies`]: a generation covering the range); what no copy holds or answers is listed
//! in the answer's `missing` ([`Missing`]) with the reason, and the rest is exact. A leaf answering 400 means the request is wrong (every leaf
//! would say so): the root answers 400 too.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use loglynx_core::Event;
use loglynx_query::{
    auto_interval_ms, Filter, HistogramRequest, HistogramResponse, SearchRequest, SearchResponse,
    TermsRequest, TermsResponse, MAX_LIMIT, MAX_TERMS,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cover::{cover, other_copies, Cover, LeafView};
use crate::expected::{expected, unanswered, without_lost};
use crate::error::SearchError;
use crate::merge::{merge_histograms, merge_hits, merge_terms, TERMS_CAP};
use crate::offsets::OffsetFilter;
use crate::wire::{CatalogRecord, LostRecord, LeafRequest, LeafStatus, LeafTail, LeafTailResponse, TailPart, LEAF_PREFIX};

/// How the root talks to its leaves.
#[derive(Debug, Clone)]
pub struct RootSettings {
    /// Longest wait for a leaf's answer; past it the leaf's pieces are missing.
    pub timeout: Duration,
    /// The shared key of the leaf API (`[search] key`), sent as a bearer token.
    pub key: Option<String>,
    /// Reach the leaves with HTTPS (`[serve] leaf_tls`).
    pub tls: bool,
    /// PEM CA certificate(s) trusted for the leaves besides the public roots (`[serve] leaf_ca`).
    pub ca_pem: Option<Vec<u8>>,
}

impl RootSettings {
    /// `http` or `https`.
    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

/// Where the root learns its leaves and their generations from: the catalog topic, the static
/// `[serve] leaves` list ([`StaticLeaves`]), or both.
pub trait Directory: Send + Sync + 'static {
    /// The leaves known now (stale ones already left out).
    fn leaves(&self) -> Vec<CatalogRecord>;

    /// The last records of leaves that are gone (their record was not refreshed within
    /// `[serve] catalog_ttl` and their leaf does not answer, or they left): what only their
    /// disks hold is named missing.
    fn gone(&self) -> Vec<CatalogRecord> {
        Vec::new()
    }

    /// Per partition, the workers' consumer group's committed offset: every offset below it
    /// was stored by some worker, so what no live leaf holds there is missing.
    fn committed(&self) -> BTreeMap<i32, u64> {
        BTreeMap::new()
    }

    /// Offsets operators accepted as lost ([`LostRecord`], one per address): not missing any
    /// more, and the records of the workers they name are no longer gone.
    fn lost(&self) -> Vec<LostRecord> {
        Vec::new()
    }

    /// Keeps `rec` where every root reads it (the catalog topic) and applies it here. Blocks:
    /// called off the async threads.
    fn record_lost(&self, rec: LostRecord) -> Result<(), String> {
        let _ = rec;
        Err("accepting a loss is kept in the catalog topic: start serve with --catalog (and --brokers, --topic)".into())
    }
}

/// Offsets the answer lacks: no leaf holding them answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Missing {
    /// Kafka partition.
    pub partition: i32,
    /// First offset missing.
    pub from: u64,
    /// First offset after the missing ones; null: up to the newest.
    pub to: Option<u64>,
    /// The leaf that should have answered (empty: no leaf holds them).
    pub leaf: String,
    /// Why.
    pub reason: String,
}

/// A merged answer: the engine's response, plus what is missing and whether counts are
/// approximate (only said when true).
#[derive(Debug, Clone, Serialize)]
pub struct Answer<T> {
    /// The merged response.
    #[serde(flatten)]
    pub body: T,
    /// Offsets no leaf answered for (absent when the answer is complete).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// Terms: some leaf had more values than it was asked for, so counts may be low.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
}

/// A live tail's position: per partition, the next offset to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetCursor(pub BTreeMap<i32, u64>);

impl OffsetCursor {
    /// `k<partition>:<offset>_<partition>:<offset>...` (URL- and SSE-id-safe).
    pub fn encode(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(p, o)| format!("{p}:{o}")).collect();
        format!("k{}", parts.join("_"))
    }

    /// Reads [`OffsetCursor::encode`]'s form.
    pub fn decode(s: &str) -> Option<OffsetCursor> {
        let body = s.trim().strip_prefix('k')?;
        let mut out = BTreeMap::new();
        for part in body.split('_').filter(|p| !p.is_empty()) {
            let (p, o) = part.split_once(':')?;
            out.insert(p.parse().ok()?, o.parse().ok()?);
        }
        Some(OffsetCursor(out))
    }
}

/// The root: a directory of leaves and an HTTP client.
pub struct Root {
    client: reqwest::Client,
    settings: RootSettings,
    directory: Arc<dyn Directory>,
}

/// What one leaf said.
pub(crate) enum Reply<T> {
    Ok(T),
    /// A 400: the request is wrong.
    Refused(String),
    /// A 429: the leaf is full (its `query.max_open_pits`, a limit of its own); ask again in
    /// `retry_after` seconds.
    Busy { reason: String, retry_after: u64 },
    /// Timeout, connection refused, 5xx, garbage.
    Failed(String),
}

/// What [`Root::fan_out_all`] gathered: the answers with the offsets asked, the missing
/// pieces, and the first refusal (400) or full leaf (429), if any.
pub(crate) type FannedOut<R> = (Vec<(usize, OffsetFilter, R)>, Vec<Missing>, Option<SearchError>);

/// One query's leaves, the cover over them and what no live leaf answers.
pub(crate) struct Plan {
    pub(crate) leaves: Vec<CatalogRecord>,
    pub(crate) cover: Cover,
    /// The cover's gaps and what must exist that no live leaf holds ([`unanswered`]).
    pub(crate) unanswered: Vec<Missing>,
}

/// The leaves known now, the gone ones, the cover of the live ones and what none answers.
fn plan_of(directory: &dyn Directory) -> (Plan, Vec<CatalogRecord>, BTreeMap<i32, u64>, Vec<LostRecord>) {
    let leaves = directory.leaves();
    let live: std::collections::HashSet<&str> = leaves.iter().map(|l| l.addr.as_str()).collect();
    let lost = directory.lost();
    let forgotten: std::collections::HashSet<&str> = lost.iter().flat_map(|l| l.workers.iter().map(String::as_str)).collect();
    // A leaf back under its old address is the same disk: its old record adds nothing. A
    // worker whose loss was accepted is no longer gone.
    let gone: Vec<CatalogRecord> = directory
        .gone()
        .into_iter()
        .filter(|g| !live.contains(g.addr.as_str()) && !forgotten.contains(g.worker.as_str()))
        .collect();
    let mut accepted = OffsetFilter::default();
    for r in lost.iter().flat_map(|l| l.ranges.iter()) {
        accepted.add(r.partition, r.from, r.to);
    }
    let committed = directory.committed();
    let views: Vec<LeafView<'_>> = leaves.iter().map(|l| LeafView { generations: &l.generations }).collect();
    let gone_views: Vec<LeafView<'_>> = gone.iter().map(|l| LeafView { generations: &l.generations }).collect();
    let cover = cover(&views);
    let all: Vec<LeafView<'_>> = views.iter().chain(gone_views.iter()).copied().collect();
    let unanswered = without_lost(unanswered(&cover, &expected(&all, &committed), &gone_views), &accepted)
        .into_iter()
        .map(|u| {
            let (leaf, reason) = match u.held_by {
                Some(i) => (gone[i].addr.clone(), format!(
                    "worker {} is gone (its catalog record was not refreshed within serve.catalog_ttl and its leaf does not answer, or it left) and no live leaf holds these offsets: start it again on its disk",
                    gone[i].worker
                )),
                None => (String::new(), "no known leaf holds these offsets (a worker's disk lost them, it has not published them yet, or its record is no longer known)".to_string()),
            };
            Missing { partition: u.partition, from: u.range.from, to: (u.range.to != u64::MAX).then_some(u.range.to), leaf, reason }
        })
        .collect();
    drop(views);
    (Plan { leaves, cover, unanswered }, gone, committed, lost)
}

impl Root {
    /// A root over `directory`.
    pub fn new(settings: RootSettings, directory: Arc<dyn Directory>) -> Result<Root, SearchError> {
        Ok(Root { client: client(&settings)?, settings, directory })
    }

    /// The leaves known now.
    pub fn leaves(&self) -> Vec<CatalogRecord> {
        self.directory.leaves()
    }

    /// The leaves, the cover the next query would use (which leaf answers which offsets), its
    /// gaps and the orphans (generations fully covered by others): `GET /api/v1/leaves`.
    pub fn status(&self) -> serde_json::Value {
        let (plan, gone, committed, lost) = plan_of(self.directory.as_ref());
        let (leaves, c) = (&plan.leaves, &plan.cover);
        let pieces: Vec<serde_json::Value> = c
            .pieces
            .iter()
            .map(|p| {
                serde_json::json!({
                    "partition": p.partition,
                    "from": p.range.from,
                    "to": (p.range.to != u64::MAX).then_some(p.range.to),
                    "leaf": leaves[p.leaf].addr,
                })
            })
            .collect();
        let orphans: Vec<serde_json::Value> = c
            .unused
            .iter()
            .map(|(i, id)| serde_json::json!({"leaf": leaves[*i].addr, "worker": leaves[*i].worker, "generation": id}))
            .collect();
        serde_json::json!({
            "leaves": leaves,
            "gone": gone,
            "committed": committed,
            "cover": pieces,
            "gaps": plan.unanswered,
            "orphans": orphans,
            "lost": lost,
        })
    }

    /// Accepts that what only the gone worker `id` (its id or leaf address) held is lost: the
    /// offsets answers name with its address, and the unnamed ones right after them
    /// ([`crate::lost_ranges`]), for every gone worker of that address. The record goes to
    /// the catalog topic ([`Directory::record_lost`]); from then on answers no longer name
    /// these offsets missing, and `GET /api/v1/leaves` lists them under `lost`.
    pub async fn forget(&self, id: &str) -> Result<LostRecord, SearchError> {
        let id = id.trim();
        let (plan, gone, _, lost) = plan_of(self.directory.as_ref());
        if let Some(l) = plan.leaves.iter().find(|l| l.worker == id || l.addr == id) {
            return Err(SearchError::BadRequest(format!(
                "{id} is a live leaf (worker {} at {}): only a gone worker's loss can be accepted; stop it first",
                l.worker, l.addr
            )));
        }
        let Some(addr) = gone.iter().find(|g| g.worker == id || g.addr == id).map(|g| g.addr.clone()) else {
            return Err(SearchError::BadRequest(format!(
                "no gone worker {id:?}: give a worker id or leaf address listed under `gone` of GET /api/v1/leaves"
            )));
        };
        let rec = LostRecord {
            version: crate::CATALOG_VERSION,
            workers: gone.iter().filter(|g| g.addr == addr).map(|g| g.worker.clone()).collect(),
            ranges: crate::lost_ranges(&plan.unanswered, &addr),
            at_ms: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            addr,
        };
        let rec = crate::merge_lost(lost.iter().find(|l| l.addr == rec.addr), rec);
        let directory = self.directory.clone();
        let out = rec.clone();
        tokio::task::spawn_blocking(move || directory.record_lost(rec))
            .await
            .map_err(|e| SearchError::Unavailable(format!("the catalog task failed: {e}")))?
            .map_err(SearchError::Unavailable)?;
        Ok(out)
    }

    pub(crate) fn plan(&self) -> Result<Plan, SearchError> {
        let (plan, _, _, _) = plan_of(self.directory.as_ref());
        if plan.leaves.is_empty() {
            return Err(SearchError::NoLeaves);
        }
        Ok(plan)
    }

    /// Sends `request` to every leaf the cover uses, with its offsets (or `offsets_of`'s),
    /// and sorts the replies into answers and missing pieces.
    async fn fan_out<Q, R>(
        &self,
        plan: &Plan,
        op: &str,
        request: &Q,
        offsets_of: impl Fn(usize) -> OffsetFilter,
    ) -> Result<(Vec<(usize, R)>, Vec<Missing>), SearchError>
    where
        Q: Serialize + Clone,
        R: DeserializeOwned,
    {
        let (ok, missing) = self.fan_out_each(plan, op, request, offsets_of).await?;
        Ok((ok.into_iter().map(|(i, _, r)| (i, r)).collect(), missing))
    }

    /// [`Root::fan_out`], each answer with the offsets it was asked for (another copy's
    /// answer has the failed leaf's offsets).
    pub(crate) async fn fan_out_each<Q, R>(
        &self,
        plan: &Plan,
        op: &str,
        request: &Q,
        offsets_of: impl Fn(usize) -> OffsetFilter,
    ) -> Result<(Vec<(usize, OffsetFilter, R)>, Vec<Missing>), SearchError>
    where
        Q: Serialize + Clone,
        R: DeserializeOwned,
    {
        let (ok, missing, refused) = self.fan_out_all(plan, op, request, offsets_of).await?;
        match refused {
            Some(e) => Err(e),
            None => Ok((ok, missing)),
        }
    }

    /// [`Root::fan_out_each`] that also gives back the answers when a leaf refused the request
    /// (400: [`SearchError::BadRequest`]) or was full (429: [`SearchError::Busy`]), with that
    /// error: what the other leaves opened (points in time) can then be closed.
    pub(crate) async fn fan_out_all<Q, R>(
        &self,
        plan: &Plan,
        op: &str,
        request: &Q,
        offsets_of: impl Fn(usize) -> OffsetFilter,
    ) -> Result<FannedOut<R>, SearchError>
    where
        Q: Serialize + Clone,
        R: DeserializeOwned,
    {
        let mut refused: Option<SearchError> = None;
        let mut calls = Vec::new();
        for (i, leaf) in plan.leaves.iter().enumerate() {
            let offsets = offsets_of(i);
            if offsets.is_empty() {
                continue;
            }
            let body = LeafRequest { request: request.clone(), offsets: Some(offsets.clone()) };
            calls.push(async move { (i, offsets, self.call::<_, R>(&leaf.addr, op, &body).await) });
        }
        let mut ok = Vec::new();
        let mut missing = plan.unanswered.clone();
        let mut failed: Vec<(usize, OffsetFilter, String)> = Vec::new();
        for (i, offsets, reply) in futures::future::join_all(calls).await {
            match reply {
                Reply::Ok(r) => ok.push((i, offsets, r)),
                Reply::Refused(msg) => {
                    refused.get_or_insert(SearchError::BadRequest(msg));
                }
                Reply::Busy { reason, retry_after } => {
                    refused.get_or_insert(SearchError::Busy { reason, retry_after });
                }
                Reply::Failed(reason) => {
                    let leaf = &plan.leaves[i];
                    tracing::warn!(leaf = %leaf.addr, worker = %leaf.worker, "leaf left out of a {op}: {reason}; asking other copies");
                    failed.push((i, offsets, reason));
                }
            }
        }
        // A failed leaf's pieces: asked once more of the leaves holding another copy, each
        // failed leaf's separately (so a retried piece keeps its bounds); what no copy holds,
        // or what the copy could not answer either, is missing.
        let down: std::collections::HashSet<usize> = failed.iter().map(|(i, _, _)| *i).collect();
        let views: Vec<LeafView<'_>> = plan.leaves.iter().map(|l| LeafView { generations: &l.generations }).collect();
        let mut retries = Vec::new();
        for (i, offsets, reason) in &failed {
            let (again, lost) = other_copies(&views, &down, offsets);
            let leaf = &plan.leaves[*i];
            missing.extend(lost.into_iter().map(|(partition, r)| Missing {
                partition,
                from: r.from,
                to: (r.to != u64::MAX).then_some(r.to),
                leaf: leaf.addr.clone(),
                reason: reason.clone(),
            }));
            for (j, offsets) in again {
                let body = LeafRequest { request: request.clone(), offsets: Some(offsets.clone()) };
                let addr = plan.leaves[j].addr.clone();
                let first = format!("{} failed ({reason})", leaf.addr);
                retries.push(async move { (j, offsets, first, self.call::<_, R>(&addr, op, &body).await) });
            }
        }
        for (j, offsets, first, reply) in futures::future::join_all(retries).await {
            match reply {
                Reply::Ok(r) => ok.push((j, offsets, r)),
                Reply::Refused(msg) => {
                    refused.get_or_insert(SearchError::BadRequest(msg));
                }
                Reply::Busy { reason, retry_after } => {
                    refused.get_or_insert(SearchError::Busy { reason, retry_after });
                }
                Reply::Failed(reason) => {
                    let leaf = &plan.leaves[j];
                    tracing::warn!(leaf = %leaf.addr, "another copy left out of a {op} too: {reason}");
                    missing.extend(offsets.ranges().map(|(partition, r)| Missing {
                        partition,
                        from: r.from,
                        to: (r.to != u64::MAX).then_some(r.to),
                        leaf: leaf.addr.clone(),
                        reason: format!("{reason}; asked since {first}"),
                    }));
                }
            }
        }
        missing.sort_by_key(|m| (m.partition, m.from));
        Ok((ok, missing, refused))
    }

    pub(crate) async fn call<Q: Serialize, R: DeserializeOwned>(&self, addr: &str, op: &str, body: &Q) -> Reply<R> {
        let url = format!("{}://{addr}{LEAF_PREFIX}/{op}", self.settings.scheme());
        let mut req = self.client.post(&url).json(body);
        if let Some(k) = &self.settings.key {
            req = req.bearer_auth(k);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Reply::Failed(format!("no answer within {:?}", self.settings.timeout))
            }
            Err(e) => return Reply::Failed(format!("unreachable: {}", error_chain(&e))),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                return Reply::Failed(format!("no complete answer within {:?}", self.settings.timeout))
            }
            Err(e) => return Reply::Failed(format!("answer cut: {}", error_chain(&e))),
        };
        if status == reqwest::StatusCode::BAD_REQUEST {
            let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["reason"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Reply::Refused(reason);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["reason"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Reply::Busy { reason: format!("leaf {addr}: {reason}"), retry_after: retry_after.unwrap_or(1) };
        }
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Reply::Failed(format!("answered {status}: {text}"));
        }
        match serde_json::from_slice(&bytes) {
            Ok(r) => Reply::Ok(r),
            Err(e) => Reply::Failed(format!("unreadable answer ({e})")),
        }
    }

    /// `GET /internal/v1/{op}` of every known leaf (its JSON answer, or why not).
    pub async fn get_each(&self, op: &str) -> Vec<(CatalogRecord, Result<serde_json::Value, String>)> {
        let leaves = self.directory.leaves();
        let calls = leaves.into_iter().map(|leaf| async move {
            let mut req = self.client.get(format!("{}://{}{LEAF_PREFIX}/{op}", self.settings.scheme(), leaf.addr));
            if let Some(k) = &self.settings.key {
                req = req.bearer_auth(k);
            }
            let r = async {
                let resp = req.send().await.map_err(|e| error_chain(&e))?;
                if !resp.status().is_success() {
                    return Err(format!("answered {}", resp.status()));
                }
                resp.json::<serde_json::Value>().await.map_err(|e| error_chain(&e))
            }
            .await;
            (leaf, r)
        });
        futures::future::join_all(calls).await
    }

    /// A page of hits and the exact total over the leaves.
    pub async fn search(&self, req: SearchRequest) -> Result<Answer<SearchResponse>, SearchError> {
        let started = std::time::Instant::now();
        let want = req.offset.saturating_add(req.limit);
        if want > MAX_LIMIT {
            return Err(SearchError::BadRequest(format!(
                "offset + limit is {want}: through the leaves it must be at most {MAX_LIMIT}; narrow the query or the time range"
            )));
        }
        let plan = self.plan()?;
        let leaf_req = SearchRequest { offset: 0, limit: want, ..req.clone() };
        let (parts, missing) = self
            .fan_out::<_, SearchResponse>(&plan, "search", &leaf_req, |i| plan.cover.offsets_of(i))
            .await?;
        let total = parts.iter().map(|(_, r)| r.total).sum();
        let hits = merge_hits(parts.into_iter().map(|(_, r)| r.hits).collect(), req.sort, req.offset, req.limit);
        Ok(Answer {
            body: SearchResponse { total, hits, took_ms: started.elapsed().as_millis() as u64 },
            missing,
            approximate: false,
        })
    }

    /// `POST /internal/v1/{op}` of every leaf the cover uses, each with its offsets (a failed
    /// leaf's pieces asked of another copy, as every query): the answers unmerged, for a
    /// caller that merges them itself (the network folds and the rule backtest of the API,
    /// whose partial states only it knows), with what no leaf answered.
    pub async fn gather<Q, R>(&self, op: &str, request: &Q) -> Result<Answer<Vec<R>>, SearchError>
    where
        Q: Serialize + Clone,
        R: DeserializeOwned,
    {
        let plan = self.plan()?;
        let (parts, missing) = self.fan_out::<_, R>(&plan, op, request, |i| plan.cover.offsets_of(i)).await?;
        Ok(Answer { body: parts.into_iter().map(|(_, r)| r).collect(), missing, approximate: false })
    }

    /// The exact number of matches over the leaves.
    pub async fn count(&self, filter: Filter) -> Result<Answer<u64>, SearchError> {
        let plan = self.plan()?;
        let (parts, missing) = self
            .fan_out::<_, u64>(&plan, "count", &filter, |i| plan.cover.offsets_of(i))
            .await?;
        Ok(Answer { body: parts.iter().map(|(_, n)| n).sum(), missing, approximate: false })
    }

    /// A histogram over the leaves. Without an interval each leaf picks one for its own data:
    /// when they differ, they are asked again with the one for the whole span.
    pub async fn histogram(&self, req: HistogramRequest) -> Result<Answer<HistogramResponse>, SearchError> {
        let plan = self.plan()?;
        let offsets = |i| plan.cover.offsets_of(i);
        let (mut parts, mut missing) =
            self.fan_out::<_, HistogramResponse>(&plan, "histogram", &req, offsets).await?;
        let widths: std::collections::BTreeSet<u64> =
            parts.iter().filter(|(_, r)| !r.buckets.is_empty()).map(|(_, r)| r.interval_ms).collect();
        if req.interval_ms.is_none() && widths.len() > 1 {
            let lo = parts.iter().filter_map(|(_, r)| r.buckets.first()).map(|b| b.start).min();
            let hi = parts
                .iter()
                .filter_map(|(_, r)| r.buckets.last().map(|b| b.start.as_millis() + r.interval_ms as i64))
                .max();
            if let (Some(lo), Some(hi)) = (lo, hi) {
                let span = (hi - lo.as_millis()).max(1) as u64;
                let again = HistogramRequest {
                    interval_ms: Some(auto_interval_ms(span, req.target_buckets.unwrap_or(60))),
                    ..req.clone()
                };
                (parts, missing) = self.fan_out(&plan, "histogram", &again, offsets).await?;
            }
        }
        let body = merge_histograms(parts.into_iter().map(|(_, r)| r).collect()).unwrap_or(HistogramResponse {
            interval_ms: req.interval_ms.unwrap_or(60_000),
            buckets: Vec::new(),
            total: 0,
            took_ms: 0,
        });
        Ok(Answer { body, missing, approximate: false })
    }

    /// The top values of a field over the leaves, exact while each leaf has fewer than
    /// [`TERMS_CAP`] (or the size asked, if larger) values.
    pub async fn terms(&self, req: TermsRequest) -> Result<Answer<TermsResponse>, SearchError> {
        let plan = self.plan()?;
        let size = req.size.unwrap_or(10);
        let asked = size.max(TERMS_CAP).min(MAX_TERMS);
        let leaf_req = TermsRequest { size: Some(asked), ..req.clone() };
        let (parts, missing) = self
            .fan_out::<_, TermsResponse>(&plan, "terms", &leaf_req, |i| plan.cover.offsets_of(i))
            .await?;
        let (body, approximate) = merge_terms(&req.field, size, asked, parts.into_iter().map(|(_, r)| r).collect());
        Ok(Answer { body, missing, approximate })
    }

    /// Live tail. Without a cursor: the newest `limit` events and a cursor at the end of every
    /// partition. With one: per partition, the matching events from its offset on, in offset
    /// ranges answered whole (at most `limit` per leaf), and the cursor moved past them; a
    /// partition whose leaf did not answer stays where it was (and is named in `missing`).
    pub async fn tail(
        &self,
        filter: Filter,
        cursor: Option<OffsetCursor>,
        limit: usize,
    ) -> Result<Answer<(Vec<Event>, OffsetCursor)>, SearchError> {
        let plan = self.plan()?;
        // Each leaf's pieces, cut to start at the cursor.
        let mut pieces: Vec<crate::cover::Piece> = plan.cover.pieces.clone();
        if let Some(c) = &cursor {
            pieces.retain_mut(|p| {
                let at = c.0.get(&p.partition).copied().unwrap_or(0);
                p.range.from = p.range.from.max(at);
                p.range.from < p.range.to
            });
        }
        let mut per_leaf: HashMap<usize, OffsetFilter> = HashMap::new();
        for p in &pieces {
            per_leaf.entry(p.leaf).or_default().add(p.partition, p.range.from, p.range.to);
        }
        let req = LeafTail { filter, limit, follow: cursor.is_some() };
        let (parts, missing) = self
            .fan_out::<_, LeafTailResponse>(&plan, "tail", &req, |i| per_leaf.get(&i).cloned().unwrap_or_default())
            .await?;
        // Keyed by partition and start: a piece may be answered by another copy than its leaf.
        let mut answered: HashMap<(i32, u64), TailPart> = HashMap::new();
        for (_, r) in parts {
            for part in r.parts {
                answered.insert((part.partition, part.from), part);
            }
        }
        let mut next = cursor.clone().unwrap_or_default();
        let mut events = Vec::new();
        let mut stalled: std::collections::HashSet<i32> = Default::default();
        for p in &pieces {
            if stalled.contains(&p.partition) {
                continue;
            }
            let Some(part) = answered.remove(&(p.partition, p.range.from)) else {
                // Not answered: the cursor waits here for this partition.
                next.0.insert(p.partition, p.range.from);
                stalled.insert(p.partition);
                continue;
            };
            events.extend(part.events);
            next.0.insert(p.partition, part.next);
            if part.next < p.range.to && p.range.to != u64::MAX {
                // Cut short by the limit: what follows comes next time.
                stalled.insert(p.partition);
            }
        }
        events.sort_by(|a, b| a.ingested.cmp(&b.ingested).then_with(|| a.id.cmp(&b.id)));
        if cursor.is_none() && events.len() > limit {
            events.drain(..events.len() - limit);
        }
        Ok(Answer { body: (events, next), missing, approximate: false })
    }
}

/// The client every call uses: the leaf timeout covers the whole request.
fn client(s: &RootSettings) -> Result<reqwest::Client, SearchError> {
    let mut b = reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout.min(Duration::from_secs(5)))
        .use_rustls_tls();
    if let Some(pem) = &s.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| SearchError::Client(format!("serve.leaf_ca holds no usable PEM certificate ({e}): give the CA's certificate in PEM")))?;
        if certs.is_empty() {
            return Err(SearchError::Client("serve.leaf_ca holds no PEM certificate: give the CA's certificate in PEM".into()));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| SearchError::Client(e.to_string()))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A client for the leaves' internal API (timeouts, CA and scheme of `s`).
pub fn leaf_client(s: &RootSettings) -> Result<reqwest::Client, SearchError> {
    client(s)
}

/// Asks the leaf at `addr` who it is and what it holds (`GET /internal/v1/generations`).
pub async fn leaf_status(client: &reqwest::Client, addr: &str, s: &RootSettings) -> Result<LeafStatus, String> {
    let mut req = client.get(format!("{}://{addr}{LEAF_PREFIX}/generations", s.scheme()));
    if let Some(k) = &s.key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.map_err(|e| error_chain(&e))?;
    if !resp.status().is_success() {
        return Err(format!("answered {}", resp.status()));
    }
    resp.json().await.map_err(|e| error_chain(&e))
}

/// The `[serve] leaves` list: each address is asked for its generations every `refresh`; the
/// last answer is kept, so a leaf that stops answering is still planned for (and its pieces
/// reported missing) rather than forgotten. A leaf never heard from is not planned for.
pub struct StaticLeaves {
    known: Mutex<BTreeMap<String, CatalogRecord>>,
}

impl StaticLeaves {
    /// Asks every address once (waits for the answers), then again every `refresh` in the
    /// background while the returned value lives.
    pub async fn start(addrs: Vec<String>, settings: RootSettings, refresh: Duration) -> Result<Arc<StaticLeaves>, SearchError> {
        let client = client(&settings)?;
        let me = Arc::new(StaticLeaves { known: Mutex::new(BTreeMap::new()) });
        me.poll(&client, &addrs, &settings).await;
        let weak: Weak<StaticLeaves> = Arc::downgrade(&me);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(refresh).await;
                let Some(me) = weak.upgrade() else { return };
                me.poll(&client, &addrs, &settings).await;
            }
        });
        Ok(me)
    }

    async fn poll(&self, client: &reqwest::Client, addrs: &[String], s: &RootSettings) {
        let calls = addrs.iter().map(|addr| async move { (addr, leaf_status(client, addr, s).await) });
        for (addr, r) in futures::future::join_all(calls).await {
            match r {
                Ok(status) => {
                    let rec = CatalogRecord {
                        version: crate::wire::CATALOG_VERSION,
                        worker: status.worker,
                        addr: addr.clone(),
                        updated_ms: 0,
                        group: String::new(),
                        generations: status.generations,
                        left: false,
                    };
                    self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(addr.clone(), rec);
                }
                Err(e) => tracing::debug!(leaf = %addr, "leaf generations not read: {e}"),
            }
        }
    }
}

impl Directory for StaticLeaves {
    fn leaves(&self) -> Vec<CatalogRecord> {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = OffsetCursor([(0, 12), (3, 400)].into_iter().collect());
        assert_eq!(c.encode(), "k0:12_3:400");
        assert_eq!(OffsetCursor::decode(&c.encode()), Some(c));
        assert_eq!(OffsetCursor::decode("k"), Some(OffsetCursor::default()));
        assert_eq!(OffsetCursor::decode("12_ab"), None);
        assert_eq!(OffsetCursor::decode("k0:x"), None);
        assert_eq!(OffsetCursor::decode("k0"), None);
    }
}
