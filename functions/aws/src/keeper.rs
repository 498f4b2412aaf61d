//! The deployment's secret as the [`CredentialKeeper`]: a credential a mall rotated (Yahoo!'s refresh
//! token) is written back to the Secrets Manager secret the functions read at their cold start.
//!
//! Secrets Manager has no conditional put, but moving a version stage is conditional: the new value is put
//! as a version staged `AWSPENDING`, then `AWSCURRENT` is moved to it *from the version that was read*
//! (`RemoveFromVersionId`), which Secrets Manager refuses when another writer made another version current in
//! between. The whole read, change and move is then done again from the new current version (three times at
//! most), so neither writer's change is lost. The new version's id is derived from the version read and the
//! new value, so a retried put is idempotent.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use mallguard_domain::feed::{CredentialKeeper, RotatedCredential};
use sha2::{Digest, Sha256};

use crate::config::with_rotated;

/// How often a write that lost a race is done again from the new current version.
const ATTEMPTS: usize = 3;

/// Writes rotated credentials back to the secret `secret_id`.
#[derive(Debug, Clone)]
pub struct SecretsManagerKeeper {
    client: Client,
    secret_id: String,
}

impl SecretsManagerKeeper {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerKeeper {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl CredentialKeeper for SecretsManagerKeeper {
    async fn keep(&self, rotated: &RotatedCredential) -> Result<bool, String> {
        let secret_id = self.secret_id.as_str();
        for attempt in 0..ATTEMPTS {
            let current = self
                .client
                .get_secret_value()
                .secret_id(secret_id)
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|e| format!("reading the secret {secret_id}: {}", crate::error_chain(&e)))?;
            let (Some(read_version), Some(json)) = (current.version_id(), current.secret_string()) else {
                return Err(format!("the secret {secret_id} has no current string version"));
            };
            let Some(changed) = with_rotated(json, rotated)? else {
                return Ok(false);
            };
            let digest = Sha256::digest(format!("{read_version}\n{changed}").as_bytes());
            let new_version: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
            self.client
                .put_secret_value()
                .secret_id(secret_id)
                .client_request_token(&new_version)
                .secret_string(changed)
                .version_stages("AWSPENDING")
                .send()
                .await
                .map_err(|e| format!("writing the secret {secret_id}: {}", crate::error_chain(&e)))?;
            match self
                .client
                .update_secret_version_stage()
                .secret_id(secret_id)
                .version_stage("AWSCURRENT")
                .move_to_version_id(&new_version)
                .remove_from_version_id(read_version)
                .send()
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) => {
                    tracing::warn!(
                        secret_id,
                        attempt,
                        error = %crate::error_chain(&e),
                        "the secret changed while a rotated credential was written back: writing again"
                    );
                }
            }
        }
        Err(format!(
            "the secret {secret_id} kept changing while a rotated credential was written back"
        ))
    }
}
