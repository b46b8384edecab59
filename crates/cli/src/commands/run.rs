//! `loglynx run`: the whole pipeline in one process (the embedded default); the assembly is
//! [`loglynx_node::AllInOne`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use loglynx_node::{AllInOne, Overrides};

use super::caps::drop_after_attach;
use super::common::{private_files, init_logging, listen, print_startup, runtime, JournaldArgs, Shutdown, TlsArgs};

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Configuration file (TOML; see loglynx.example.toml). Flags override it.
    #[arg(long, short = 'c', value_name = "FILE", env = "LOGLYNX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the store and its checkpoints [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the API and dashboard [default: 127.0.0.1:7700].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Follow files matching this glob (repeatable; added to the config's files.include).
    #[arg(long = "tail", value_name = "GLOB")]
    pub tail: Vec<String>,
    /// Syslog UDP address, or "off" [default: 127.0.0.1:5514].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_udp: Option<String>,
    /// Syslog TCP address, or "off" [default: 127.0.0.1:5514].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_tcp: Option<String>,
    /// OTLP/gRPC address (OpenTelemetry logs; the usual port is 4317), or "off" [default:
    /// otlp.grpc, off]. OTLP/HTTP is always on the HTTP address (`POST /v1/logs`).
    #[arg(long, value_name = "ADDR|off")]
    pub otlp_grpc: Option<String>,
    /// Log filter (e.g. info, debug, loglynx_store=debug) [default: RUST_LOG, else
    /// "warn,loglynx=info"].
    #[arg(long, env = "LOGLYNX_LOG")]
    pub log: Option<String>,
    /// Run the TCP state monitor (eBPF when permitted, else sock_diag snapshots; see
    /// [tcp_states] in loglynx.example.toml).
    #[arg(long)]
    pub tcp_states: bool,
    /// Sigma rule file or folder (repeatable), besides the built-in pack and [detect] rules;
    /// reloaded when changed. Validate offline with `loglynx rules check`.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub journald: JournaldArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

impl RunArgs {
    /// What these flags set over the config file.
    fn overrides(&self) -> anyhow::Result<Overrides> {
        let mut o = Overrides {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            http: self.http,
            tail: self.tail.clone(),
            syslog_udp: listen("syslog-udp", &self.syslog_udp)?,
            syslog_tcp: listen("syslog-tcp", &self.syslog_tcp)?,
            otlp_grpc: listen("otlp-grpc", &self.otlp_grpc)?,
            tcp_states: self.tcp_states,
            rules: self.rules.clone(),
            ..Default::default()
        };
        self.tls.apply(&mut o);
        self.journald.apply(&mut o);
        Ok(o)
    }
}

pub fn main(args: RunArgs) -> anyhow::Result<i32> {
    init_logging(args.log.as_deref());
    private_files();
    // Attaches the eBPF programs of [tcp_states]; then, still on one thread, the capabilities
    // only that needed go (commands/caps.rs).
    let node = AllInOne::build(args.overrides()?.resolve()?)?;
    drop_after_attach()?;
    runtime()?.block_on(async move {
        let mut running = node.start().await?;
        let st = running.state().clone();
        let mut signals = Shutdown::install();
        print_startup(&st.sources, st.tcp_states.as_ref());
        let scheme = if st.https { "https" } else { "http" };
        println!("loglynx ready: dashboard {scheme}://{}/ui/", st.http);
        let failure = tokio::select! {
            _ = signals.wait() => {
                tracing::info!("shutting down: finishing the in-flight batches");
                None
            }
            f = running.failed() => f,
        };
        let stopped = running.shutdown().await;
        match failure {
            Some(e) => Err(e.into()),
            None => stopped.map_err(anyhow::Error::from),
        }
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_off_disables_syslog() {
        let args = RunArgs {
            data_dir: Some("/tmp/x".into()),
            http: Some("127.0.0.1:9999".parse().unwrap()),
            tail: vec!["/var/log/*.log".into()],
            syslog_udp: Some("off".into()),
            ..Default::default()
        };
        let cfg = args.overrides().unwrap().resolve().unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.http.listen.port(), 9999);
        assert_eq!(cfg.files.include, vec!["/var/log/*.log".to_string()]);
        assert!(cfg.syslog.udp.is_none());
        assert!(cfg.syslog.tcp.is_some());
    }

    #[test]
    fn a_bad_address_says_what_is_expected() {
        let args = RunArgs { syslog_tcp: Some("nowhere".into()), ..Default::default() };
        let e = format!("{:#}", args.overrides().unwrap_err());
        assert!(e.contains("--syslog-tcp") && e.contains("IP:PORT"), "{e}");
    }
}
