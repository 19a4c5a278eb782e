//! The in-memory book: balances per account, applied transactions and idempotency records.
//! `Ledger::apply` does the idempotency check and the balance change in one step, so the
//! caller holding the ledger's mutex gets exactly-once semantics per key. `Ledger::list` is
//! the account's transaction listing; `Ledger::edit` changes the book behind the API's back
//! (the `/__ledger` test control: a manual adjustment, a lost or altered transaction).

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::money::{format_money, parse_amount};

/// Direction of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Empty for a transaction booked without a key (`/__ledger` insert without one).
    pub idempotency_key: String,
    /// When it was applied (RFC 3339, milliseconds, UTC).
    pub created_at: String,
}

/// A change of the book behind the API's back (`POST /__ledger`, [`crate::FakeWellflow::edit`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum LedgerEdit {
    /// Books a transaction directly, like a manual adjustment in Wellflow's console or a
    /// request applied late. With a key, the key is taken (a later request with it replays).
    Insert {
        account_id: String,
        kind: Kind,
        amount: String,
        #[serde(default)]
        idempotency_key: Option<String>,
        /// RFC 3339; default now.
        #[serde(default)]
        created_at: Option<String>,
    },
    /// The transaction with this key disappears from the book (its amount leaves the
    /// balance). `forget_key` (default true): the key is forgotten too, so a request with it is
    /// applied anew; false: it is still answered as a replay of the vanished transaction.
    Remove {
        idempotency_key: String,
        #[serde(default = "yes")]
        forget_key: bool,
    },
    /// The transaction with this key now has another amount (the balance follows).
    SetAmount { idempotency_key: String, amount: String },
}

fn yes() -> bool {
    true
}

/// Why an edit was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum EditError {
    /// No transaction with that key.
    NotFound,
    /// The key is already taken (insert).
    KeyInUse,
    Invalid(String),
}

/// One page of an account's transactions (`GET /v1/accounts/{id}/transactions`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ListPage {
    pub account_id: String,
    pub transactions: Vec<ListedTransaction>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct ListedTransaction {
    pub transaction_id: String,
    pub kind: Kind,
    pub amount: String,
    pub idempotency_key: Option<String>,
    pub created_at: String,
}

/// RFC 3339 with milliseconds, UTC (`2026-11-25T09:00:00.123Z`).
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let base = at.replace_nanosecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_default();
    format!("{}.{:03}Z", base.trim_end_matches('Z'), at.millisecond())
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

/// A transaction in the book, with what ordering and edits need.
#[derive(Clone, Debug)]
struct Booked {
    tx: Transaction,
    number: u64,
    at: OffsetDateTime,
    amount: Decimal,
}

impl Booked {
    fn signed(&self) -> Decimal {
        match self.tx.kind {
            Kind::Credit => self.amount,
            Kind::Debit => -self.amount,
        }
    }

    fn listed(&self) -> ListedTransaction {
        ListedTransaction {
            transaction_id: self.tx.transaction_id.clone(),
            kind: self.tx.kind,
            amount: self.tx.amount.clone(),
            idempotency_key: Some(self.tx.idempotency_key.clone()).filter(|k| !k.is_empty()),
            created_at: self.tx.created_at.clone(),
        }
    }

    /// The listing's order: time, then transaction number; also the cursor.
    fn position(&self) -> (i128, u64) {
        (self.at.unix_timestamp_nanos(), self.number)
    }
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
    transactions: Vec<Booked>,
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
        let at = OffsetDateTime::now_utc();
        self.transactions.push(Booked {
            tx: Transaction {
                transaction_id,
                account_id: request.account_id.to_owned(),
                kind: request.kind,
                amount,
                idempotency_key: request.idempotency_key.to_owned(),
                created_at: timestamp(at),
            },
            number: self.last_transaction_number,
            at,
            amount: request.amount,
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
            transactions: self.transactions.iter().map(|b| b.tx.clone()).collect(),
        }
    }

    /// The account's transactions with `from <= created_at < to`, oldest first (ties by
    /// number), `limit` a page after `cursor` (the previous page's `next_cursor`).
    pub(crate) fn list(
        &self,
        account_id: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: usize,
        cursor: Option<(i128, u64)>,
    ) -> ListPage {
        let mut matching: Vec<&Booked> = self
            .transactions
            .iter()
            .filter(|b| b.tx.account_id == account_id && b.at >= from && b.at < to)
            .filter(|b| cursor.is_none_or(|after| b.position() > after))
            .collect();
        matching.sort_by_key(|b| b.position());
        let more = matching.len() > limit;
        matching.truncate(limit);
        let next_cursor = match matching.last() {
            Some(last) if more => Some(format!("{}.{}", last.position().0, last.position().1)),
            _ => None,
        };
        ListPage {
            account_id: account_id.to_owned(),
            transactions: matching.iter().map(|b| b.listed()).collect(),
            next_cursor,
        }
    }

    /// Changes the book behind the API's back; returns the transaction as it is now (removed:
    /// as it was).
    pub(crate) fn edit(&mut self, edit: &LedgerEdit) -> Result<Transaction, EditError> {
        match edit {
            LedgerEdit::Insert { account_id, kind, amount, idempotency_key, created_at } => {
                let amount = parse_amount(amount).map_err(|m| EditError::Invalid(m.to_string()))?;
                let at = match created_at {
                    Some(raw) => OffsetDateTime::parse(raw, &Rfc3339)
                        .map_err(|e| EditError::Invalid(format!("created_at: {e}")))?,
                    None => OffsetDateTime::now_utc(),
                };
                let key = idempotency_key.clone().unwrap_or_default();
                if !key.is_empty() && self.idempotency.contains_key(&key) {
                    return Err(EditError::KeyInUse);
                }
                self.last_transaction_number += 1;
                let booked = Booked {
                    tx: Transaction {
                        transaction_id: format!("wf_tx_{}", self.last_transaction_number),
                        account_id: account_id.clone(),
                        kind: *kind,
                        amount: format_money(amount),
                        idempotency_key: key.clone(),
                        created_at: timestamp(at),
                    },
                    number: self.last_transaction_number,
                    at,
                    amount,
                };
                *self.balances.entry(account_id.clone()).or_default() += booked.signed();
                if !key.is_empty() {
                    let balance = format_money(self.balance(account_id));
                    self.idempotency.insert(
                        key,
                        IdempotencyRecord {
                            kind: *kind,
                            account_id: account_id.clone(),
                            amount,
                            response: TransferBody {
                                transaction_id: booked.tx.transaction_id.clone(),
                                account_id: account_id.clone(),
                                kind: *kind,
                                amount: booked.tx.amount.clone(),
                                balance,
                            },
                        },
                    );
                }
                let tx = booked.tx.clone();
                self.transactions.push(booked);
                Ok(tx)
            }
            LedgerEdit::Remove { idempotency_key, forget_key } => {
                let index = self.index_of(idempotency_key)?;
                let booked = self.transactions.remove(index);
                *self.balances.entry(booked.tx.account_id.clone()).or_default() -= booked.signed();
                if *forget_key {
                    self.idempotency.remove(idempotency_key);
                }
                Ok(booked.tx)
            }
            LedgerEdit::SetAmount { idempotency_key, amount } => {
                let amount = parse_amount(amount).map_err(|m| EditError::Invalid(m.to_string()))?;
                let index = self.index_of(idempotency_key)?;
                let before = self.transactions[index].signed();
                let booked = &mut self.transactions[index];
                booked.amount = amount;
                booked.tx.amount = format_money(amount);
                let (account, delta, tx) = (booked.tx.account_id.clone(), booked.signed() - before, booked.tx.clone());
                *self.balances.entry(account).or_default() += delta;
                if let Some(record) = self.idempotency.get_mut(idempotency_key) {
                    record.amount = amount;
                    record.response.amount = tx.amount.clone();
                }
                Ok(tx)
            }
        }
    }

    fn index_of(&self, key: &str) -> Result<usize, EditError> {
        self.transactions.iter().position(|b| !key.is_empty() && b.tx.idempotency_key == key).ok_or(EditError::NotFound)
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
