//! Storage on DynamoDB: the store ports of `referral_core::store` (re-exported here) and
//! their single-table implementation.

pub use referral_core::store::*;

pub mod cursor;
pub mod dynamo;
pub mod keys;

pub use dynamo::DynamoStore;
