//! API keys with scopes against the real binary: `loglynx keys add|list|revoke` on the data
//! directory of a running `loglynx run`, picked up without a restart; 401 without a key, 403
//! with the wrong scope, 429 after repeated wrong keys (per address), the CLI client with a key.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::Duration;

use reqwest::blocking::Client;
use support::{add_key, Server, BIN};

fn loglynx(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run loglynx");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(rb: reqwest::blocking::RequestBuilder) -> u16 {
    rb.send().unwrap().status().as_u16()
}

#[test]
fn keys_scopes_revocation_and_failed_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let log_path = dir.path().join("server.log");
    let mut cmd = Command::new(BIN);
    cmd.stderr(fs::File::create(&log_path).unwrap());
    let server = Server::start_with(
        cmd,
        &data,
        &["--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let search = server.url("/api/v1/search?q=authmark");
    let ingest = server.url("/api/v1/ingest");
    let line = |c: &Client| {
        c.post(&ingest)
            .header("content-type", "text/plain")
            .body("authmark one line\n")
    };

    // No key file: loopback is open, as before.
    assert_eq!(status(c.get(&search)), 200);

    // Keys created while it runs are required at once, loopback included.
    let shipper = add_key(data_s, "shipper", "ingest");
    let analyst = add_key(data_s, "analyst", "read");
    let boss = add_key(data_s, "boss", "admin");
    let file = data.join("keys.json");
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let stored = fs::read_to_string(&file).unwrap();
    for k in [&shipper, &analyst, &boss] {
        assert!(!stored.contains(&k[17..]), "key file holds a key");
    }
    let (code, out, _) = loglynx(&["keys", "list", "--data-dir", data_s]);
    assert_eq!(code, 0);
    assert!(out.contains("shipper") && out.contains("ingest") && out.contains("analyst"), "{out}");
    assert!(!out.contains(&shipper[17..]), "list shows a key");

    let r = c.get(&search).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(status(c.get(server.url("/api/v1/health"))), 401);
    assert_eq!(status(line(&c)), 401);

    // Scopes: an ingest key cannot search, a read key cannot ingest; admin does both.
    assert_eq!(status(line(&c).bearer_auth(&shipper)), 200);
    let r = c.get(&search).bearer_auth(&shipper).send().unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body["error"]["reason"].as_str().unwrap().contains("scope ingest"), "{body}");
    assert_eq!(status(c.get(&search).bearer_auth(&analyst)), 200);
    assert_eq!(status(line(&c).bearer_auth(&analyst)), 403);
    assert_eq!(
        status(c.post(server.url("/api/v1/rules/ssh_brute_force/disable")).bearer_auth(&analyst)),
        403
    );
    assert_eq!(status(c.get(&search).bearer_auth(&boss)), 200);
    assert_eq!(status(line(&c).bearer_auth(&boss)), 200);
    // Basic auth (shippers): the password is the key.
    assert_eq!(status(line(&c).basic_auth("elastic", Some(&shipper))), 200);
    // Any valid key may ask for health.
    assert_eq!(status(c.get(server.url("/api/v1/health")).bearer_auth(&shipper)), 200);

    // The CLI client sends the key; the refusal says why.
    let url = server.url("");
    let (code, out, err) = loglynx(&["search", "authmark", "--server", &url, "--token", &analyst, "--count"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().parse::<u64>().unwrap() >= 1, "{out}");
    let (code, _, err) = loglynx(&["search", "authmark", "--server", &url, "--token", &shipper]);
    assert_eq!(code, 1);
    assert!(err.contains("403") && err.contains("scope"), "{err}");

    // Revoked: refused at the next request, no restart.
    let (code, _, err) = loglynx(&["keys", "revoke", "analyst", "--data-dir", data_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(status(c.get(&search).bearer_auth(&analyst)), 401);

    // Wrong keys from one address: after ten (the revoked key above was the first), even a
    // right key is refused (429) from it, while another address (127.0.0.2 is loopback too) is
    // not affected.
    let last = if boss.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &boss[..boss.len() - 1]);
    for _ in 0..9 {
        assert_eq!(status(c.get(&search).bearer_auth(&wrong)), 401);
    }
    let r = c.get(&search).bearer_auth(&boss).send().unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let other = Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    assert_eq!(status(other.get(&search).bearer_auth(&boss)), 200);
    // Counted on /metrics: the revoked key and the nine wrong ones, the refused right one.
    let metrics = other.get(server.url("/metrics")).bearer_auth(&boss).send().unwrap().text().unwrap();
    assert!(metrics.lines().any(|l| l == "loglynx_http_auth_failures_total 10"), "{metrics}");
    assert!(metrics.lines().any(|l| l == "loglynx_http_auth_blocked_total 1"), "{metrics}");

    // Failed attempts are logged with the key's id, never the key.
    server.stop();
    let log = fs::read_to_string(&log_path).unwrap();
    let boss_id = &boss[4..16];
    assert!(
        log.lines().any(|l| l.contains("authentication failed") && l.contains(boss_id)),
        "no failure logged:\n{log}"
    );
    for k in [&shipper, &analyst, &boss, &wrong] {
        assert!(!log.contains(&k[17..]), "a key was logged");
    }
}

/// Issue 11: `http.auth_token` is an admin key: it may disable and enable a rule, which a read
/// key may not, and it is never written to the log.
#[test]
fn the_auth_token_may_do_what_only_admin_keys_may() {
    const TOKEN: &str = "tok-3f9a1c7e5b2d4860a1b2c3d4e5f60718";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("loglynx.toml");
    fs::write(&config, format!("[http]\nauth_token = \"{TOKEN}\"\n")).unwrap();
    let log_path = dir.path().join("server.log");
    let mut cmd = Command::new(BIN);
    cmd.stderr(fs::File::create(&log_path).unwrap());
    let server = Server::start_with(
        cmd,
        &data,
        &["--config", config.to_str().unwrap(), "--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    let reader = add_key(data.to_str().unwrap(), "reader", "read");
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let disable = server.url("/api/v1/rules/ssh_brute_force/disable");
    let enabled = |c: &Client| -> serde_json::Value {
        let v: serde_json::Value = c.get(server.url("/api/v1/rules")).bearer_auth(&reader).send().unwrap().json().unwrap();
        let rule = v["rules"].as_array().unwrap().iter().find(|r| r["name"] == "ssh_brute_force");
        rule.unwrap_or_else(|| panic!("no ssh_brute_force in {v}"))["enabled"].clone()
    };

    assert_eq!(status(c.post(&disable)), 401);
    assert_eq!(status(c.post(&disable).bearer_auth(&reader)), 403);
    assert_eq!(status(c.post(&disable).bearer_auth(format!("{TOKEN}x"))), 401);
    assert_eq!(enabled(&c), true, "a refused request changed the rule");

    let r = c.post(&disable).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["enabled"], false, "{body}");
    assert_eq!(enabled(&c), false);
    // Basic auth (any user, the token as the password) works too.
    let enable = server.url("/api/v1/rules/ssh_brute_force/enable");
    assert_eq!(status(c.post(&enable).basic_auth("ops", Some(TOKEN))), 200);
    assert_eq!(enabled(&c), true);

    server.stop();
    let log = fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("authentication failed"), "the wrong token was not logged:\n{log}");
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
}

#[test]
fn off_loopback_a_key_is_always_required() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let args = [
        "run", "--data-dir", data_s, "--http", "0.0.0.0:0", "--log", "warn",
        "--syslog-udp", "off", "--syslog-tcp", "off",
    ];
    // No key, no token: it does not start, and says what to do.
    let (code, _, err) = loglynx(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("loglynx keys add") && err.contains("auth_token"), "{err}");

    let key = add_key(data_s, "ops", "admin");
    let (_server, ready) = support::start_proc_with_ready_line("loglynx run (0.0.0.0)", &args, "loglynx ready:");
    let port: u16 = ready
        .trim_end_matches("/ui/")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {ready:?}"));
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let health = format!("http://127.0.0.1:{port}/api/v1/health");
    assert_eq!(status(c.get(&health)), 401);
    assert_eq!(status(c.get(&health).bearer_auth(&key)), 200);
    // Every key revoked: still closed (off loopback nothing falls open).
    let (code, _, err) = loglynx(&["keys", "revoke", "ops", "--data-dir", data_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(status(c.get(&health).bearer_auth(&key)), 401);
    assert_eq!(status(c.get(&health)), 401);
    fs::remove_file(data.join("keys.json")).unwrap();
    assert_eq!(status(c.get(&health)), 401, "deleting the key file must not open the API");
}

#[test]
fn an_open_loopback_instance_answers_only_its_own_names_and_origin() {
    // No key, no token (open on loopback): a DNS-rebinding page reaches 127.0.0.1 under its own
    // name, and a page of another site can make the browser post to it: both are refused.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "off", "--syslog-tcp", "off"]);
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let port = server.http.port();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    assert_eq!(status(c.get(url("/api/v1/health"))), 200);
    assert_eq!(status(c.get(url("/api/v1/health")).header("host", format!("localhost:{port}"))), 200);
    let rebound = c.get(url("/api/v1/search?q=*")).header("host", format!("evil.example:{port}")).send().unwrap();
    assert_eq!(rebound.status().as_u16(), 403);
    assert!(rebound.text().unwrap().contains("http.allowed_hosts"));
    let line = "{\"message\":\"cross-site mark\"}\n";
    let cross = c
        .post(url("/api/v1/ingest"))
        .header("content-type", "application/x-ndjson")
        .header("origin", "http://evil.example")
        .body(line)
        .send()
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    // The same request from the server's own origin (the dashboard) is taken.
    let own = c
        .post(url("/api/v1/ingest"))
        .header("content-type", "application/x-ndjson")
        .header("origin", format!("http://127.0.0.1:{port}"))
        .body(line)
        .send()
        .unwrap();
    assert_eq!(own.status().as_u16(), 200);
    server.wait_total("\"cross-site mark\"", 1, Duration::from_secs(30));
}
