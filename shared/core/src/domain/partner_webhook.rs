//! Outbound partner webhooks, the rules in plain Rust: the event types, deterministic event
//! ids, signing secrets, and which endpoint URLs may be registered (SSRF guard).
//!
//! Signing reuses [`super::signature::sign`]: partners get the same Stripe-style header we
//! accept from our own payment provider (`t=<unix>,v1=<hex HMAC-SHA256("{t}.{body}")>`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::{Host, Url};

use super::PaymentId;

/// The header a partner verifies.
pub const SIGNATURE_HEADER: &str = "Referral-Signature";
/// Longest endpoint URL we store.
pub const MAX_URL_LEN: usize = 2048;
/// Prefix of every signing secret (so a leaked one is recognisable in scanners).
pub const SECRET_PREFIX: &str = "whsec_";

/// What a partner can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PartnerEventType {
    #[serde(rename = "bonus.created")]
    BonusCreated,
    #[serde(rename = "bonus.credited")]
    BonusCredited,
    #[serde(rename = "bonus.reversed")]
    BonusReversed,
    /// A credited bonus's amount changed (a partial refund, a dispute, a dispute won).
    #[serde(rename = "bonus.adjusted")]
    BonusAdjusted,
}

impl PartnerEventType {
    pub const ALL: [PartnerEventType; 4] =
        [Self::BonusCreated, Self::BonusCredited, Self::BonusReversed, Self::BonusAdjusted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BonusCreated => "bonus.created",
            Self::BonusCredited => "bonus.credited",
            Self::BonusReversed => "bonus.reversed",
            Self::BonusAdjusted => "bonus.adjusted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

impl fmt::Display for PartnerEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `evt_<32 hex>`: the same bonus change (payment, type, the bonus version it produced)
/// always gives the same id, so a partner can de-duplicate retries (and our own
/// at-least-once delivery) on it; a bonus credited again after a won dispute is a new event.
pub fn event_id(payment: &PaymentId, kind: PartnerEventType, bonus_version: u64) -> String {
    let digest = Sha256::digest(format!("{payment}|{}|{bonus_version}", kind.as_str()));
    format!("evt_{}", hex::encode(&digest[..16]))
}

/// Whether `raw` has the shape of an id [`event_id`] makes.
pub fn is_event_id(raw: &str) -> bool {
    raw.strip_prefix("evt_").is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A fresh signing secret: `whsec_` + 32 random bytes in hex.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Which endpoint URLs are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// Local and test runs only (`WEBHOOK_ALLOW_HTTP_LOOPBACK=true`): also accept
    /// `http://127.0.0.1:<port>/…`, and let the sender connect to loopback.
    pub allow_http_loopback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url must be at most {MAX_URL_LEN} characters")]
    TooLong,
    #[error("url is not a valid absolute URL")]
    Invalid,
    #[error("url must use https")]
    NotHttps,
    #[error("url must not contain a username or password")]
    UserInfo,
    #[error("url must not contain a #fragment")]
    Fragment,
    #[error("url must use the default https port (443)")]
    Port,
    #[error("url must point to a public host (no localhost, private, link-local or reserved addresses)")]
    NotPublic,
}

impl UrlPolicy {
    /// Validates a partner endpoint URL. Production rules: `https` on the default port, no
    /// userinfo or fragment, a public DNS name (at least one dot, not `localhost`, `.local`,
    /// `.internal`, …) or a public IP literal. DNS names are checked again at delivery time
    /// ([`is_public_ip`] on every resolved address), which closes DNS rebinding.
    pub fn validate(&self, raw: &str) -> Result<Url, UrlError> {
        if raw.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let url = Url::parse(raw.trim()).map_err(|_| UrlError::Invalid)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::UserInfo);
        }
        if url.fragment().is_some() {
            return Err(UrlError::Fragment);
        }
        let host = url.host().ok_or(UrlError::Invalid)?;
        if self.allow_http_loopback
            && url.scheme() == "http"
            && matches!(host, Host::Ipv4(ip) if ip == Ipv4Addr::LOCALHOST)
        {
            return Ok(url);
        }
        if url.scheme() != "https" {
            return Err(UrlError::NotHttps);
        }
        if url.port().is_some() {
            return Err(UrlError::Port);
        }
        match host {
            Host::Ipv4(ip) if is_public_ip(IpAddr::V4(ip)) => Ok(url),
            Host::Ipv6(ip) if is_public_ip(IpAddr::V6(ip)) => Ok(url),
            Host::Ipv4(_) | Host::Ipv6(_) => Err(UrlError::NotPublic),
            Host::Domain(name) if is_public_name(name) => Ok(url),
            Host::Domain(_) => Err(UrlError::NotPublic),
        }
    }

    /// Whether the sender may connect to `ip` (after DNS resolution).
    pub fn may_connect(&self, ip: IpAddr) -> bool {
        is_public_ip(ip) || (self.allow_http_loopback && ip == IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

fn is_public_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const INTERNAL_SUFFIXES: [&str; 6] = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".arpa"];
    name.contains('.')
        && name != "localhost"
        && !INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s))
        // A name made of digits and dots only is an IP in disguise (e.g. `127.1`): refuse it.
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Globally routable unicast: not loopback, private (RFC 1918, ULA), link-local, CGNAT,
/// unspecified, broadcast, multicast, documentation, benchmarking or reserved; IPv4-mapped
/// and NAT64 IPv6 addresses are judged by the IPv4 address inside.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0                                 // "this network"
        || (a == 100 && (64..128).contains(&b))   // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0)         // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b))    // benchmarking 198.18/15
        || a >= 240) // reserved + broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let seg = ip.segments();
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        // NAT64 well-known prefix 64:ff9b::/96
        let v4 = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00      // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80      // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0      // site-local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || seg[..6].iter().all(|s| *s == 0)) // IPv4-compatible ::a.b.c.d and friends
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: UrlPolicy = UrlPolicy { allow_http_loopback: false };
    const LOCAL: UrlPolicy = UrlPolicy { allow_http_loopback: true };

    #[test]
    fn event_types_round_trip() {
        for t in PartnerEventType::ALL {
            assert_eq!(PartnerEventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(PartnerEventType::parse("bonus.paid"), None);
    }

    #[test]
    fn event_ids_are_deterministic_and_distinct() {
        let p = PaymentId::parse("pay_1").unwrap();
        let id = event_id(&p, PartnerEventType::BonusCredited, 2);
        assert_eq!(id, event_id(&p, PartnerEventType::BonusCredited, 2));
        assert_ne!(id, event_id(&p, PartnerEventType::BonusCreated, 2));
        assert_ne!(id, event_id(&p, PartnerEventType::BonusCredited, 5));
        assert_ne!(id, event_id(&PaymentId::parse("pay_2").unwrap(), PartnerEventType::BonusCredited, 2));
        assert!(is_event_id(&id), "{id}");
        assert!(!is_event_id("evt_xyz"));
    }

    #[test]
    fn secrets_are_fresh_and_prefixed() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert_ne!(a, b);
    }

    #[test]
    fn production_accepts_public_https_only() {
        for ok in ["https://partner.example.com/hooks/referrals?x=1", "https://8.8.8.8/h", "https://[2606:4700::1111]/"]
        {
            assert!(PROD.validate(ok).is_ok(), "{ok}");
        }
        let cases: &[(&str, UrlError)] = &[
            ("http://partner.example.com/h", UrlError::NotHttps),
            ("ftp://partner.example.com/h", UrlError::NotHttps),
            ("https://user:pw@partner.example.com/h", UrlError::UserInfo),
            ("https://user@partner.example.com/h", UrlError::UserInfo),
            ("https://partner.example.com/h#x", UrlError::Fragment),
            ("https://partner.example.com:8443/h", UrlError::Port),
            ("https://localhost/h", UrlError::NotPublic),
            ("https://api.localhost/h", UrlError::NotPublic),
            ("https://intranet/h", UrlError::NotPublic),
            ("https://db.internal/h", UrlError::NotPublic),
            ("https://127.0.0.1/h", UrlError::NotPublic),
            ("https://127.1/h", UrlError::NotPublic),
            ("https://2130706433/h", UrlError::NotPublic),
            ("https://10.0.0.5/h", UrlError::NotPublic),
            ("https://172.16.3.4/h", UrlError::NotPublic),
            ("https://192.168.1.1/h", UrlError::NotPublic),
            ("https://169.254.169.254/latest/meta-data", UrlError::NotPublic),
            ("https://100.64.0.1/h", UrlError::NotPublic),
            ("https://0.0.0.0/h", UrlError::NotPublic),
            ("https://[::1]/h", UrlError::NotPublic),
            ("https://[fd00::1]/h", UrlError::NotPublic),
            ("https://[fe80::1]/h", UrlError::NotPublic),
            ("https://[::ffff:10.0.0.1]/h", UrlError::NotPublic),
            ("not a url", UrlError::Invalid),
            ("https://", UrlError::Invalid),
        ];
        for (raw, want) in cases {
            assert_eq!(PROD.validate(raw).as_ref().err(), Some(want), "{raw}");
        }
        assert_eq!(PROD.validate(&format!("https://a.example.com/{}", "x".repeat(2048))), Err(UrlError::TooLong));
        // Loopback http is a local/test-only allowance.
        assert_eq!(PROD.validate("http://127.0.0.1:8080/h"), Err(UrlError::NotHttps));
    }

    #[test]
    fn local_runs_also_accept_http_loopback() {
        assert!(LOCAL.validate("http://127.0.0.1:8080/h").is_ok());
        assert_eq!(LOCAL.validate("http://10.0.0.1:8080/h"), Err(UrlError::NotHttps));
        assert_eq!(LOCAL.validate("http://localhost:8080/h"), Err(UrlError::NotHttps));
        assert_eq!(LOCAL.validate("http://u@127.0.0.1:8080/h"), Err(UrlError::UserInfo));
        assert!(LOCAL.may_connect(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(!PROD.may_connect(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(!LOCAL.may_connect("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn ip_classification() {
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(is_public_ip(public.parse().unwrap()), "{public}");
        }
        for private in ["198.18.0.1", "192.0.0.8", "240.0.0.1", "255.255.255.255", "224.0.0.1", "::", "64:ff9b::a00:1"]
        {
            assert!(!is_public_ip(private.parse().unwrap()), "{private}");
        }
    }
}
