//! Client IPs are personal data: we keep only a keyed hash (HMAC-SHA256 with a server
//! secret), enough to compare two signups, useless to anyone without the key.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Parses and canonicalises an IP (IPv4-mapped IPv6 becomes IPv4), or `None`.
pub fn canonical(raw: &str) -> Option<IpAddr> {
    let ip: IpAddr = raw.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    })
}

/// The stored fingerprint of an IP: 32 hex chars of HMAC-SHA256(key, canonical ip).
pub fn fingerprint(key: &str, ip: IpAddr) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(ip.to_string().as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_ip_same_fingerprint_in_any_spelling() {
        let a = canonical("203.0.113.7").unwrap();
        let b = canonical("::ffff:203.0.113.7").unwrap();
        assert_eq!(fingerprint("k", a), fingerprint("k", b));
        assert_ne!(fingerprint("k", a), fingerprint("other", a));
        assert_ne!(fingerprint("k", a), fingerprint("k", canonical("203.0.113.8").unwrap()));
        assert_eq!(fingerprint("k", a).len(), 32);
        assert!(!fingerprint("k", a).contains("203"));
        assert!(canonical("not-an-ip").is_none());
    }
}
