//! Fuzz target: the payment webhook's untrusted input — the raw body (`webhook::parse`) and the
//! `X-Signature` header (`adapters::domain::signature::verify`). Input: `<header>\n<body>`.
//! Invariants: never a panic; a parse error is a 400/422; a header verifies only if it carries
//! the body's real HMAC; a fresh signature of any body verifies and any change to it does not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use adapters::domain::signature::{sign, verify};

const SECRET: &str = "whsec_fuzz_0123456789abcdef";
const NOW: i64 = 1_795_000_000;

fuzz_target!(|data: &[u8]| {
    let secrets = [SECRET.to_string()];
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };

    // The body parser: any bytes, never a panic, only caller errors.
    if let Err(e) = webhook::parse(body) {
        assert!(e.status == 400 || e.status == 422, "{e:?}");
    }

    // An arbitrary header verifies only if it contains the real MAC for one of its timestamps.
    let header = String::from_utf8_lossy(header);
    if verify(Some(&header), body, &secrets, NOW, 300).is_ok() {
        let genuine = header.split(',').filter_map(|p| p.trim().strip_prefix("t=")).any(|t| {
            t.parse::<i64>().is_ok_and(|t| {
                let mac = sign(SECRET, t, body);
                let hex = &mac[mac.find("v1=").expect("v1") + 3..];
                header.split(',').any(|p| p.trim().strip_prefix("v1=").is_some_and(|v| v.eq_ignore_ascii_case(hex)))
            })
        });
        assert!(genuine, "forged header accepted: {header:?}");
    }

    // A fresh signature of this body verifies; flipping any byte breaks it.
    let good = sign(SECRET, NOW - 10, body);
    assert_eq!(verify(Some(&good), body, &secrets, NOW, 300), Ok(()));
    if let Some(first) = body.first() {
        let mut tampered = body.to_vec();
        tampered[0] = first.wrapping_add(1);
        assert!(verify(Some(&good), &tampered, &secrets, NOW, 300).is_err());
    }
});
