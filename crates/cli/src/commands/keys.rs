//! `loglynx keys add|list|revoke`: the API keys of a data directory. Works on the key file
//! directly (no running instance needed); a running instance sees the change at its next
//! request.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use loglynx_node::{KeyFile, Scope};

/// Arguments of `loglynx keys`.
#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    /// Data directory of the instance [default: data_dir of --config, else ./data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Configuration file, read for its data_dir.
    #[arg(long, short = 'c', value_name = "FILE", env = "LOGLYNX_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// What `loglynx keys` does.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (on stdout, once: only its hash is kept).
    Add {
        /// A name for the key (unique), e.g. the shipper or person using it.
        name: String,
        /// What it may do: ingest (send data), read (search, dashboard), admin (everything).
        #[arg(long, value_name = "SCOPE")]
        scope: Scope,
    },
    /// List the keys: id, name, scope, creation time (never the keys themselves).
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Delete a key by name or id; requests with it are refused from then on.
    Revoke {
        /// The key's name or id.
        which: String,
    },
}

/// Runs `loglynx keys`.
pub fn main(args: KeysArgs) -> anyhow::Result<i32> {
    let data_dir = match (&args.data_dir, &args.config) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => loglynx_config::Config::load(c)?.data_dir,
        (None, None) => loglynx_config::Config::default().data_dir,
    };
    let file = KeyFile::in_data_dir(&data_dir);
    match args.command {
        KeysCommand::Add { name, scope } => {
            let (key, entry) = file.add(&name, scope)?;
            println!("{key}");
            eprintln!(
                "created key {:?} (id {}, scope {}) in {}: keep it now, it is not shown again",
                entry.name,
                entry.id,
                entry.scope,
                file.path().display()
            );
        }
        KeysCommand::List { json } => {
            let keys = file.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys).context("encoding")?);
            } else if keys.is_empty() {
                eprintln!("no keys in {}", file.path().display());
            } else {
                println!("{:<12}  {:<7}  {:<20}  NAME", "ID", "SCOPE", "CREATED");
                for k in keys {
                    println!("{:<12}  {:<7}  {:<20}  {}", k.id, k.scope, k.created, k.name);
                }
            }
        }
        KeysCommand::Revoke { which } => {
            let gone = file.revoke(&which)?;
            eprintln!(
                "revoked key {:?} (id {}, scope {})",
                gone.name, gone.id, gone.scope
            );
        }
    }
    Ok(0)
}
