//! A shop's installation and its Shopify tokens.
//!
//! Getting Shopify tokens (token exchange on the first embedded load, or the
//! authorization-code grant), keeping them encrypted and fresh, calling the Admin API with
//! them, and forgetting them on uninstall (`shopify.md` §1.5, §1.6, §4.3).
//!
//! Refreshes of one shop are serialised in this process, because Shopify rotates the
//! refresh token on every use; each new pair is stored in one statement. A 401 from the
//! Admin API triggers one refresh; if Shopify still refuses, the shop is marked as needing
//! re-authorisation, which the admin page shows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use chrono::Utc;
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::shopify::admin::{GraphqlResponse, ShopifyClient};
use crate::shopify::crypto::TokenCipher;
use crate::shopify::oauth::{REFRESH_MARGIN, TokenGrant};
use crate::shopify::session_token::SessionToken;
use crate::shopify::{AppCredentials, Error, Result};
use crate::store::entity::shop;
use crate::store::shops::{self, StoredTokens, install_state};
use crate::store::{self, Database};
use crate::types::ShopDomain;

/// The app's side of the Shopify platform for every shop: installation and tokens.
#[derive(Clone, Debug)]
pub struct Platform {
    db: Database,
    client: ShopifyClient,
    cipher: TokenCipher,
    refreshing: Arc<StdMutex<HashMap<ShopDomain, Arc<Mutex<()>>>>>,
}

impl Platform {
    /// The platform over `db`, reaching Shopify through `client`.
    pub fn new(db: Database, client: ShopifyClient, cipher: TokenCipher) -> Self {
        Self {
            db,
            client,
            cipher,
            refreshing: Arc::default(),
        }
    }

    /// The platform as complete settings describe it: credentials, admin base URL,
    /// encryption key.
    pub fn from_settings(settings: &crate::config::Settings, db: Database) -> Result<Self> {
        let shopify = &settings.shopify;
        let (Some(api_key), Some(secret), Some(key)) = (
            shopify.api_key.clone(),
            shopify.api_secret.clone(),
            settings.security.token_encryption_key.as_ref(),
        ) else {
            return Err(Error::Config(
                "the Shopify credentials and the encryption key are required".to_owned(),
            ));
        };
        let credentials = AppCredentials::new(api_key, secret, shopify.previous_api_secret.clone());
        let key = crate::config::decode_encryption_key(key)
            .map_err(|error| Error::Config(error.to_string()))?;
        let client = ShopifyClient::new(shopify, credentials)?;
        Ok(Self::new(db, client, TokenCipher::new(key)))
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The app's credentials.
    pub fn credentials(&self) -> &AppCredentials {
        self.client.credentials()
    }

    /// The HTTP client for shops' admins.
    pub fn client(&self) -> &ShopifyClient {
        &self.client
    }

    /// Makes sure the shop of a verified session token is installed: when it holds a usable
    /// token nothing is called; otherwise the session token is exchanged for an expiring
    /// offline token and the shop is created or restored.
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %session.shop))]
    pub async fn ensure_installed(&self, session: &SessionToken) -> Result<shop::Model> {
        let shop = shops::find_or_create(&self.db, &session.shop).await?;
        if has_usable_tokens(&shop) {
            return Ok(shop);
        }

        let grant = self
            .client
            .exchange_session_token(&session.shop, session.raw())
            .await?;
        self.store_grant(&shop, &grant).await
    }

    /// Completes an authorization-code install with the code of a verified callback.
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %domain))]
    pub async fn install_with_code(&self, domain: &ShopDomain, code: &str) -> Result<shop::Model> {
        let grant = self.client.exchange_code(domain, code).await?;
        let shop = shops::find_or_create(&self.db, domain).await?;
        self.store_grant(&shop, &grant).await
    }

    async fn store_grant(&self, shop: &shop::Model, grant: &TokenGrant) -> Result<shop::Model> {
        let reinstall = shop.install_state != install_state::INSTALLED;
        let tokens = self.seal(&shop.domain, grant)?;
        shops::save_tokens(self.db.conn(), shop.id, &tokens, reinstall).await?;
        if reinstall {
            tracing::info!(shop.domain = %shop.domain, "app installed");
        }
        shops::find_by_domain(&self.db, &shop.domain)
            .await?
            .ok_or(Error::NotInstalled)
    }

    fn seal(&self, domain: &ShopDomain, grant: &TokenGrant) -> Result<StoredTokens> {
        let now = Utc::now();
        let refresh_ciphertext = grant
            .refresh_token
            .as_ref()
            .map(|token| {
                self.cipher
                    .encrypt(token, &context(domain, "refresh_token"))
            })
            .transpose()?;
        Ok(StoredTokens {
            access_ciphertext: self
                .cipher
                .encrypt(&grant.access_token, &context(domain, "access_token"))?,
            access_expires_at: grant.access_expires_at(now),
            refresh_ciphertext,
            refresh_expires_at: grant.refresh_expires_at(now),
            scopes: grant.scope.clone(),
        })
    }

    /// A usable offline access token of `domain`, refreshed first when it expires within
    /// five minutes.
    pub async fn access_token(&self, domain: &ShopDomain) -> Result<SecretString> {
        let shop = self.installed_shop(domain).await?;
        let expiring_soon = shop
            .access_token_expires_at
            .is_some_and(|at| at - Utc::now() <= REFRESH_MARGIN);
        if expiring_soon {
            return self.refresh(domain, Some(&shop)).await;
        }
        self.decrypt_access(&shop)
    }

    async fn installed_shop(&self, domain: &ShopDomain) -> Result<shop::Model> {
        shops::find_by_domain(&self.db, domain)
            .await?
            .filter(|shop| shop.install_state == install_state::INSTALLED)
            .filter(|shop| shop.access_token_ciphertext.is_some())
            .ok_or(Error::NotInstalled)
    }

    fn decrypt_access(&self, shop: &shop::Model) -> Result<SecretString> {
        let stored = shop
            .access_token_ciphertext
            .as_deref()
            .ok_or(Error::NotInstalled)?;
        self.cipher
            .decrypt(stored, &context(&shop.domain, "access_token"))
    }

    /// Rotates the shop's token pair. Concurrent callers of one shop wait for the first and
    /// use its result. `seen` is the row the caller judged stale: when the stored pair has
    /// changed since, someone else refreshed and that pair is used as it is.
    async fn refresh(
        &self,
        domain: &ShopDomain,
        seen: Option<&shop::Model>,
    ) -> Result<SecretString> {
        let lock = {
            let mut map = self
                .refreshing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry(domain.clone()).or_default())
        };
        let _turn = lock.lock().await;

        let shop = self.installed_shop(domain).await?;
        let changed =
            seen.is_some_and(|seen| seen.access_token_ciphertext != shop.access_token_ciphertext);
        let still_fresh = shop
            .access_token_expires_at
            .is_none_or(|at| at - Utc::now() > REFRESH_MARGIN);
        if changed && still_fresh {
            return self.decrypt_access(&shop);
        }

        let Some(stored_refresh) = shop.refresh_token_ciphertext.as_deref() else {
            return Err(self.needs_reauth(&shop, "no refresh token").await);
        };
        let refresh_token = self
            .cipher
            .decrypt(stored_refresh, &context(domain, "refresh_token"))?;
        let grant = match self.client.refresh(domain, &refresh_token).await {
            Ok(grant) => grant,
            Err(Error::TokenRejected { status, .. }) if (400..500).contains(&status) => {
                return Err(self.needs_reauth(&shop, "refresh refused").await);
            }
            Err(error) => return Err(error),
        };
        let tokens = self.seal(domain, &grant)?;
        shops::save_tokens(self.db.conn(), shop.id, &tokens, false).await?;
        tracing::info!(shop.domain = %domain, "Shopify access token refreshed");
        Ok(grant.access_token)
    }

    async fn needs_reauth(&self, shop: &shop::Model, reason: &'static str) -> Error {
        tracing::warn!(shop.domain = %shop.domain, reason, "shop needs re-authorisation");
        match shops::drop_tokens(self.db.conn(), shop.id, install_state::NEEDS_REAUTH).await {
            Ok(()) => Error::NotInstalled,
            Err(error) => Error::Store(error),
        }
    }

    /// Calls the shop's Admin GraphQL API. A 401 triggers one refresh and one retry; a
    /// second refusal marks the shop as needing re-authorisation.
    pub async fn graphql(
        &self,
        domain: &ShopDomain,
        query: &str,
        variables: &Value,
    ) -> Result<GraphqlResponse> {
        let token = self.access_token(domain).await?;
        match self.client.graphql(domain, &token, query, variables).await {
            Err(Error::TokenRejected { status: 401, .. }) => {}
            other => return other,
        }

        let seen = self.installed_shop(domain).await?;
        let token = self.refresh(domain, None).await?;
        match self.client.graphql(domain, &token, query, variables).await {
            Err(Error::TokenRejected { status: 401, .. }) => Err(self
                .needs_reauth(&seen, "access token refused after refresh")
                .await),
            other => other,
        }
    }

    /// Handles the app's removal: Shopify tokens deleted, SCIM tokens revoked (so the
    /// identity provider gets 401), the shop marked uninstalled, which pauses its sync jobs.
    /// Repeating it changes nothing; a later install restores service.
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %domain))]
    pub async fn uninstall(&self, domain: &ShopDomain) -> Result<bool> {
        let Some(shop) = shops::find_by_domain(&self.db, domain).await? else {
            return Ok(false);
        };
        let txn = self.db.begin_write().await?;
        shops::drop_tokens(&*txn, shop.id, install_state::UNINSTALLED).await?;
        let revoked = store::tokens::revoke_all(&*txn, shop.id).await?;
        txn.commit().await?;

        tracing::info!(shop.domain = %domain, scim.tokens_revoked = revoked, "app uninstalled");
        Ok(true)
    }
}

/// Associated data binding a ciphertext to its shop and column.
fn context(domain: &ShopDomain, column: &str) -> String {
    format!("{domain}/{column}")
}

/// Whether the shop holds tokens that can still be used or renewed.
fn has_usable_tokens(shop: &shop::Model) -> bool {
    let now = Utc::now();
    let installed =
        shop.install_state == install_state::INSTALLED && shop.access_token_ciphertext.is_some();
    let access_fresh = shop.access_token_expires_at.is_none_or(|at| at > now);
    let refreshable = shop.refresh_token_ciphertext.is_some()
        && shop.refresh_token_expires_at.is_none_or(|at| at > now);
    installed && (access_fresh || refreshable)
}
