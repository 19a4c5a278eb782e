//! Opaque pagination cursors: DynamoDB's `LastEvaluatedKey` (all string attributes here)
//! as base64url JSON. On the way back in, the cursor must belong to the same partition as
//! the query, so a crafted cursor can never page into someone else's data.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass back the next_cursor of the previous page unchanged")]
pub struct CursorError;

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

/// Decodes a cursor and checks that `partition_attr` equals `partition_value`.
pub fn decode(
    cursor: &str,
    partition_attr: &str,
    partition_value: &str,
) -> Result<HashMap<String, AttributeValue>, CursorError> {
    if cursor.len() > 2048 {
        return Err(CursorError);
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError)?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| CursorError)?;
    if plain.get(partition_attr).map(String::as_str) != Some(partition_value) || plain.len() > 6 {
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
        let c = encode(&key);
        assert_eq!(decode(&c, "GSI2PK", "REFERRER#a").unwrap(), key);
        assert_eq!(decode(&c, "GSI2PK", "REFERRER#b"), Err(CursorError));
        assert_eq!(decode("!!!", "GSI2PK", "x"), Err(CursorError));
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode(b"[1]"), "GSI2PK", "x"), Err(CursorError));
    }
}
