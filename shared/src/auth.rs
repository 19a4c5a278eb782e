//! Request authentication shared by the HTTP functions: HMAC-signed server-to-server calls
//! (payment webhook, auth-service signups). Failures map to 4xx and never echo secrets.

use http::StatusCode;
use lambda_http::Request;

use crate::domain::signature::{self, SignatureError};
use crate::ApiError;

/// The header carrying `t=<unix>,v1=<hex hmac>`.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// Verifies the request's signature over the raw body.
pub fn verify_signed(req: &Request, body: &[u8], secrets: &[String], tolerance_secs: i64) -> Result<(), ApiError> {
    let now = crate::clock::now().unix_timestamp();
    signature::verify(crate::http::header(req, SIGNATURE_HEADER), body, secrets, now, tolerance_secs).map_err(|e| {
        match e {
            SignatureError::Missing | SignatureError::Malformed => {
                ApiError::bad_request("invalid_signature_header", format!("{e}; header {SIGNATURE_HEADER}"))
            }
            SignatureError::Expired(_) => ApiError::new(StatusCode::UNAUTHORIZED, "signature_expired", e.to_string()),
            SignatureError::Mismatch => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string()),
        }
    })
}
