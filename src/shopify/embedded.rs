//! The embedded app inside Shopify admin.
//!
//! What a document load of the app URL leads to (`shopify.md` §3.1), the
//! authorization-code install for non-managed installs (§1.2, §1.3), and the admin's view
//! and actions (the shop's SCIM endpoint and tokens).
//!
//! The web layer renders what these functions decide; nothing here knows HTML or HTTP.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use url::Url;

use crate::shopify::install::Platform;
use crate::shopify::oauth::{self, NewState};
use crate::shopify::session_token::{self, SessionToken};
use crate::shopify::signature::{self, SignedQuery};
use crate::shopify::{AppCredentials, Error, Result};
use crate::store::entity::{activity, data_export, shop};
use crate::store::tokens::TokenInfo;
use crate::store::{exports, shops, sync, tokens};
use crate::types::ShopDomain;

/// Longest label accepted for a SCIM token.
pub const MAX_LABEL_CHARS: usize = 80;

/// Where the app lives: its public URL, from which SCIM and callback URLs are built.
#[derive(Debug, Clone)]
pub struct AppUrls {
    /// `server.public_url`.
    pub public_url: Url,
}

impl AppUrls {
    /// `{public}/{path}` (path without leading slash).
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.public_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{path}"));
        url
    }

    /// The SCIM base URL of `shop`.
    pub fn scim_base_url(&self, shop: &ShopDomain) -> Url {
        self.join(&format!("scim/v2/{}", shop.handle()))
    }

    /// The OAuth callback.
    pub fn callback(&self) -> Url {
        self.join("auth/callback")
    }
}

/// What a document load of the app URL should answer.
#[derive(Debug)]
pub enum AppLoad {
    /// Render the admin page of this installed shop.
    Render(Box<AdminView>),
    /// Go to the bounce page, which reloads the app with a fresh session token.
    Bounce {
        /// The URL App Bridge should reload, without `id_token`.
        reload: Url,
    },
    /// Redirect (top-level install, or into Shopify admin to be embedded).
    Redirect(Url),
}

/// What the admin page shows.
#[derive(Debug, Clone)]
pub struct AdminView {
    /// The shop.
    pub shop: ShopDomain,
    /// `installed`, `not_installed`, `uninstalled` or `needs_reauth`.
    pub install_state: String,
    /// When it was installed.
    pub installed_at: Option<DateTime<Utc>>,
    /// Granted scopes.
    pub scopes: Option<String>,
    /// The SCIM base URL to give the identity provider.
    pub scim_base_url: Url,
    /// The shop's SCIM tokens, newest first.
    pub tokens: Vec<TokenInfo>,
    /// Customer data exports, newest first.
    pub exports: Vec<data_export::Model>,
    /// The sync engine's latest activity, newest first.
    pub activity: Vec<activity::Model>,
    /// Sync jobs parked as failed.
    pub failed_jobs: u64,
}

/// How many activity entries the admin page shows.
pub const ACTIVITY_SHOWN: u64 = 20;

/// Decides what a document load of the app URL with `raw_query` answers, installing the shop
/// by token exchange when it holds no usable token.
pub async fn open_app(
    platform: &Platform,
    urls: &AppUrls,
    raw_query: &str,
    now: DateTime<Utc>,
) -> Result<AppLoad> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let shop = param("shop")
        .and_then(|shop| ShopDomain::parse(shop).ok())
        .ok_or(Error::InvalidShop)?;
    let credentials = platform.credentials();

    if param("embedded") != Some("1") {
        return not_embedded(platform, urls, raw_query, &shop, param("host"), now).await;
    }
    let session = match param("id_token") {
        Some(token) => session_token::verify(credentials, token, now).ok(),
        None => None,
    };
    let Some(session) = session.filter(|session| session.shop == shop) else {
        let kept: Vec<(&str, &str)> = params
            .iter()
            .filter(|(key, _)| key != "id_token")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut reload = urls.join("app");
        reload.query_pairs_mut().extend_pairs(kept);
        return Ok(AppLoad::Bounce { reload });
    };

    platform.ensure_installed(&session).await?;
    Ok(AppLoad::Render(Box::new(
        view(platform, urls, &shop).await?,
    )))
}

/// A load outside the admin's iframe: an unfinished non-managed install (signed query,
/// shop not installed) goes to `/auth`; anything else is sent into Shopify admin.
async fn not_embedded(
    platform: &Platform,
    urls: &AppUrls,
    raw_query: &str,
    shop: &ShopDomain,
    host: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AppLoad> {
    let signed = signature::verify_query(platform.credentials(), raw_query, now).ok();
    let installed = shops::find_by_domain(platform.db(), shop)
        .await?
        .is_some_and(|row| row.install_state == shops::install_state::INSTALLED);
    if signed.is_some() && !installed {
        let mut auth = urls.join("auth");
        auth.query_pairs_mut().append_pair("shop", shop.as_str());
        return Ok(AppLoad::Redirect(auth));
    }
    Ok(AppLoad::Redirect(embedded_app_url(
        host,
        shop,
        platform.credentials(),
    )?))
}

/// The app inside Shopify admin: `https://{decoded host}/apps/{client id}` when `host` is a
/// valid Shopify admin host (§1.3), else the shop's own admin.
pub fn embedded_app_url(
    host: Option<&str>,
    shop: &ShopDomain,
    credentials: &AppCredentials,
) -> Result<Url> {
    let decoded = host
        .and_then(|host| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(host.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|admin| is_admin_host(admin));
    let base = decoded.unwrap_or_else(|| format!("{shop}/admin"));
    Url::parse(&format!("https://{base}/apps/{}", credentials.api_key()))
        .map_err(|_| Error::Config("the client id does not fit in a URL".to_owned()))
}

/// `{handle}.myshopify.com/admin` or `admin.shopify.com/store/{handle}`.
fn is_admin_host(admin: &str) -> bool {
    if let Some(handle) = admin.strip_prefix("admin.shopify.com/store/") {
        return crate::types::ShopHandle::parse(handle).is_ok();
    }
    admin
        .strip_suffix("/admin")
        .is_some_and(|shop| ShopDomain::parse(shop).is_ok())
}

/// The admin page's content for `shop`.
pub async fn view(platform: &Platform, urls: &AppUrls, shop: &ShopDomain) -> Result<AdminView> {
    let row = shops::find_by_domain(platform.db(), shop)
        .await?
        .ok_or(Error::NotInstalled)?;
    let tokens = tokens::list(platform.db(), row.id).await?;
    let exports = exports::list(platform.db().conn(), row.id).await?;
    let activity = sync::recent_activity(platform.db(), row.id, ACTIVITY_SHOWN).await?;
    let failed_jobs = sync::count_failed_jobs(platform.db(), row.id).await?;
    Ok(AdminView {
        activity,
        failed_jobs,
        scim_base_url: urls.scim_base_url(shop),
        shop: row.domain,
        install_state: row.install_state,
        installed_at: row.installed_at,
        scopes: row.scopes,
        tokens,
        exports,
    })
}

/// Verifies the session token of an admin API request and loads its shop.
pub async fn authenticate(
    platform: &Platform,
    bearer: &str,
    now: DateTime<Utc>,
) -> Result<(SessionToken, shop::Model)> {
    let session = session_token::verify(platform.credentials(), bearer, now)?;
    let shop = shops::find_by_domain(platform.db(), &session.shop)
        .await?
        .ok_or(Error::NotInstalled)?;
    Ok((session, shop))
}

/// A new SCIM token made from the admin page: its listing and the plaintext, shown once.
pub async fn create_token(
    platform: &Platform,
    session: &SessionToken,
    shop: &shop::Model,
    label: Option<&str>,
    expires_in_days: Option<u32>,
) -> Result<(TokenInfo, SecretString)> {
    if shop.install_state != shops::install_state::INSTALLED {
        return Err(Error::NotInstalled);
    }
    let label = label.map(str::trim).filter(|label| !label.is_empty());
    let label = label.unwrap_or("SCIM token");
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(Error::Malformed(
            "the label must be 1 to 80 printable characters",
        ));
    }
    let expires_at = match expires_in_days {
        None | Some(0) => None,
        Some(days) if days <= 3650 => Some(Utc::now() + Duration::days(i64::from(days))),
        Some(_) => return Err(Error::Malformed("a token may live at most 3650 days")),
    };
    let by = format!("admin:{}", session.user_id.as_deref().unwrap_or("unknown"));
    Ok(tokens::create(platform.db(), shop.id, label, expires_at, &by).await?)
}

/// Starts an authorization-code install of `shop` (non-managed installs): the authorize
/// URL and the signed state cookie.
pub fn begin_install(
    platform: &Platform,
    urls: &AppUrls,
    scopes: &str,
    shop: &str,
    now: DateTime<Utc>,
) -> Result<(Url, NewState)> {
    let shop = ShopDomain::parse(shop).map_err(|_| Error::InvalidShop)?;
    let admin = platform.client().admin_url(&shop)?;
    let state = oauth::new_state(platform.credentials(), now)?;
    let url = oauth::authorize_url(
        &admin,
        platform.credentials(),
        scopes,
        &urls.callback(),
        &state.state,
    );
    Ok((url, state))
}

/// Completes an authorization-code install from the callback.
///
/// The state cookie, the query HMAC, timestamp and shop are checked (in that order, §1.3)
/// before the code is exchanged. Answers where to send the merchant: the app inside their
/// admin.
pub async fn complete_install(
    platform: &Platform,
    raw_query: &str,
    state_cookie: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Url> {
    if state_cookie.is_none() {
        return Err(Error::StateMismatch);
    }
    let query: SignedQuery = signature::verify_query(platform.credentials(), raw_query, now)?;
    oauth::check_state(
        platform.credentials(),
        state_cookie,
        query.get("state"),
        now,
    )?;
    let code = query.get("code").ok_or(Error::Malformed("missing code"))?;

    platform.install_with_code(&query.shop, code).await?;
    embedded_app_url(query.get("host"), &query.shop, platform.credentials())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::fixtures::{HOST, SHOP, credentials};

    #[test]
    fn the_embedded_url_follows_the_host_parameter() {
        let shop = ShopDomain::parse(SHOP).unwrap();

        let url = embedded_app_url(Some(HOST), &shop, &credentials()).unwrap();

        assert_eq!(
            url.as_str(),
            "https://admin.shopify.com/store/acme-test/apps/a1b2c3d4e5f60718293a4b5c6d7e8f90"
        );
    }

    #[test]
    fn a_host_that_is_not_a_shopify_admin_falls_back_to_the_shop_s_admin() {
        let shop = ShopDomain::parse(SHOP).unwrap();
        let evil = base64::engine::general_purpose::STANDARD_NO_PAD.encode("evil.com/admin");

        let url = embedded_app_url(Some(&evil), &shop, &credentials()).unwrap();

        assert_eq!(
            url.as_str(),
            "https://acme-test.myshopify.com/admin/apps/a1b2c3d4e5f60718293a4b5c6d7e8f90"
        );
    }
}
