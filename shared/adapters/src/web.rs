//! The browser pages our HTTP functions serve (the Referrals page of the dashboard, the admin
//! console): their configuration, and the headers every one of them is served with.
//!
//! A page is static HTML, JS and CSS compiled into the function (`include_str!`); the HTML gets
//! two values at serve time, as attributes on `<html>`: `data-api-base` (the path prefix the
//! API is served under) and `data-sign-in-url` (where a signed-out visitor signs in). Scripts
//! and styles come from `'self'` only — no inline script or style, no nonce needed — under the
//! strict [`CSP`].

use axum::response::IntoResponse;
use http::{header, HeaderValue};

use crate::http::Response;
use url::Url;

use crate::config::{self, ConfigError, Source};

/// The Content-Security-Policy of every page: own scripts and styles only, images from the
/// page itself, blobs (the QR code, downloads) and data URLs, API calls to the same origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageConfig {
    /// Path prefix under which the function is reachable (empty behind the HTTP API;
    /// `/lambda-url/dashboard` under `cargo lambda watch`), so the page finds its API.
    pub public_base_path: String,
    /// `SIGN_IN_URL`: where the page sends a signed-out visitor (the identity provider's sign-in,
    /// which comes back with `#token=<jwt>`). Absent: the page only says to sign in.
    pub sign_in_url: Option<Url>,
}

impl PageConfig {
    /// `PUBLIC_BASE_PATH` (optional) and `SIGN_IN_URL` (optional, an http(s) URL).
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        let public_base_path = config::optional(src, "PUBLIC_BASE_PATH").unwrap_or_default();
        if !(public_base_path.is_empty()
            || (public_base_path.starts_with('/')
                && !public_base_path.ends_with('/')
                && public_base_path.chars().all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c))))
        {
            return Err(ConfigError::Invalid {
                key: "PUBLIC_BASE_PATH",
                reason: "must be empty or a path like /lambda-url/dashboard".into(),
            });
        }
        let sign_in_url = config::optional(src, "SIGN_IN_URL")
            .map(|raw| {
                let url = Url::parse(&raw).map_err(|e| format!("{e} (got {raw:?})"))?;
                if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() || !url.username().is_empty() {
                    return Err(format!("must be an http(s) URL such as https://auth.example.com/login, got {raw:?}"));
                }
                Ok(url)
            })
            .transpose()
            .map_err(|reason| ConfigError::Invalid { key: "SIGN_IN_URL", reason })?;
        Ok(Self { public_base_path, sign_in_url })
    }
}

/// A static asset (script, stylesheet, JSON document).
pub fn static_file(content_type: &'static str, body: String, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The page `template` (whose `<html>` carries `data-api-base=""` and `data-sign-in-url=""`)
/// with the configured values filled in, served with the strict [`CSP`].
pub fn page(template: &str, cfg: &PageConfig) -> Response {
    let mut resp = static_file("text/html; charset=utf-8", render(template, cfg), "no-cache");
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The template with `data-api-base` and `data-sign-in-url` filled in (attribute-escaped).
pub fn render(template: &str, cfg: &PageConfig) -> String {
    let sign_in = cfg.sign_in_url.as_ref().map(Url::as_str).unwrap_or_default();
    template
        .replacen("data-api-base=\"\"", &format!("data-api-base=\"{}\"", attr_escape(&cfg.public_base_path)), 1)
        .replacen("data-sign-in-url=\"\"", &format!("data-sign-in-url=\"{}\"", attr_escape(sign_in)), 1)
}

/// Text safe inside a double-quoted HTML attribute.
fn attr_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_gets_its_values_escaped_and_the_strict_policy() {
        let env: std::collections::HashMap<&str, &str> = [
            ("PUBLIC_BASE_PATH", "/lambda-url/dashboard"),
            ("SIGN_IN_URL", "https://auth.example.com/login?client=a&return=\"x\""),
        ]
        .into();
        let cfg = PageConfig::from_env(&env).unwrap();
        let template = r#"<html data-api-base="" data-sign-in-url=""></html>"#;
        let resp = page(template, &cfg);
        let html = render(template, &cfg);
        assert_eq!(
            html,
            r#"<html data-api-base="/lambda-url/dashboard" data-sign-in-url="https://auth.example.com/login?client=a&amp;return=%22x%22"></html>"#
        );
        assert_eq!(resp.headers()["content-security-policy"], CSP);
        assert!(!CSP.contains("unsafe"));
        for bad in ["javascript:alert(1)", "/relative", "ftp://x.example.com"] {
            let env: std::collections::HashMap<&str, &str> = [("SIGN_IN_URL", bad)].into();
            assert!(PageConfig::from_env(&env).is_err(), "{bad}");
        }
        let env: std::collections::HashMap<&str, &str> = [("PUBLIC_BASE_PATH", "/x/")].into();
        assert!(PageConfig::from_env(&env).is_err());
        assert_eq!(
            PageConfig::from_env(&std::collections::HashMap::<&str, &str>::new()).unwrap(),
            PageConfig::default()
        );
    }
}
