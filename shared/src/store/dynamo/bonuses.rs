//! Bonus rows on DynamoDB: idempotent creation and conditional status transitions.
