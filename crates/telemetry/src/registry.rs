//! [`Registry`]: the metrics of one process and their rendering in the Prometheus text
//! format (version 0.0.4, what `/metrics` serves).
//!
//! Metrics updated as things happen (counters of [`crate::internal_events`]) are registered
//! once; figures that already live elsewhere (store sizes, uptime, other processes' health
//! reports) are read at scrape time by a [`Collector`].

use std::sync::{Arc, Mutex, MutexGuard};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry as Inner};

/// The `Content-Type` of what [`Registry::render`] returns (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The metrics of a process: a cheap handle to clone. `loglynx_build_info` is registered at
/// creation.
#[derive(Clone, Debug)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry with `loglynx_build_info{version}`.
    pub fn new() -> Registry {
        let reg = Registry {
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let info = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        info.get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        reg.register("loglynx_build_info", "the running version", info);
        reg
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a metric (a handle: updates through any clone of it are rendered). A
    /// counter's name gets `_total` appended when rendered.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    /// Registers figures read at each render.
    pub fn register_collector(&self, collector: impl Collector) {
        self.lock().register_collector(Box::new(collector));
    }

    /// Every metric in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]). Collectors run
    /// here: call it off the async threads when one of them blocks (store figures, report
    /// files).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let reg = self.lock();
        // Writing into a String cannot fail; a collector's error leaves its part out.
        if let Err(e) = prometheus_text::encode(&mut out, &reg) {
            tracing::warn!("metrics rendering failed: {e}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn renders_registered_metrics_and_build_info() {
        let reg = Registry::new();
        let c: Counter = Counter::default();
        reg.register("loglynx_things", "things seen", c.clone());
        c.inc_by(3);
        let text = reg.render();
        assert!(
            text.contains("# TYPE loglynx_things_total counter\n"),
            "{text}"
        );
        assert!(text.contains("loglynx_things_total 3\n"), "{text}");
        assert!(text.contains(&format!(
            "loglynx_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    }
}
