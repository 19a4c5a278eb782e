//! The outbound HTTP client: 5 s timeout, no redirects followed, no proxies from the
//! environment, and a DNS resolver that drops every non-public address, so a partner name
//! that resolves (or re-binds) to a private, loopback or metadata address is never called.

use std::net::SocketAddr;
use std::time::Duration;

use adapters::domain::partner_webhook::UrlPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Resolves with the system resolver and keeps only addresses the policy may connect to.
struct PublicOnly(UrlPolicy);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| policy.may_connect(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

pub fn http_client(policy: UrlPolicy) -> Result<reqwest::Client, reqwest::Error> {
    // The process's one root store and rustls config (adapters::tls), not a trust store of its own.
    adapters::tls::shared()
        .reqwest_builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(PublicOnly(policy))
        .user_agent("referrals-partner-webhooks/1")
        .build()
}
