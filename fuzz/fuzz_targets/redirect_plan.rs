//! Fuzz target: the redirect planner (`redirect::plan::plan`) on arbitrary path, query and
//! Cookie headers (input split on NUL bytes). Invariants: never a panic; the Location is an
//! absolute https URL on the configured origin, a valid header value with no raw control or
//! space bytes; every `ref` parameter is removed and the others kept in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redirect::plan::{plan, RefParam};
use adapters::domain::RefCode;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let path = parts.next().unwrap_or("");
    let query = parts.next();
    let cookies: Vec<&str> = parts.collect();

    let origin = Url::parse("https://www.example.com").expect("origin");
    let p = plan(&origin, path, query, cookies.iter().copied());

    let loc = Url::parse(&p.location).expect("Location parses");
    assert_eq!((loc.scheme(), loc.host_str(), loc.port()), ("https", Some("www.example.com"), None), "{}", p.location);
    assert!(loc.username().is_empty() && loc.password().is_none() && loc.fragment().is_none());
    assert!(p.location.starts_with("https://www.example.com/"), "{}", p.location);
    assert!(p.location.bytes().all(|b| (0x21..0x7f).contains(&b)), "{:?}", p.location);
    assert!(http::HeaderValue::from_str(&p.location).is_ok());

    let sent: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(|(k, v)| (k.into(), v.into())).collect();
    let kept: Vec<(String, String)> = loc.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
    let want: Vec<(String, String)> = sent.iter().filter(|(k, _)| k != "ref").cloned().collect();
    assert_eq!(kept, want);
    let expected = match sent.iter().find(|(k, _)| k == "ref") {
        None => RefParam::Absent,
        Some((_, v)) => RefCode::parse(v).map(RefParam::Valid).unwrap_or(RefParam::Malformed),
    };
    assert_eq!(p.ref_param, expected);
});
