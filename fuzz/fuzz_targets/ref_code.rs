//! Fuzz target: the referral-code parser (`adapters::domain::RefCode::parse`). Invariants: never a
//! panic; accepted iff exactly six characters of the alphabet (any ASCII case); an accepted code
//! is its uppercase input, only alphabet bytes, and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use adapters::domain::code::ALPHABET;
use adapters::domain::RefCode;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let oracle = input.chars().count() == 6
        && input.chars().all(|c| c.is_ascii() && ALPHABET.contains(&(c.to_ascii_uppercase() as u8)));
    match RefCode::parse(input) {
        Ok(code) => {
            assert!(oracle, "accepted {input:?}");
            assert_eq!(code.as_str(), input.to_ascii_uppercase());
            assert!(code.as_str().bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(RefCode::parse(code.as_str()), Ok(code));
        }
        Err(_) => assert!(!oracle, "refused {input:?}"),
    }
});
