//! Copies the built dashboard (`ui/dist`) into `OUT_DIR/ui` for `rust-embed`; when it has not
//! been built, writes a page there that says how to build it, so the binary always compiles.

use std::path::{Path, PathBuf};
use std::{env, fs, io};

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>loglynx</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>loglynx</h1>
<p><strong>dashboard not built: run scripts/build-ui.sh</strong> and rebuild the binary
(<code>cargo build --release</code>).</p>
<p>The API works without it: see <a href="/api/v1/openapi.yaml">/api/v1/openapi.yaml</a>,
<a href="/api/v1/health">/api/v1/health</a> and <code>loglynx search</code>.</p>
</body>
</html>
"#;

fn main() -> io::Result<()> {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("ui");
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");

    println!("cargo:rerun-if-changed=build.rs");
    // Watch dist when it exists, else the ui folder (so a first build of dist is noticed)
    // without rescanning node_modules on every build once dist exists.
    if dist.is_dir() {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else if ui.is_dir() {
        println!("cargo:rerun-if-changed={}", ui.display());
    }

    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;
    if dist.join("index.html").is_file() {
        copy_dir(&dist, &out)?;
    } else {
        println!("cargo:warning=ui/dist not found: embedding a placeholder page (run scripts/build-ui.sh)");
        fs::write(out.join("index.html"), PLACEHOLDER)?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
