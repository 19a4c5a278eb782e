//! Pure redirect rules (no I/O): where to send the visitor and whether to set the cookie.
//!
//! * The `Location` is always built from the configured site origin; only the path and the
//!   non-`ref` query parameters are taken from the request, re-encoded, so no input can
//!   change scheme or host (no open redirect, no header injection).
//! * Every `ref` parameter is removed; all other parameters keep their order.
//! * First-touch (default): a valid `ref` cookie already present is kept.
//! * `utm_campaign` (like every other parameter) stays in the `Location`; the first one, if
//!   it is a valid campaign name, also selects the campaign counter of the click.

use adapters::domain::{CampaignName, RefCode};
use url::Url;

/// Which click wins when a visitor follows several referral links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// The first referrer keeps the visitor (cookie never overwritten while valid).
    First,
    /// The latest link clicked wins.
    Last,
}

/// What the `ref` parameter contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefParam {
    Absent,
    Malformed,
    Valid(RefCode),
}

/// The decision for one request, before the store is asked whether the code exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub location: String,
    pub ref_param: RefParam,
    /// A valid referral cookie the visitor already carries.
    pub existing: Option<RefCode>,
    /// The first `utm_campaign`, when it is a valid campaign name (stack-allocated).
    pub campaign: Option<CampaignName>,
}

impl Plan {
    /// Whether a cookie for `code` should be written (given the code is known to exist).
    pub fn should_set_cookie(&self, touch: Touch, code: RefCode) -> bool {
        match (touch, self.existing) {
            (Touch::First, Some(_)) => false,
            (Touch::Last, Some(existing)) => existing != code,
            (_, None) => true,
        }
    }
}

/// Builds the plan from the raw request parts.
pub fn plan<'a>(
    origin: &Url,
    path: &str,
    raw_query: Option<&str>,
    cookie_headers: impl Iterator<Item = &'a str>,
) -> Plan {
    let mut ref_param = RefParam::Absent;
    let mut kept = form_urlencoded::Serializer::new(String::new());
    let mut any_kept = false;
    let mut campaign = None;
    let mut campaign_seen = false;
    for (key, value) in form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
        if key == "ref" {
            if ref_param == RefParam::Absent {
                ref_param = match RefCode::parse(&value) {
                    Ok(code) => RefParam::Valid(code),
                    Err(_) => RefParam::Malformed,
                };
            }
            continue;
        }
        if key == "utm_campaign" && !campaign_seen {
            campaign_seen = true;
            campaign = CampaignName::parse(&value).ok();
        }
        kept.append_pair(&key, &value);
        any_kept = true;
    }

    let mut location = origin.clone();
    // Collapse leading slashes/backslashes so the path can never look like an authority.
    let clean_path = format!("/{}", path.trim_start_matches(['/', '\\']));
    location.set_path(&clean_path);
    location.set_query(any_kept.then(|| kept.finish()).as_deref());
    location.set_fragment(None);

    Plan { location: location.into(), ref_param, existing: existing_cookie(cookie_headers), campaign }
}

/// The first valid `ref` cookie across all `Cookie` headers.
fn existing_cookie<'a>(headers: impl Iterator<Item = &'a str>) -> Option<RefCode> {
    headers
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == "ref")
        .find_map(|c| RefCode::parse(c.value()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Url {
        Url::parse("https://www.example.com").unwrap()
    }

    fn p(path: &str, q: Option<&str>) -> Plan {
        plan(&origin(), path, q, std::iter::empty())
    }

    #[test]
    fn strips_ref_and_keeps_order() {
        let plan = p("/pricing", Some("utm_source=x&ref=k7m2xq&utm_medium=qr&b=2"));
        assert_eq!(plan.location, "https://www.example.com/pricing?utm_source=x&utm_medium=qr&b=2");
        assert_eq!(plan.ref_param, RefParam::Valid(RefCode::parse("K7M2XQ").unwrap()));
    }

    #[test]
    fn only_ref_gives_clean_root() {
        assert_eq!(p("/", Some("ref=K7M2XQ")).location, "https://www.example.com/");
        assert_eq!(p("", None).location, "https://www.example.com/");
        assert_eq!(p("/", None).ref_param, RefParam::Absent);
    }

    #[test]
    fn malformed_codes_are_flagged() {
        assert_eq!(p("/", Some("ref=NOPE")).ref_param, RefParam::Malformed);
        assert_eq!(p("/", Some("ref=K7M2XI")).ref_param, RefParam::Malformed);
        assert_eq!(p("/", Some("ref=")).ref_param, RefParam::Malformed);
    }

    #[test]
    fn never_leaves_the_origin() {
        for (path, q) in [
            ("//evil.com", None),
            ("/\\evil.com", None),
            ("/%2F%2Fevil.com", None),
            ("/", Some("next=https://evil.com")),
            ("///evil.com/x", Some("ref=K7M2XQ")),
        ] {
            let loc = Url::parse(&p(path, q).location).unwrap();
            assert_eq!(loc.host_str(), Some("www.example.com"), "{path} {q:?}");
            assert_eq!(loc.scheme(), "https");
        }
        assert_eq!(p("//evil.com", None).location, "https://www.example.com/evil.com");
    }

    #[test]
    fn control_characters_are_re_encoded() {
        let plan = p("/", Some("x=%0D%0ASet-Cookie:%20a=b&ref=K7M2XQ"));
        assert!(!plan.location.contains('\r') && !plan.location.contains('\n'));
        assert_eq!(plan.location, "https://www.example.com/?x=%0D%0ASet-Cookie%3A+a%3Db");
    }

    #[test]
    fn utm_parameters_stay_and_the_first_valid_campaign_is_picked() {
        let plan = p("/", Some("ref=K7M2XQ&utm_campaign=spring-sale&utm_source=partner&utm_campaign=other"));
        assert_eq!(
            plan.location,
            "https://www.example.com/?utm_campaign=spring-sale&utm_source=partner&utm_campaign=other"
        );
        assert_eq!(plan.campaign, Some(CampaignName::parse("spring-sale").unwrap()));
        assert_eq!(p("/", Some("ref=K7M2XQ&utm_campaign=Bad%20Name")).campaign, None);
        assert_eq!(p("/", Some("ref=K7M2XQ&utm_campaign=Bad&utm_campaign=ok")).campaign, None, "first one only");
        assert_eq!(p("/", Some("ref=K7M2XQ")).campaign, None);
    }

    #[test]
    fn first_touch_keeps_a_valid_cookie() {
        let code = RefCode::parse("K7M2XQ").unwrap();
        let other = RefCode::parse("ABCDEF").unwrap();
        let with_cookie = plan(&origin(), "/", Some("ref=K7M2XQ"), ["theme=dark; ref=abcdef"].into_iter());
        assert_eq!(with_cookie.existing, Some(other));
        assert!(!with_cookie.should_set_cookie(Touch::First, code));
        assert!(with_cookie.should_set_cookie(Touch::Last, code));
        assert!(!with_cookie.should_set_cookie(Touch::Last, other));
        let garbage = plan(&origin(), "/", Some("ref=K7M2XQ"), ["ref=<script>"].into_iter());
        assert_eq!(garbage.existing, None);
        assert!(garbage.should_set_cookie(Touch::First, code));
    }
}
