//! API keys: their scopes, the key file under the data directory, and how a key is checked.
//!
//! A key is `llx_<id>_<secret>`: `id` is 12 hex digits (public: listed by `loglynx keys list`,
//! named in logs), `secret` is 32 random bytes from the OS (base64url). The file keeps, per
//! key, its id, name, scope, creation time and the SHA-256 of the whole key, never the key.
//!
//! Why SHA-256 and not argon2: argon2 and its kin make guessing a *low-entropy password* from a
//! leaked hash expensive. A key here carries 256 random bits, so its hash cannot be inverted or
//! guessed whatever the hash costs; a slow hash would only make every request cost tens of
//! milliseconds of CPU and memory, which an unauthenticated client could use to tie up the
//! server. For the same reason no salt is needed (there is no dictionary to precompute).
//!
//! The file (`<data_dir>/keys.json`, mode 0600) is written whole to a temporary file and
//! renamed over the old one, so a reader sees the old or the new set, never half of one.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The name of the key file in the data directory.
pub use loglynx_config::KEYS_FILE;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send data: `/api/v1/ingest`, `_bulk`, the Elasticsearch probes shippers call first.
    Ingest,
    /// Search and look: every `GET` endpoint, the dashboard, rule backtests.
    Read,
    /// Everything, including changes (alert lifecycle, enabling rules).
    Admin,
}

impl Scope {
    /// Whether a key of this scope may do what `needed` asks.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }

    /// The scope's name as written in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Scope, KeyError> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            other => Err(KeyError::Invalid(format!(
                "unknown scope {other:?}: use ingest, read or admin"
            ))),
        }
    }
}

/// One key as the file keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Public part of the key (12 hex digits).
    pub id: String,
    /// The name given at creation (unique in the file).
    pub name: String,
    /// What the key may do.
    pub scope: Scope,
    /// Creation time, RFC 3339.
    pub created: String,
    /// SHA-256 of the whole key, hex.
    pub sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    keys: Vec<KeyEntry>,
}

/// Why a key file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A name, scope or id the user must fix.
    #[error("{0}")]
    Invalid(String),
    /// The file could not be read or written.
    #[error("{what} {}: {source}: check the data directory and its permissions", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a key file.
    #[error("{} is not a valid key file ({reason}): restore it or move it away and add keys again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
}

/// The key file of a data directory.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// The key file of `data_dir` (`<data_dir>/keys.json`).
    pub fn in_data_dir(data_dir: &Path) -> KeyFile {
        KeyFile {
            path: data_dir.join(KEYS_FILE),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys in the file; none when it does not exist.
    pub fn list(&self) -> Result<Vec<KeyEntry>, KeyError> {
        match fs::read(&self.path) {
            Ok(bytes) => parse(&self.path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(KeyError::Io {
                what: "cannot read",
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Creates a key named `name` with `scope`; returns the key (the only time it is known)
    /// and its entry. Creates the data directory (0700) when absent.
    pub fn add(&self, name: &str, scope: Scope) -> Result<(String, KeyEntry), KeyError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(KeyError::Invalid(format!(
                "invalid key name {name:?}: give 1 to 64 printable characters"
            )));
        }
        let mut keys = self.list()?;
        if keys.iter().any(|k| k.name == name) {
            return Err(KeyError::Invalid(format!(
                "a key named {name:?} exists: revoke it first or choose another name"
            )));
        }
        let (key, id) = generate()?;
        let entry = KeyEntry {
            id,
            name: name.to_string(),
            scope,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            sha256: digest_hex(&key),
        };
        keys.push(entry.clone());
        self.write(&keys)?;
        Ok((key, entry))
    }

    /// Removes the key whose name or id is `which`; returns its entry.
    pub fn revoke(&self, which: &str) -> Result<KeyEntry, KeyError> {
        let mut keys = self.list()?;
        let Some(i) = keys.iter().position(|k| k.name == which || k.id == which) else {
            return Err(KeyError::Invalid(format!(
                "no key named {which:?} in {}: see `loglynx keys list`",
                self.path.display()
            )));
        };
        let gone = keys.remove(i);
        self.write(&keys)?;
        Ok(gone)
    }

    fn write(&self, keys: &[KeyEntry]) -> Result<(), KeyError> {
        let io = |what, source| KeyError::Io {
            what,
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| io("cannot create the directory of", e))?;
            }
        }
        let body = serde_json::to_vec_pretty(&FileBody {
            keys: keys.to_vec(),
        })
        .expect("key entries serialize");
        let tmp = self.path.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("cannot create", e))?;
        f.write_all(&body)
            .and_then(|()| f.sync_all())
            .map_err(|e| io("cannot write", e))?;
        fs::rename(&tmp, &self.path).map_err(|e| io("cannot replace", e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<KeyEntry>, KeyError> {
    serde_json::from_slice::<FileBody>(bytes)
        .map(|b| b.keys)
        .map_err(|e| KeyError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// A new key and its id.
fn generate() -> Result<(String, String), KeyError> {
    let mut bytes = [0u8; 38];
    getrandom::fill(&mut bytes).map_err(|e| {
        KeyError::Invalid(format!("the system's random source failed: {e}"))
    })?;
    let id = hex(&bytes[..6]);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[6..]);
    Ok((format!("llx_{id}_{secret}"), id))
}

/// The id of a key-shaped string (`llx_<12 hex>_...`), to name it in logs without the secret.
pub(crate) fn id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("llx_")?;
    let (id, _) = rest.split_once('_')?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// Hex SHA-256 of `key`.
pub(crate) fn digest_hex(key: &str) -> String {
    hex(&sha2::Sha256::digest(key.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The keys as loaded by a running server, re-read when the file changes.
#[derive(Debug, Default)]
pub(crate) struct LoadedKeys {
    /// (device, inode, size, mtime ns) of the file last read; `None`: no file.
    stamp: Option<(u64, u64, u64, i128)>,
    /// Whether the file exists (even empty or unreadable: then keys are required).
    pub exists: bool,
    /// By id.
    by_id: HashMap<String, KeyEntry>,
}

impl LoadedKeys {
    /// Re-reads `path` when its identity, size or mtime changed since the last call. A file
    /// that cannot be read or parsed counts as existing with no key (fail closed).
    pub fn refresh(&mut self, path: &Path) {
        let stamp = fs::metadata(path).ok().map(|m| {
            (
                m.dev(),
                m.ino(),
                m.size(),
                i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            )
        });
        if stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        self.by_id.clear();
        self.exists = stamp.is_some();
        if stamp.is_none() {
            return;
        }
        match fs::read(path).map_err(|e| e.to_string()).and_then(|b| {
            parse(path, &b).map_err(|e| e.to_string())
        }) {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), path = %path.display(), "api keys loaded");
                self.by_id = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
            }
            Err(reason) => {
                tracing::error!(%reason, "api keys unreadable: only http.auth_token is accepted until the file is fixed");
            }
        }
    }

    /// Whether a key with this id is in the file.
    pub fn has_id(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The entry `key` is, when it is one of these keys.
    pub fn check(&self, key: &str) -> Option<&KeyEntry> {
        let entry = self.by_id.get(id_of(key)?)?;
        super::constant_time_eq(digest_hex(key).as_bytes(), entry.sha256.as_bytes())
            .then_some(entry)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn add_list_revoke_keep_only_hashes_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::in_data_dir(&dir.path().join("data"));
        assert!(file.list().unwrap().is_empty());
        let (key, entry) = file.add("shipper", Scope::Ingest).unwrap();
        assert_eq!(id_of(&key), Some(entry.id.as_str()));
        let text = fs::read_to_string(file.path()).unwrap();
        assert!(!text.contains(&key[17..]), "the secret must not be stored");
        assert!(text.contains(&digest_hex(&key)));
        let mode = fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(dir.path().join("data")).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        assert!(file.add("shipper", Scope::Read).is_err(), "names are unique");
        let (key2, _) = file.add("analyst", Scope::Read).unwrap();
        assert_ne!(key, key2);
        assert_eq!(file.list().unwrap().len(), 2);

        let mut loaded = LoadedKeys::default();
        loaded.refresh(file.path());
        assert_eq!(loaded.check(&key).unwrap().name, "shipper");
        let mut wrong = key.clone();
        wrong.pop();
        wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
        assert!(loaded.check(&wrong).is_none());
        assert!(loaded.check("llx_000000000000_x").is_none());

        assert_eq!(file.revoke("shipper").unwrap().id, entry.id);
        loaded.refresh(file.path());
        assert!(loaded.check(&key).is_none(), "a revoked key is refused");
        assert!(loaded.check(&key2).is_some());
        assert!(file.revoke("shipper").is_err());
    }

    #[test]
    fn a_corrupt_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::in_data_dir(dir.path());
        fs::write(file.path(), "not json").unwrap();
        assert!(matches!(file.list(), Err(KeyError::Corrupt { .. })));
        let mut loaded = LoadedKeys::default();
        loaded.refresh(file.path());
        assert!(loaded.exists);
        assert!(loaded.check("llx_000000000000_x").is_none());
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn scopes() {
        assert!(Scope::Admin.allows(Scope::Ingest));
        assert!(Scope::Admin.allows(Scope::Read));
        assert!(!Scope::Ingest.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Ingest));
        assert!(!Scope::Read.allows(Scope::Admin));
        assert_eq!("read".parse::<Scope>().unwrap(), Scope::Read);
        assert!("root".parse::<Scope>().is_err());
    }
}
