//! The in-memory book: balances per account, applied transactions and idempotency records.
//! `Ledger::apply` does the idempotency check and the balance change in one step, so the
//! caller holding the ledger's mutex gets exactly-once semantics per key.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::format_money;

/// Direction of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Credit,
    Debit,
}

impl Kind {
    /// `"credit"` or `"debit"`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Debit => "debit",
        }
    }
}

/// One applied transaction, as listed by `GET /__stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transaction {
    pub transaction_id: String,
    pub account_id: String,
    pub kind: Kind,
    /// Two-decimal string, e.g. `"2.50"`.
    pub amount: String,
    pub idempotency_key: String,
}

/// Counters and transactions, as returned by `GET /__stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub credits_applied: u64,
    pub debits_applied: u64,
    /// Every `/v1` request received, including replays, rejected and faulted ones.
    pub requests: u64,
    pub transactions: Vec<Transaction>,
}

/// Response body of a credit or debit (also replayed verbatim for a repeated key).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct TransferBody {
    pub transaction_id: String,
    pub account_id: String,
    pub kind: Kind,
    pub amount: String,
    pub balance: String,
}

/// What `Ledger::apply` did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// New transaction: respond 201.
    Applied(TransferBody),
    /// Same key, same request: respond 200 with the original body, nothing changed.
    Replayed(TransferBody),
}

/// Why `Ledger::apply` refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LedgerError {
    /// The key was already used for a different kind, account or amount.
    IdempotencyConflict,
    /// The new balance would not fit in a `Decimal`.
    Overflow,
}

/// A transfer to apply.
pub(crate) struct TransferRequest<'a> {
    pub kind: Kind,
    pub account_id: &'a str,
    pub amount: Decimal,
    pub idempotency_key: &'a str,
}

struct IdempotencyRecord {
    kind: Kind,
    account_id: String,
    amount: Decimal,
    response: TransferBody,
}

#[derive(Default)]
pub(crate) struct Ledger {
    balances: HashMap<String, Decimal>,
    transactions: Vec<Transaction>,
    idempotency: HashMap<String, IdempotencyRecord>,
    credits_applied: u64,
    debits_applied: u64,
    /// Last transaction number handed out; survives `reset` so ids are never reused.
    last_transaction_number: u64,
}

impl Ledger {
    /// Applies the transfer once per idempotency key; replays or refuses repeats.
    pub(crate) fn apply(&mut self, request: &TransferRequest<'_>) -> Result<Outcome, LedgerError> {
        if let Some(record) = self.idempotency.get(request.idempotency_key) {
            let same = record.kind == request.kind
                && record.account_id == request.account_id
                && record.amount == request.amount;
            return if same {
                Ok(Outcome::Replayed(record.response.clone()))
            } else {
                Err(LedgerError::IdempotencyConflict)
            };
        }

        let current = self.balance(request.account_id);
        let new_balance = match request.kind {
            Kind::Credit => current.checked_add(request.amount),
            Kind::Debit => current.checked_sub(request.amount),
        }
        .ok_or(LedgerError::Overflow)?;

        self.last_transaction_number += 1;
        let transaction_id = format!("wf_tx_{}", self.last_transaction_number);
        let amount = format_money(request.amount);
        let response = TransferBody {
            transaction_id: transaction_id.clone(),
            account_id: request.account_id.to_owned(),
            kind: request.kind,
            amount: amount.clone(),
            balance: format_money(new_balance),
        };

        self.balances.insert(request.account_id.to_owned(), new_balance);
        match request.kind {
            Kind::Credit => self.credits_applied += 1,
            Kind::Debit => self.debits_applied += 1,
        }
        self.transactions.push(Transaction {
            transaction_id,
            account_id: request.account_id.to_owned(),
            kind: request.kind,
            amount,
            idempotency_key: request.idempotency_key.to_owned(),
        });
        self.idempotency.insert(
            request.idempotency_key.to_owned(),
            IdempotencyRecord {
                kind: request.kind,
                account_id: request.account_id.to_owned(),
                amount: request.amount,
                response: response.clone(),
            },
        );
        Ok(Outcome::Applied(response))
    }

    /// Current balance; unknown accounts have 0.
    pub(crate) fn balance(&self, account_id: &str) -> Decimal {
        self.balances.get(account_id).copied().unwrap_or(Decimal::ZERO)
    }

    /// Snapshot of counters and transactions (`requests` is filled in by the caller).
    pub(crate) fn stats(&self, requests: u64) -> Stats {
        Stats {
            credits_applied: self.credits_applied,
            debits_applied: self.debits_applied,
            requests,
            transactions: self.transactions.clone(),
        }
    }

    /// Forgets balances, transactions and idempotency keys (transaction numbering continues).
    pub(crate) fn reset(&mut self) {
        *self = Self { last_transaction_number: self.last_transaction_number, ..Self::default() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit<'a>(account_id: &'a str, cents: i64, key: &'a str) -> TransferRequest<'a> {
        TransferRequest { kind: Kind::Credit, account_id, amount: Decimal::new(cents, 2), idempotency_key: key }
    }

    #[test]
    fn applies_once_and_replays() {
        let mut ledger = Ledger::default();
        let Ok(Outcome::Applied(first)) = ledger.apply(&credit("acc", 250, "k1")) else { panic!("not applied") };
        assert_eq!((first.transaction_id.as_str(), first.balance.as_str()), ("wf_tx_1", "2.50"));
        let Ok(Outcome::Replayed(again)) = ledger.apply(&credit("acc", 250, "k1")) else { panic!("not replayed") };
        assert_eq!(again.transaction_id, "wf_tx_1");
        assert_eq!(ledger.balance("acc"), Decimal::new(250, 2));
    }

    #[test]
    fn same_key_different_request_conflicts() {
        let mut ledger = Ledger::default();
        ledger.apply(&credit("acc", 250, "k1")).unwrap();
        assert_eq!(ledger.apply(&credit("acc", 300, "k1")).unwrap_err(), LedgerError::IdempotencyConflict);
        assert_eq!(ledger.apply(&credit("other", 250, "k1")).unwrap_err(), LedgerError::IdempotencyConflict);
        let debit = TransferRequest { kind: Kind::Debit, ..credit("acc", 250, "k1") };
        assert_eq!(ledger.apply(&debit).unwrap_err(), LedgerError::IdempotencyConflict);
    }

    #[test]
    fn debit_can_go_negative_and_reset_keeps_numbering() {
        let mut ledger = Ledger::default();
        let debit = TransferRequest { kind: Kind::Debit, ..credit("acc", 100, "k1") };
        let Ok(Outcome::Applied(body)) = ledger.apply(&debit) else { panic!("not applied") };
        assert_eq!(body.balance, "-1.00");
        ledger.reset();
        assert_eq!(ledger.balance("acc"), Decimal::ZERO);
        assert_eq!(ledger.stats(0), Stats::default());
        let Ok(Outcome::Applied(body)) = ledger.apply(&debit) else { panic!("key not forgotten") };
        assert_eq!(body.transaction_id, "wf_tx_2");
    }
}
