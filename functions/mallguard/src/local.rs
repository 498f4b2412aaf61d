//! The local data folder: generated secrets, the embedded store and the outbox. Nothing secret is ever
//! committed: the secrets are made on first run and kept in the folder (git-ignored), readable by the
//! owner only.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The local stack's secrets.
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalSecrets {
    /// Keys identity hashes (base64).
    pub identity_pepper: String,
    /// Signs the links in notices (base64).
    pub link_key: String,
    /// Shopify app secret for the local shops.
    pub shopify_secret: String,
    /// Standard Webhooks secret for `/webhooks/generic`.
    pub generic_secret: String,
}

impl std::fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSecrets(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid secrets file: {source}")]
    BadSecrets {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the system random source failed: {0}")]
    Random(String),
}

fn random(n: usize) -> Result<Vec<u8>, LocalError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| LocalError::Random(e.to_string()))?;
    Ok(buf)
}

impl LocalSecrets {
    fn generate() -> Result<Self, LocalError> {
        Ok(Self {
            identity_pepper: STANDARD.encode(random(32)?),
            link_key: STANDARD.encode(random(32)?),
            shopify_secret: random(24)?.iter().map(|b| format!("{b:02x}")).collect(),
            generic_secret: format!("whsec_{}", STANDARD.encode(random(24)?)),
        })
    }

    pub fn identity_pepper(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.identity_pepper)
            .unwrap_or_else(|_| self.identity_pepper.as_bytes().to_vec())
    }

    pub fn link_key(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.link_key)
            .unwrap_or_else(|_| self.link_key.as_bytes().to_vec())
    }
}

/// The local data folder (`.mallguard/` by default).
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("mallguard.db")
    }

    pub fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }

    fn secrets_path(&self) -> PathBuf {
        self.root.join("secrets.json")
    }

    /// Reads the secrets, making them on first run.
    pub fn secrets(&self) -> Result<LocalSecrets, LocalError> {
        let path = self.secrets_path();
        let io = |source| LocalError::Io {
            path: path.clone(),
            source,
        };
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| LocalError::BadSecrets { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.root).map_err(io)?;
                let secrets = LocalSecrets::generate()?;
                let json = serde_json::to_vec_pretty(&secrets).expect("secrets serialise");
                write_private(&path, &json).map_err(io)?;
                tracing::info!(path = %path.display(), "generated local secrets");
                Ok(secrets)
            }
            Err(e) => Err(io(e)),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("mallguard-secrets-{}", std::process::id()));
        let data = DataDir::new(&dir);
        let first = data.secrets().unwrap();
        let again = data.secrets().unwrap();
        assert_eq!(first.link_key, again.link_key);
        assert_eq!(first.identity_pepper().len(), 32);
        assert!(first.generic_secret.starts_with("whsec_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the owner only");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
