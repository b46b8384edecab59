//! `loglynx completions SHELL` and `loglynx man`: shell completions and manual pages generated
//! from the clap definitions (clap_complete, clap_mangen), so they never drift from the flags.
//! The Debian package ships both (scripts/deb.sh).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Command};
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Bash: `loglynx completions bash >
    /// /etc/bash_completion.d/loglynx`.
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write `loglynx.1` and one page per subcommand (`loglynx-run.1`, ...) into this directory
    /// instead of printing `loglynx.1` on stdout (`loglynx man | man -l -`).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script of `shell` for `cmd`.
pub fn completions(args: CompletionsArgs, mut cmd: Command) -> anyhow::Result<i32> {
    let name = cmd.get_name().to_string();
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("cannot write the completions to stdout")?;
    Ok(0)
}

/// Prints the manual page of `cmd`, or writes every page into `--dir`.
pub fn man(args: ManArgs, cmd: Command) -> anyhow::Result<i32> {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}: pass a directory you can write", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("cannot write the manual page to stdout")?;
            out.flush().context("cannot write the manual page to stdout")?;
        }
    }
    Ok(0)
}
