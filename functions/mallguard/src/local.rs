//! The local data folder: generated secrets, the embedded store and the outbox. Nothing secret is ever
//! committed: the secrets are made on first run and kept in the folder (git-ignored), readable by the
//! owner only.
//!
//! `secrets.json` has the JSON shape of the deployed functions' secret ([`Secrets`]), so the local
//! program and the functions read one type; a file in the first versions' shape is still read.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mallguard_aws::config::{ConfigError, Secrets};
use serde::Deserialize;

/// The secrets file as the first versions of the program wrote it: one Shopify secret for every shop
/// and one generic secret. Still read, so an existing data folder keeps its identity hashes and links.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacySecrets {
    identity_pepper: String,
    link_key: String,
    shopify_secret: String,
    generic_secret: String,
}

impl LegacySecrets {
    fn upgrade(self) -> Result<Secrets, String> {
        // These versions fell back to the raw text when a key was not base64.
        let bytes = |s: &str| STANDARD.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec());
        Secrets::new(
            bytes(&self.identity_pepper),
            bytes(&self.link_key),
            [("*".to_owned(), self.shopify_secret)].into(),
            vec![self.generic_secret],
        )
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
    /// The reason names fields, never their values.
    #[error("{path} is not a valid secrets file: {reason}")]
    BadSecrets { path: PathBuf, reason: String },
    #[error("the system random source failed: {0}")]
    Random(String),
}

fn random(n: usize) -> Result<Vec<u8>, LocalError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| LocalError::Random(e.to_string()))?;
    Ok(buf)
}

/// Fresh secrets for a new data folder: one Shopify secret for every shop, one generic secret.
fn generate() -> Result<Secrets, LocalError> {
    let shopify: String = random(24)?.iter().map(|b| format!("{b:02x}")).collect();
    let generic = format!("whsec_{}", STANDARD.encode(random(24)?));
    Ok(Secrets::new(
        random(32)?,
        random(32)?,
        [("*".to_owned(), shopify)].into(),
        vec![generic],
    )
    .expect("generated secrets are valid"))
}

/// Reads a secrets file: the shape of [`Secrets`] (as in Secrets Manager), or the legacy one.
fn parse(path: &Path, bytes: &[u8]) -> Result<Secrets, LocalError> {
    let bad = |reason| LocalError::BadSecrets {
        path: path.to_owned(),
        reason,
    };
    let text = String::from_utf8_lossy(bytes);
    match Secrets::from_json(&path.display().to_string(), &text) {
        Ok(secrets) => Ok(secrets),
        Err(err) => match serde_json::from_str::<LegacySecrets>(&text) {
            Ok(legacy) => legacy.upgrade().map_err(bad),
            // Not the legacy shape either: the current shape's error says what is wrong.
            Err(_) => Err(bad(match err {
                ConfigError::BadSecret { reason, .. } => reason,
                other => other.to_string(),
            })),
        },
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
    pub fn secrets(&self) -> Result<Secrets, LocalError> {
        let path = self.secrets_path();
        let io = |source| LocalError::Io {
            path: path.clone(),
            source,
        };
        match fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.root).map_err(io)?;
                let secrets = generate()?;
                write_private(&path, secrets.to_json_pretty().as_bytes()).map_err(io)?;
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
        assert_eq!(first, again);
        assert_eq!(first.identity_pepper().len(), 32);
        assert!(first.generic()[0].starts_with("whsec_"));
        assert!(first.shopify_for("any-shop").is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the owner only");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_secrets_file_in_the_first_shape_is_still_read_with_the_same_keys() {
        let legacy = r#"{"identity_pepper": "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLTMyYg==",
            "link_key": "bGluay1rZXktbGluay1rZXktbGluay1rZXktMzJieXQ=",
            "shopify_secret": "0a1b2c", "generic_secret": "whsec_c2VjcmV0"}"#;
        let secrets = parse(Path::new("secrets.json"), legacy.as_bytes()).unwrap();
        assert_eq!(secrets.identity_pepper(), b"pepper-pepper-pepper-pepper-32b");
        assert_eq!(secrets.link_key(), b"link-key-link-key-link-key-32byt");
        assert_eq!(secrets.shopify_for("tanaka-shop"), Some("0a1b2c"));
        assert_eq!(secrets.generic(), ["whsec_c2VjcmV0"]);
    }

    #[test]
    fn a_broken_secrets_file_names_the_file_and_what_is_wrong() {
        let err = parse(
            Path::new(".mallguard/secrets.json"),
            br#"{"identity_pepper": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(".mallguard/secrets.json is not a valid secrets file: "),
            "{message}"
        );
        assert!(message.contains("link_key is missing"), "{message}");
    }
}
