//! A Stripe snapshot event (already signature-checked) → [`StripeOutcome`].
//!
//! The Stripe facts this relies on, and where they come from:
//! - **Event envelope** (API reference, "The Event object"; `event` in stripe/openapi
//!   `openapi/fixtures3.json`): `id` (`evt_…`), `object: "event"`, `type`, `created`
//!   (unix seconds), `livemode`, `data.object` (the object as it was when the event
//!   happened), plus `api_version`, `pending_webhooks`, `request`, and
//!   `data.previous_attributes` on updates, which we do not need. Thin event notifications
//!   (`object: "v2.core.event"`) carry no object and are refused; stripe-python refuses
//!   them in `construct_event` too (`build_v1_event`).
//! - **Amounts** are integers in the currency's smallest unit ("A positive integer
//!   representing how much to charge in the smallest currency unit (e.g., 100 cents to
//!   charge $1.00 …)", docs.stripe.com/currencies#zero-decimal). USD has two decimals, so
//!   `5000` is exactly USD 50.00 (`Usd::cents`); zero-decimal currencies (JPY, …) never
//!   reach the conversion because only `usd` is accepted. `currency` is a "three-letter
//!   ISO currency code, in lowercase": compared case-insensitively all the same.
//! - **PaymentIntent**: `amount_received` is "Amount that this PaymentIntent collects"
//!   (what was actually captured, which `amount` is not for a partial capture).
//! - **Checkout Session**: `mode` is `payment` | `setup` | `subscription`;
//!   `payment_status` is `paid` | `unpaid` | `no_payment_required`; with a delayed payment
//!   method `checkout.session.completed` arrives `unpaid` and
//!   `checkout.session.async_payment_succeeded` follows once paid (docs.stripe.com/checkout/
//!   fulfillment, "immediate versus delayed payment methods": check `payment_status` on
//!   both); `amount_total`, `currency` and `payment_intent` are nullable (a setup session
//!   has none); `client_reference_id` is the merchant's own reference, `metadata` the
//!   session's own (**not** copied to the PaymentIntent: that takes
//!   `payment_intent_data.metadata`).
//! - **Charge**: `amount_refunded` is "Amount in cents refunded (can be less than the
//!   amount attribute on the charge if a partial refund was issued)": the running total,
//!   so a re-delivered or reordered `charge.refunded` is harmless; `payment_intent` is
//!   "ID of the PaymentIntent associated with this charge, if one exists" (null for legacy
//!   Charges API payments). When a PaymentIntent is confirmed Stripe copies its metadata to
//!   the Charge it creates, once (support.stripe.com/questions/how-metadata-works-with-
//!   related-objects): a refund usually names the user, but need not.
//! - **Dispute**: `amount` is the "disputed amount. Usually the amount of the charge, but
//!   it can differ (… only part of the order is disputed)"; `payment_intent` ("ID of the
//!   PaymentIntent that's disputed", nullable) and `charge`; its `metadata` is its own (PI
//!   metadata is not copied to disputes). `status` is one of `warning_needs_response`,
//!   `warning_under_review`, `warning_closed` (inquiries: no funds withdrawn,
//!   stripe.com/docs/disputes "Inquiries and retrievals"), `needs_response`,
//!   `under_review`, `won`, `lost`, `prevented` (stopped before a chargeback was filed,
//!   e.g. Visa RDR, which refunds the payment instead).
//! - **Expandable references** (`payment_intent`, `charge`) are ids in webhook payloads;
//!   the spec types them `anyOf: [string, object]`, so an expanded object's `id` is read too.
//! - Stripe adds fields to objects without a new API version: every field we do not read
//!   is ignored, whatever its type.

use adapters::ApiError;
use referral_core::clock;
use referral_core::domain::{PaymentId, UserId};
use referral_core::payment::{PaymentEvent, PaymentEventKind};
use serde_json::Value;
use time::OffsetDateTime;

use super::json::Fields;
use super::{reason, StripeConfig, StripeOutcome, MAX_BODY_BYTES};

/// The body is not a Stripe event at all (no `id`/`type`/`created`/`livemode`/`data.object`).
const INVALID_EVENT: &str = "invalid_stripe_event";
/// A handled event's object lacks a field we need, or has it with the wrong type.
const INVALID_FIELD: &str = "invalid_field";

/// Stripe object ids are at most 255 characters (and in practice under 70).
const MAX_STRIPE_ID_LEN: usize = 255;

/// What the event's object says, before the envelope's id and time are attached.
enum Mapped {
    Fact { payment_id: PaymentId, user_id: Option<UserId>, kind: PaymentEventKind },
    Ignore(&'static str),
}

use Mapped::Ignore;

/// Parses a signature-checked Stripe event body.
///
/// `Ok(Event)` for a fact about a payment, `Ok(Ignored)` for a well-formed event that
/// changes nothing (answer 200), `Err` (400 with a code and a message naming the field, or
/// 413 above [`MAX_BODY_BYTES`]) for a body that is not a Stripe event or a handled event
/// with a wrong-typed field or an impossible amount. Never panics, whatever the bytes.
pub fn parse(body: &[u8], cfg: &StripeConfig) -> Result<StripeOutcome, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let value: Value = adapters::http::parse_json(body)?;
    let event = Envelope::read(&value)?;
    // A test-mode event on the live endpoint (or the reverse) is not ours to act on,
    // whatever it says: checked before its object is even read.
    let mapped = if event.livemode != cfg.livemode {
        Ignore(reason::LIVEMODE_MISMATCH)
    } else {
        let object = &event.object;
        match event.event_type {
            "payment_intent.succeeded" => payment_intent_succeeded(object, cfg)?,
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                checkout_session_paid(object, cfg)?
            }
            "charge.refunded" => charge_refunded(object, cfg)?,
            "charge.dispute.created" => dispute_created(object, cfg)?,
            "charge.dispute.closed" => dispute_closed(object, cfg)?,
            _ => Ignore(reason::UNHANDLED_EVENT_TYPE),
        }
    };
    Ok(match mapped {
        Mapped::Fact { payment_id, user_id, kind } => StripeOutcome::Event(PaymentEvent {
            payment_id,
            user_id,
            kind,
            occurred_at: event.occurred_at,
            provider_event_id: Some(event.id.to_string()),
        }),
        Ignore(reason) => {
            StripeOutcome::Ignored { reason, event_id: event.id.to_string(), event_type: event.event_type.to_string() }
        }
    })
}

/// The event's own fields.
struct Envelope<'a> {
    id: &'a str,
    event_type: &'a str,
    occurred_at: String,
    livemode: bool,
    object: Fields<'a>,
}

impl<'a> Envelope<'a> {
    fn read(value: &'a Value) -> Result<Self, ApiError> {
        let top = Fields::of(value, "", INVALID_EVENT)?;
        match top.str("object")? {
            "event" => {}
            "v2.core.event" => {
                return Err(ApiError::bad_request(
                    INVALID_EVENT,
                    "thin event notifications are not supported: send snapshot events (a webhook endpoint with the \
                     events listed in docs/connect-stripe.md)",
                ))
            }
            other => {
                return Err(ApiError::bad_request(
                    INVALID_EVENT,
                    format!("object must be \"event\", got {:?}", truncated(other)),
                ))
            }
        }
        let id = top.str("id")?;
        if !id.starts_with("evt_") || !is_stripe_token(id, MAX_STRIPE_ID_LEN) {
            return Err(ApiError::bad_request(
                "invalid_event_id",
                "id must be a Stripe event id (evt_ and letters, digits, _)",
            ));
        }
        let event_type = top.str("type")?;
        if !is_event_type(event_type) {
            return Err(ApiError::bad_request(
                INVALID_EVENT,
                "type must be a Stripe event type such as charge.refunded",
            ));
        }
        let created = top.int("created")?;
        let occurred = i64::try_from(created)
            .ok()
            .filter(|t| *t > 0)
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .ok_or_else(|| ApiError::bad_request(INVALID_EVENT, "created must be a unix timestamp in seconds"))?;
        let livemode = top.bool("livemode")?;
        let object = top.object("data")?.object("object")?.with_code(INVALID_FIELD);
        let occurred_at = referral_core::payment::event::checked_time(occurred, clock::now())
            .map_err(|e| ApiError::bad_request(INVALID_EVENT, format!("created: {e}")))?;
        Ok(Self { id, event_type, occurred_at, livemode, object })
    }
}

/// Letters, digits and `_` (Stripe ids), 1 to `max` characters.
fn is_stripe_token(raw: &str, max: usize) -> bool {
    !raw.is_empty() && raw.len() <= max && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `charge.dispute.closed`, `v1.billing.meter.no_meter_found`: dotted lowercase words.
fn is_event_type(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 128
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

fn truncated(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// `data.object.object` must be the object the event type carries (a `charge.refunded`
/// carrying a dispute is not a refund).
fn expect_object(o: &Fields, expected: &str) -> Result<(), ApiError> {
    let got = o.str("object")?;
    if got == expected {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            INVALID_FIELD,
            format!("{} must be {expected:?} for this event type, got {:?}", o.path("object"), truncated(got)),
        ))
    }
}

fn is_usd(currency: &str) -> bool {
    currency.eq_ignore_ascii_case("usd")
}

/// The PaymentIntent referenced by `field` (a plain id, or an expanded object), if any.
fn payment_intent(o: &Fields, field: &str) -> Result<Option<PaymentId>, ApiError> {
    o.expandable_id(field)?.map(|raw| payment_intent_id(o, field, raw)).transpose()
}

/// A PaymentIntent id (`pi_…`): our payment id, the one every event about the payment shares.
fn payment_intent_id(o: &Fields, field: &str, raw: &str) -> Result<PaymentId, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_payment_intent",
            format!("{} must be a PaymentIntent id (pi_ and letters, digits, _)", o.path(field)),
        )
    };
    if !raw.starts_with("pi_") || !is_stripe_token(raw, MAX_STRIPE_ID_LEN) {
        return Err(invalid());
    }
    PaymentId::parse(raw).map_err(|_| invalid())
}

/// The paying user of a success: `metadata.<key>`, else (Checkout Sessions only)
/// `client_reference_id`. A value that is not a valid user id is a 400: the integration
/// puts something else there, and the merchant must see it in Stripe's delivery log.
fn success_user(o: &Fields, cfg: &StripeConfig, client_reference: bool) -> Result<Option<UserId>, ApiError> {
    let key = cfg.user_id_metadata_key.as_str();
    let (field, raw) = match o.metadata(key)? {
        Some(raw) => (format!("{}.{key}", o.path("metadata")), raw),
        None if client_reference => match o.opt_str("client_reference_id")?.filter(|v| !v.is_empty()) {
            Some(raw) => (o.path("client_reference_id"), raw),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    UserId::parse(raw)
        .map(Some)
        .map_err(|e| ApiError::bad_request("invalid_user_id", format!("{field} is not a valid user id: {e}")))
}

/// The user named on a refund or a dispute, if any. Only a hint (the payment id decides):
/// an unusable value is dropped rather than refusing an event that takes money back.
fn hinted_user(o: &Fields, cfg: &StripeConfig) -> Result<Option<UserId>, ApiError> {
    Ok(o.metadata(&cfg.user_id_metadata_key)?.and_then(|raw| UserId::parse(raw).ok()))
}

/// `payment_intent.succeeded`: the PaymentIntent was paid; the amount is `amount_received`.
fn payment_intent_succeeded(o: &Fields, cfg: &StripeConfig) -> Result<Mapped, ApiError> {
    expect_object(o, "payment_intent")?;
    let payment_id = payment_intent_id(o, "id", o.str("id")?)?;
    let cents = o.int("amount_received")?;
    let currency = o.str("currency")?;
    let user_id = success_user(o, cfg, false)?;
    if !is_usd(currency) {
        return Ok(Ignore(reason::UNSUPPORTED_CURRENCY));
    }
    succeeded(payment_id, user_id, o.usd("amount_received", cents)?)
}

/// `checkout.session.completed` / `checkout.session.async_payment_succeeded`: a one-off
/// payment (`mode: payment`) that is `paid`; the amount is `amount_total`.
fn checkout_session_paid(o: &Fields, cfg: &StripeConfig) -> Result<Mapped, ApiError> {
    expect_object(o, "checkout.session")?;
    let mode = o.str("mode")?;
    let payment_status = o.str("payment_status")?;
    let payment_id = payment_intent(o, "payment_intent")?;
    let cents = o.opt_int("amount_total")?;
    let currency = o.opt_str("currency")?;
    let user_id = success_user(o, cfg, true)?;
    if mode != "payment" {
        return Ok(Ignore(reason::NOT_PAYMENT_MODE));
    }
    if payment_status != "paid" {
        return Ok(Ignore(reason::SESSION_NOT_PAID));
    }
    // A paid payment-mode session has both; null here is a broken object, not "not yet".
    let currency = currency.map_or_else(|| o.str("currency"), Ok)?;
    if !is_usd(currency) {
        return Ok(Ignore(reason::UNSUPPORTED_CURRENCY));
    }
    let cents = cents.map_or_else(|| o.int("amount_total"), Ok)?;
    let Some(payment_id) = payment_id else { return Ok(Ignore(reason::NO_PAYMENT_INTENT)) };
    succeeded(payment_id, user_id, o.usd("amount_total", cents)?)
}

fn succeeded(
    payment_id: PaymentId,
    user_id: Option<UserId>,
    amount: referral_core::domain::Usd,
) -> Result<Mapped, ApiError> {
    if amount.is_zero() {
        return Ok(Ignore(reason::ZERO_AMOUNT));
    }
    let Some(user_id) = user_id else { return Ok(Ignore(reason::NO_USER_ID)) };
    Ok(Mapped::Fact { payment_id, user_id: Some(user_id), kind: PaymentEventKind::Succeeded { amount } })
}

/// `charge.refunded`: the Charge's cumulative `amount_refunded`, for its PaymentIntent.
fn charge_refunded(o: &Fields, cfg: &StripeConfig) -> Result<Mapped, ApiError> {
    expect_object(o, "charge")?;
    let cents = o.int("amount_refunded")?;
    about_a_payment(o, cfg, || Ok(Ok(PaymentEventKind::Refunded { total: o.usd("amount_refunded", cents)? })))
}

/// `charge.dispute.created`: `amount` is held back until the dispute is decided. Opened
/// inquiries (`warning_*`) count too: we do not follow `charge.dispute.updated`, so an
/// inquiry that escalates into a chargeback must already be held.
fn dispute_created(o: &Fields, cfg: &StripeConfig) -> Result<Mapped, ApiError> {
    expect_object(o, "dispute")?;
    let cents = o.int("amount")?;
    about_a_payment(o, cfg, || Ok(Ok(PaymentEventKind::Disputed { amount: o.usd("amount", cents)? })))
}

/// `charge.dispute.closed`: `won` gives the held amount back; so do `warning_closed` (an
/// inquiry that ended without a chargeback: no funds were ever withdrawn) and `prevented`
/// (no chargeback was filed; the refund that prevented it arrives as `charge.refunded`).
/// `lost` keeps `amount` reversed (also when the closing arrives before the opening).
fn dispute_closed(o: &Fields, cfg: &StripeConfig) -> Result<Mapped, ApiError> {
    expect_object(o, "dispute")?;
    let status = o.str("status")?;
    about_a_payment(o, cfg, || {
        Ok(match status {
            "won" | "warning_closed" | "prevented" => Ok(PaymentEventKind::DisputeWon),
            "lost" => {
                let cents = o.int("amount")?;
                Ok(PaymentEventKind::DisputeLost { amount: o.usd("amount", cents)? })
            }
            _ => Err(reason::DISPUTE_NOT_CLOSED),
        })
    })
}

/// What refunds and disputes share: they are about the payment of their `payment_intent`
/// (a Charge's or a Dispute's; `charge` would need a lookup to reach it), in USD, and name
/// the user only as a hint. `kind` is asked for the fact once the event is known to be
/// ours, and may still decline with a reason.
fn about_a_payment(
    o: &Fields,
    cfg: &StripeConfig,
    kind: impl FnOnce() -> Result<Result<PaymentEventKind, &'static str>, ApiError>,
) -> Result<Mapped, ApiError> {
    let payment_id = payment_intent(o, "payment_intent")?;
    let currency = o.str("currency")?;
    let user_id = hinted_user(o, cfg)?;
    if !is_usd(currency) {
        return Ok(Ignore(reason::UNSUPPORTED_CURRENCY));
    }
    let Some(payment_id) = payment_id else { return Ok(Ignore(reason::NO_PAYMENT_INTENT)) };
    Ok(match kind()? {
        Ok(kind) => Mapped::Fact { payment_id, user_id, kind },
        Err(reason) => Ignore(reason),
    })
}
