//! What checking an API key costs per request, beside the slow password hash the key file
//! could have used instead (argon2id with its default parameters, OWASP's: 19 MiB, 2 passes,
//! 1 lane). `cargo run -p loglynx-api --release --example auth_cost` (or without `--release`:
//! the dependencies, sha2 and argon2 included, are optimised in the dev profile too).
//!
//! - `check_key`: `Auth::check_key` over a key file of 100 keys, what the middleware runs for a
//!   request with a key: one `stat` of the file, SHA-256 of the key, a map lookup, a
//!   constant-time compare;
//! - `argon2id`: one argon2id hash of the same key (what verifying it would cost).

use std::time::Instant;

use loglynx_api::{Auth, KeyFile, Scope};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = KeyFile::in_data_dir(dir.path());
    let mut keys = Vec::new();
    for i in 0..100 {
        let (key, _) = file.add(&format!("k{i}"), Scope::Read).expect("add key");
        keys.push(key);
    }
    let auth = Auth::new(None, Some(dir.path()), false);
    assert!(auth.check_key(&keys[0]).is_some());

    let n = 200_000;
    let t = Instant::now();
    let mut ok = 0usize;
    for i in 0..n {
        ok += usize::from(auth.check_key(&keys[i % keys.len()]).is_some());
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    assert_eq!(ok, n);
    println!("check_key  {n} checks: {:.2} µs per check", per * 1e6);

    let argon = argon2::Argon2::default();
    let m = 20;
    let mut out = [0u8; 32];
    let t = Instant::now();
    for i in 0..m {
        argon
            .hash_password_into(keys[i % keys.len()].as_bytes(), b"per-key-salt-16b", &mut out)
            .expect("argon2");
    }
    let per_argon = t.elapsed().as_secs_f64() / m as f64;
    println!("argon2id   {m} hashes: {:.2} ms per hash ({}x check_key)", per_argon * 1e3, (per_argon / per).round());
}
