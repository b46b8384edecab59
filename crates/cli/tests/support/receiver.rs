//! A webhook receiver for the notification tests: answers each request as a plan says
//! (hang, fail, ok), counts the notifications it answered 200 (by `X-Loglynx-Notification`:
//! the alert id, `<alert id>:resolved` for a resolution) and keeps their bodies in order.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// How the receiver answers request number n (0-based).
pub type Plan = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

#[derive(Clone, Copy, PartialEq)]
pub enum Answer {
    Hang,
    Fail,
    Ok,
}

pub struct Receiver {
    pub port: u16,
    /// `X-Loglynx-Notification` (alert id, or `<id>:resolved`) -> times it was answered 200
    pub delivered: Arc<Mutex<BTreeMap<String, usize>>>,
    /// The bodies answered 200, in the order they came.
    pub bodies: Arc<Mutex<Vec<Value>>>,
    pub requests: Arc<AtomicUsize>,
    pub plan: Arc<Mutex<Plan>>,
}

impl Receiver {
    pub fn start(plan: Plan) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let delivered = Arc::new(Mutex::new(BTreeMap::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let plan = Arc::new(Mutex::new(plan));
        let (d, b, r, p) = (
            delivered.clone(),
            bodies.clone(),
            requests.clone(),
            plan.clone(),
        );
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let (d, b, r, p) = (d.clone(), b.clone(), r.clone(), p.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(c.try_clone().unwrap());
                    let mut len = 0;
                    let mut id = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        let lower = l.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        if let Some(v) = lower.strip_prefix("x-loglynx-notification:") {
                            id = v.trim().to_string();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(
                        v["alert"]["id"].as_str().unwrap(),
                        id.strip_suffix(":resolved").unwrap_or(&id),
                        "the header names the alert"
                    );
                    let n = r.fetch_add(1, Ordering::SeqCst);
                    let answer = (p.lock().unwrap())(n);
                    match answer {
                        Answer::Hang => std::thread::sleep(Duration::from_secs(5)),
                        Answer::Fail => {
                            let _ = c.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        }
                        Answer::Ok => {
                            *d.lock().unwrap().entry(id).or_insert(0) += 1;
                            b.lock().unwrap().push(v);
                            let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        }
                    }
                });
            }
        });
        Receiver {
            port,
            delivered,
            bodies,
            requests,
            plan,
        }
    }
}
