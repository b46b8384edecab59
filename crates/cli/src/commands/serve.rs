//! `loglynx serve`: the search API and dashboard over the shards the workers write in the same
//! data directory, and the alerts of the workers' correlator (from the brokers); the assembly
//! is [`loglynx_node::Serve`].

use std::net::SocketAddr;

use clap::Args;
use loglynx_node::Serve;

use super::common::{init_logging, runtime, CommonArgs, KafkaArgs, Shutdown};

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
}

pub fn main(args: ServeArgs) -> anyhow::Result<i32> {
    init_logging(&args.common.log);
    let mut o = args.common.overrides();
    args.kafka.apply(&mut o);
    o.http = args.http;
    let node = Serve::build(o.resolve()?)?;
    runtime()?.block_on(async move {
        let running = node.start().await?;
        let mut signals = Shutdown::install();
        println!("loglynx ready: dashboard http://{}/ui/", running.http());
        signals.wait().await;
        running.shutdown().await
    })?;
    Ok(0)
}
