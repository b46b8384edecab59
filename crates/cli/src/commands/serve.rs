//! `loglynx serve`: the search API and dashboard over the shards the workers write in the same
//! data directory, and the alerts of the workers' correlator (from the brokers); the assembly
//! is [`loglynx_node::Serve`].

use std::net::SocketAddr;

use clap::Args;
use loglynx_node::Serve;

use super::common::{private_files, init_logging, runtime, CommonArgs, KafkaArgs, Shutdown, TlsArgs};

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The workers' brokers and topic: the alerts their correlator raises are read from
    /// `<topic>-alerts`.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Address of the API and dashboard [default: http.listen].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Search through these workers' leaf APIs (`host:port,...`, their --search-listen)
    /// instead of the shards of the data directory [default: serve.leaves].
    #[arg(long, value_name = "ADDR,...", value_delimiter = ',')]
    pub leaves: Vec<String>,
    /// Find the workers' leaf APIs in the catalog topic `<topic>-catalog` (with --brokers and
    /// --topic) [default: serve.catalog].
    #[arg(long)]
    pub catalog: bool,
}

pub fn main(args: ServeArgs) -> anyhow::Result<i32> {
    init_logging(args.common.log.as_deref());
    private_files();
    let mut o = args.common.overrides();
    args.kafka.apply(&mut o);
    o.http = args.http;
    args.tls.apply(&mut o);
    o.leaves = args.leaves.clone();
    o.catalog = args.catalog;
    let node = Serve::build(o.resolve()?)?;
    runtime()?.block_on(async move {
        let running = node.start().await?;
        let mut signals = Shutdown::install();
        println!("loglynx ready: dashboard {}://{}/ui/", running.scheme(), running.http());
        signals.wait().await;
        running.shutdown().await
    })?;
    Ok(0)
}
