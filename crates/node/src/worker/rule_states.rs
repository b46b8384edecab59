//! Rules enabled or disabled through `serve`'s API, in the scale-out shape: `serve` publishes
//! each change to `<topic>-rules` (compacted, key: the rule key, value: a
//! [`loglynx_detect::RuleState`]: enabled, by whom, when) and every worker and `serve` follows
//! that topic, applying what it reads to its rules ([`loglynx_detect::Detection::apply_rule_states`]).
//! A worker reads the topic to its end before it starts consuming, so it never tags with a rule
//! disabled before it started.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_bus::kafka::{ensure_side_topic, rules_topic, SideProducer, TopicReader};
use loglynx_config::KafkaConfig;
use loglynx_detect::{Detection, RuleState};

use crate::error::{NodeError, Result};

/// Longest a worker waits at start for the rules topic to be read to its end (an unreachable
/// broker must not keep it from indexing: the follower keeps trying).
const CATCH_UP: Duration = Duration::from_secs(15);

/// Makes `det` publish its rule changes to the rules topic (`serve`).
pub(crate) fn publish_to_topic(kafka: &KafkaConfig, det: &Detection) -> Result<()> {
    let producer = Arc::new(SideProducer::new(kafka)?);
    let topic = rules_topic(&kafka.topic);
    det.set_rule_publisher(Box::new(move |s: &RuleState| {
        let value = serde_json::to_vec(s).map_err(|e| e.to_string())?;
        producer.send(&topic, &[(s.key.clone(), value)], Duration::from_secs(10)).map_err(|e| e.to_string())
    }));
    Ok(())
}

/// Starts the thread that follows the rules topic into `det` until `stopped()`; the receiver
/// resolves once the topic was read to its end.
pub(crate) fn spawn(
    kafka: &KafkaConfig,
    det: Arc<Detection>,
    stopped: impl Fn() -> bool + Send + 'static,
) -> Result<tokio::sync::oneshot::Receiver<()>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let kafka = kafka.clone();
    std::thread::Builder::new()
        .name("rules-reader".into())
        .spawn(move || run(&kafka, &det, stopped, tx))
        .map_err(|source| NodeError::Thread { what: "rules reader", source })?;
    Ok(rx)
}

/// [`spawn`], then waits until the topic was read to its end, at most [`CATCH_UP`] (the thread
/// goes on).
pub(crate) async fn follow(
    kafka: &KafkaConfig,
    det: Arc<Detection>,
    stopped: impl Fn() -> bool + Send + 'static,
) -> Result<()> {
    let rx = spawn(kafka, det, stopped)?;
    if tokio::time::timeout(CATCH_UP, rx).await.is_err() {
        tracing::warn!("the rules topic was not read to its end within {CATCH_UP:?}: rules enabled or disabled through serve apply once it is");
    }
    Ok(())
}

fn run(kafka: &KafkaConfig, det: &Detection, stopped: impl Fn() -> bool, caught_up: tokio::sync::oneshot::Sender<()>) {
    let topic = rules_topic(&kafka.topic);
    // the admin client's calls are async: a small runtime of this thread's own
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("rules topic {topic} not followed: cannot start a runtime: {e}");
            return;
        }
    };
    let mut caught_up = Some(caught_up);
    let mut warned = Instant::now() - Duration::from_secs(3600);
    let mut reader: Option<TopicReader> = None;
    while !stopped() {
        let r = match reader.as_mut() {
            Some(r) => r,
            None => {
                // Created here when missing, so reading it ends (an absent topic has no end).
                let created = rt.block_on(ensure_side_topic(kafka, &topic, true)).map(|_| ());
                match created.and_then(|()| TopicReader::new(kafka, &topic)) {
                    Ok(r) => reader.insert(r),
                    Err(e) => {
                        if warned.elapsed() > Duration::from_secs(60) {
                            tracing::warn!("rules topic {topic} not read: {e}; retrying");
                            warned = Instant::now();
                        }
                        std::thread::sleep(Duration::from_secs(2));
                        continue;
                    }
                }
            }
        };
        match r.poll(1000, Duration::from_millis(500)) {
            Ok(records) => {
                let states: Vec<RuleState> = records
                    .iter()
                    .filter_map(|r| match serde_json::from_slice(&r.payload) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::warn!(offset = r.offset, "record of {topic} not readable, skipped: {e}");
                            None
                        }
                    })
                    .collect();
                if !states.is_empty() {
                    match det.apply_rule_states(&states) {
                        Ok(n) if n > 0 => tracing::info!(changed = n, "rule states from {topic} applied"),
                        Ok(_) => {}
                        Err(e) => tracing::error!("rule states from {topic} not applied: {e}"),
                    }
                }
                if r.caught_up() {
                    if let Some(tx) = caught_up.take() {
                        let _ = tx.send(());
                    }
                }
            }
            Err(e) => {
                if warned.elapsed() > Duration::from_secs(60) {
                    tracing::warn!("rules topic {topic} not read: {e}; retrying");
                    warned = Instant::now();
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
}
