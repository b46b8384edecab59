//! `loglynx agent`: the same sources as `run`, producing raw records to a Kafka topic instead
//! of a local store; the assembly is [`loglynx_node::Agent`].

use clap::Args;
use loglynx_node::Agent;

use super::common::{private_files, init_logging, listen, print_startup, runtime, CommonArgs, JournaldArgs, KafkaArgs, Shutdown, TlsArgs};

#[derive(Args, Debug, Default)]
pub struct AgentArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Partitions of the topic if the agent creates it [default: kafka.partitions, 0 = cores].
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Follow files matching this glob (repeatable; added to files.include).
    #[arg(long = "tail", value_name = "GLOB")]
    pub tail: Vec<String>,
    /// Syslog UDP address, or "off" [default: syslog.udp].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_udp: Option<String>,
    /// Syslog TCP address, or "off" [default: syslog.tcp].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_tcp: Option<String>,
    /// OTLP/gRPC address (OpenTelemetry logs; the usual port is 4317), or "off" [default:
    /// otlp.grpc, off]. OTLP/HTTP is always on the HTTP address (`POST /v1/logs`).
    #[arg(long, value_name = "ADDR|off")]
    pub otlp_grpc: Option<String>,
    /// Run the TCP state monitor as a source (eBPF when permitted, else sock_diag snapshots;
    /// see [tcp_states] in loglynx.example.toml).
    #[arg(long)]
    pub tcp_states: bool,
    /// Address of the HTTP ingest, /metrics and health, or "off" [default: http.agent_listen,
    /// 127.0.0.1:7710]. Not a loopback address: API keys or an auth token are required.
    #[arg(long, value_name = "ADDR|off")]
    pub http: Option<String>,
    #[command(flatten)]
    pub journald: JournaldArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

pub fn main(args: AgentArgs) -> anyhow::Result<i32> {
    init_logging(args.common.log.as_deref());
    private_files();
    let mut o = args.common.overrides();
    args.kafka.apply(&mut o);
    o.partitions = args.partitions;
    o.tail = args.tail.clone();
    o.syslog_udp = listen("syslog-udp", &args.syslog_udp)?;
    o.syslog_tcp = listen("syslog-tcp", &args.syslog_tcp)?;
    o.agent_http = listen("http", &args.http)?;
    args.tls.apply(&mut o);
    o.otlp_grpc = listen("otlp-grpc", &args.otlp_grpc)?;
    o.tcp_states = args.tcp_states;
    args.journald.apply(&mut o);
    // Attaches the eBPF programs of [tcp_states]; then, still on one thread, the capabilities
    // only that needed go (commands/caps.rs).
    let node = Agent::build(o.resolve()?)?;
    super::caps::drop_after_attach()?;
    runtime()?.block_on(async move {
        let mut running = node.start().await?;
        let st = running.state().clone();
        let mut signals = Shutdown::install();
        print_startup(&st.sources, st.tcp_states.as_ref());
        let http = st.http.map_or_else(|| "off".to_string(), |a| a.to_string());
        println!("loglynx agent ready: topic {} http {http}", st.topic);
        let failure = tokio::select! {
            _ = signals.wait() => {
                tracing::info!("shutting down: waiting for the last deliveries");
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
