//! Opaque pagination cursors: DynamoDB's `LastEvaluatedKey` (all string attributes here)
//! as base64url JSON. On the way back in, the cursor must belong to the same partition as
//! the query, so a crafted cursor can never page into someone else's data, and must carry
//! exactly the key attributes of the index queried (non-empty strings): DynamoDB answers a
//! malformed `ExclusiveStartKey` with a ValidationException, which would otherwise surface
//! as a 5xx for what is the caller's mistake (400 `invalid_cursor`).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub use referral_core::store::CursorError;

pub fn encode(key: &HashMap<String, AttributeValue>) -> String {
    let plain: BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.as_str(), s.as_str())),
            _ => None,
        })
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).expect("string map serialises"))
}

/// Decodes a cursor: its attributes must be exactly `key_attrs` (the table's and the
/// index's key attributes, in any order), all non-empty, and `partition_attr` must equal
/// `partition_value`.
pub fn decode(
    cursor: &str,
    partition_attr: &str,
    partition_value: &str,
    key_attrs: &[&str],
) -> Result<HashMap<String, AttributeValue>, CursorError> {
    if cursor.len() > 2048 {
        return Err(CursorError);
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError)?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| CursorError)?;
    let exact_keys = plain.len() == key_attrs.len() && key_attrs.iter().all(|a| plain.contains_key(*a));
    if !exact_keys
        || plain.values().any(|v| v.is_empty() || v.len() > 1024)
        || plain.get(partition_attr).map(String::as_str) != Some(partition_value)
    {
        return Err(CursorError);
    }
    Ok(plain.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partition_check() {
        let key: HashMap<String, AttributeValue> =
            [("GSI2PK", "REFERRER#a"), ("GSI2SK", "t#p"), ("PK", "B"), ("SK", "BONUS")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
                .collect();
        const ATTRS: &[&str] = &["PK", "SK", "GSI2PK", "GSI2SK"];
        let c = encode(&key);
        assert_eq!(decode(&c, "GSI2PK", "REFERRER#a", ATTRS).unwrap(), key);
        assert_eq!(decode(&c, "GSI2PK", "REFERRER#b", ATTRS), Err(CursorError));
        assert_eq!(decode("!!!", "GSI2PK", "x", ATTRS), Err(CursorError));
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode(b"[1]"), "GSI2PK", "x", ATTRS), Err(CursorError));
    }

    fn crafted(pairs: &[(&str, &str)]) -> String {
        let map: BTreeMap<&str, &str> = pairs.iter().copied().collect();
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).unwrap())
    }

    #[test]
    fn crafted_cursors_with_the_wrong_key_shape_are_refused() {
        const ATTRS: &[&str] = &["PK", "SK", "GSI2PK", "GSI2SK"];
        let ok = [("GSI2PK", "REFERRER#a"), ("GSI2SK", "t#p"), ("PK", "B"), ("SK", "BONUS")];
        assert!(decode(&crafted(&ok), "GSI2PK", "REFERRER#a", ATTRS).is_ok());
        // Missing a key attribute, an extra attribute, an empty key value.
        assert_eq!(decode(&crafted(&ok[..3]), "GSI2PK", "REFERRER#a", ATTRS), Err(CursorError));
        let extra = [ok[0], ok[1], ok[2], ok[3], ("status", "credited")];
        assert_eq!(decode(&crafted(&extra), "GSI2PK", "REFERRER#a", ATTRS), Err(CursorError));
        let empty = [ok[0], ok[1], ok[2], ("SK", "")];
        assert_eq!(decode(&crafted(&empty), "GSI2PK", "REFERRER#a", ATTRS), Err(CursorError));
        let swapped = [ok[0], ok[1], ("PK", "B"), ("GSI1SK", "x")];
        assert_eq!(decode(&crafted(&swapped), "GSI2PK", "REFERRER#a", ATTRS), Err(CursorError));
    }
}
