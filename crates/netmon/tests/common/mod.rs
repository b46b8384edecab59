//! The set-up the monitor tests share: a monitor with only the performance counters on, watching
//! one port, whose records a thread decodes (as `serde_json::Value` or `Event`) into a channel
//! the test reads.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use loglynx_config::TcpStatesConfig;
use loglynx_netmon::Monitor;
use serde::de::DeserializeOwned;

/// Performance counters only, on `port`: read every 100 ms, summed into `network.perf` events
/// every `summary` (no connection events; sock_diag snapshots once an hour, i.e. not during a
/// test).
pub fn perf_config(port: u16, summary: Duration) -> TcpStatesConfig {
    TcpStatesConfig {
        enabled: true,
        ports: vec![port],
        snapshot_interval: Duration::from_secs(3600),
        connections: false,
        perf: true,
        perf_interval: Duration::from_millis(100),
        perf_summary_interval: summary,
        ..Default::default()
    }
}

/// A running monitor and the events it sent, decoded in order.
pub struct Watched<T> {
    pub monitor: Monitor,
    pub events: mpsc::Receiver<T>,
    drain: JoinHandle<()>,
}

impl<T: DeserializeOwned + Send + 'static> Watched<T> {
    /// Starts the monitor (as root: panics when it cannot) and the thread that decodes its
    /// records into `events`.
    pub fn start(cfg: &TcpStatesConfig) -> Watched<T> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<loglynx_core::RawBatch>(64);
        let (etx, events) = mpsc::channel::<T>();
        let drain = std::thread::spawn(move || {
            while let Some(b) = rx.blocking_recv() {
                for r in b.records {
                    let e =
                        serde_json::from_slice(&r.body).expect("the monitor's records are events");
                    if etx.send(e).is_err() {
                        return;
                    }
                }
            }
        });
        let monitor = Monitor::start(cfg, "test".into(), tx).expect("monitor starts (as root)");
        Watched {
            monitor,
            events,
            drain,
        }
    }

    /// Stops the monitor (it sends what it holds, e.g. the last partial summary) and returns
    /// the events not read yet.
    pub fn stop(self) -> Vec<T> {
        self.monitor.stop();
        self.drain.join().expect("the drain thread");
        self.events.try_iter().collect()
    }
}
