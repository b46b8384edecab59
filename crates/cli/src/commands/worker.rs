//! `loglynx worker`: a member of the consumer group that indexes the topic exactly once into
//! one store shard per partition; the assembly is [`loglynx_node::Worker`].

use clap::Args;
use loglynx_node::Worker;

use super::common::{private_files, init_logging, runtime, CommonArgs, KafkaArgs, Shutdown};

#[derive(Args, Debug, Default)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Consumer group [default: kafka.group].
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Consumers in this process, all in the group [default: kafka.consumers, 0 = cores].
    #[arg(long, value_name = "N")]
    pub consumers: Option<usize>,
    /// Serve this worker's shards to `loglynx serve` on this address (internal search API;
    /// off a loopback address it needs search.key or LOGLYNX_SEARCH_KEY) [default:
    /// search.listen, off].
    #[arg(long, value_name = "ADDR")]
    pub search_listen: Option<String>,
}

pub fn main(args: WorkerArgs) -> anyhow::Result<i32> {
    init_logging(args.common.log.as_deref());
    private_files();
    let mut o = args.common.overrides();
    args.kafka.apply(&mut o);
    o.group = args.group.clone();
    o.consumers = args.consumers;
    o.search_listen = args
        .search_listen
        .as_deref()
        .map(|v| loglynx_node::Listen::parse("search-listen", v))
        .transpose()?;
    let node = Worker::build(o.resolve()?)?;
    runtime()?.block_on(async move {
        let running = node.start().await?;
        let mut signals = Shutdown::install();
        match running.search_addr() {
            Some(a) => println!("loglynx worker ready: group {} topic {} search {a}", running.group(), running.topic()),
            None => println!("loglynx worker ready: group {} topic {}", running.group(), running.topic()),
        }
        tokio::select! {
            _ = signals.wait() => tracing::info!("shutting down: the shards commit what they have"),
            _ = running.finished() => {}
        }
        running.shutdown().await
    })?;
    Ok(0)
}
