//! Settings per mall shop in the use cases: read once into a cache shared by every clone of the use
//! cases (a warm function reads them again after a minute), and applied where an order's shop is known.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Mallguard, ServiceError, Settings};
use crate::ids::{Mall, ShopId};
use crate::ports::{CommitError, Expect, WriteBatch};
use crate::shop_settings::{SettingError, ShopSettings};

/// How long a warm process trusts what it read: a change in the console reaches every function within it.
/// Measured on the process's own monotonic clock, not the use cases' clock (which tests move by days).
const FRESH_FOR: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(super) struct ShopSettingsCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// Off until [`Mallguard::load_shop_settings`] is called: a composition that never loads them (a test
    /// of one use case) keeps the deployment's settings and makes no extra request.
    enabled: bool,
    read_at: Option<Instant>,
    shops: HashMap<(Mall, ShopId), Arc<Settings>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShopSettingsError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// Somebody saved the shop's settings since they were read.
    #[error("the settings were changed by somebody else meanwhile: read them again")]
    Conflict,
}

impl Mallguard {
    /// Reads every shop's settings into this process's cache, and from now on applies them wherever an
    /// order's shop is known. The compositions call it at start; returns how many shops have settings.
    pub async fn load_shop_settings(&self) -> Result<usize, ServiceError> {
        let all = self.store.shop_settings().await?;
        let shops: HashMap<_, _> = all
            .iter()
            .map(|s| ((s.mall, s.shop.clone()), Arc::new(s.apply(&self.base))))
            .collect();
        let count = shops.len();
        let mut state = self.shops.state.lock().expect("the settings cache lock");
        state.enabled = true;
        state.read_at = Some(Instant::now());
        state.shops = shops;
        Ok(count)
    }

    /// These use cases with `shop`'s settings in force (the deployment's where it has none).
    pub async fn in_shop(&self, mall: Mall, shop: &ShopId) -> Mallguard {
        let stale = {
            let state = self.shops.state.lock().expect("the settings cache lock");
            if !state.enabled {
                return self.clone();
            }
            state.read_at.is_none_or(|at| at.elapsed() >= FRESH_FOR)
        };
        if stale && let Err(err) = self.load_shop_settings().await {
            // The last settings read stay in force until the store answers again.
            tracing::warn!(error = %err, "could not read the shops' settings again");
        }
        let settings = {
            let state = self.shops.state.lock().expect("the settings cache lock");
            state.shops.get(&(mall, shop.clone())).cloned()
        };
        Mallguard {
            settings: settings.unwrap_or_else(|| self.base.clone()),
            ..self.clone()
        }
    }

    /// The deployment's settings, under every shop's.
    pub fn default_settings(&self) -> &Settings {
        &self.base
    }

    /// Every shop's settings as stored.
    pub async fn all_shop_settings(&self) -> Result<Vec<ShopSettings>, ServiceError> {
        Ok(self.store.shop_settings().await?)
    }

    /// One shop's settings as stored: a fresh record (nothing changed) when it has none.
    pub async fn shop_settings_of(&self, mall: Mall, shop: &ShopId) -> Result<ShopSettings, ServiceError> {
        Ok(self
            .store
            .shop_settings()
            .await?
            .into_iter()
            .find(|s| s.mall == mall && &s.shop == shop)
            .unwrap_or_else(|| ShopSettings::new(mall, shop.clone(), "", self.clock.now())))
    }

    /// Changes `shop`'s settings (`key`, value as typed; an empty value goes back to the default), from
    /// the version `read` if given, else from the stored one. Applied in this process at once and in
    /// others within a minute.
    pub async fn save_shop_settings(
        &self,
        mall: Mall,
        shop: &ShopId,
        read: Option<u64>,
        changes: &[(String, String)],
        by: &str,
    ) -> Result<ShopSettings, ShopSettingsError> {
        let current = self.shop_settings_of(mall, shop).await?;
        if read.is_some_and(|v| v != current.version) {
            return Err(ShopSettingsError::Conflict);
        }
        let mut next = current.clone();
        for (key, value) in changes {
            next.set(key, value)?;
        }
        next.version = current.version + 1;
        next.updated_by = by.to_owned();
        next.updated_at = self.clock.now();
        let expect = match current.version {
            0 => Expect::Absent,
            v => Expect::Version(v),
        };
        let batch = WriteBatch {
            shop_settings: vec![(next.clone(), expect)],
            ..WriteBatch::default()
        };
        match self.store.commit(batch).await {
            Ok(()) => {}
            Err(CommitError::Conflict) => return Err(ShopSettingsError::Conflict),
            Err(CommitError::Store(err)) => return Err(ServiceError::from(err).into()),
        }
        tracing::info!(%mall, %shop, by, version = next.version, "shop settings saved");
        self.load_shop_settings().await?;
        Ok(next)
    }
}
