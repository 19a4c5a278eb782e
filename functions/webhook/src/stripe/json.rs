//! Reading the few fields we need out of a Stripe JSON object, with 400s that name the
//! field (`data.object.amount_received must be an integer, got a string`). Every other
//! field is left alone: Stripe adds fields to its objects without notice.

use adapters::ApiError;
use referral_core::domain::money::MAX_AMOUNT;
use referral_core::domain::Usd;
use serde_json::{Map, Value};

/// A JSON object and where it sits in the event (for messages).
pub(super) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    /// The code of a missing or wrong-typed field's error.
    code: &'static str,
}

/// A JSON integer, exactly (serde_json keeps integers beyond `i64` as `u64`, and anything
/// with a fraction or an exponent as `f64`, which is never an amount).
fn integer(n: &serde_json::Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

/// A JSON value's kind, for messages (never its content: it may be anything).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a non-integer number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Fields<'a> {
    /// `value` must be an object; `path` names it in messages.
    pub fn of(value: &'a Value, path: impl Into<String>, code: &'static str) -> Result<Self, ApiError> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Self { path, map, code }),
            other => {
                let name = if path.is_empty() { "the body" } else { path.as_str() };
                Err(ApiError::bad_request(code, format!("{name} must be an object, got {}", kind(other))))
            }
        }
    }

    /// The same object, reporting missing or wrong-typed fields with `code`.
    pub fn with_code(self, code: &'static str) -> Self {
        Self { code, ..self }
    }

    /// `field`'s full name in messages (`data.object.amount`; the event's own fields are
    /// named bare: `created`).
    pub fn path(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.path)
        }
    }

    fn wrong(&self, field: &str, expected: &str, got: Option<&Value>) -> ApiError {
        let got = got.map_or("nothing (the field is missing)", kind);
        ApiError::bad_request(self.code, format!("{} must be {expected}, got {got}", self.path(field)))
    }

    /// The value of `field`, `None` when it is missing or `null`.
    fn present(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub fn object(&self, field: &str) -> Result<Fields<'a>, ApiError> {
        match self.map.get(field) {
            Some(v @ Value::Object(_)) => Fields::of(v, self.path(field), self.code),
            other => Err(self.wrong(field, "an object", other)),
        }
    }

    pub fn str(&self, field: &str) -> Result<&'a str, ApiError> {
        match self.map.get(field) {
            Some(Value::String(s)) => Ok(s),
            other => Err(self.wrong(field, "a string", other)),
        }
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<&'a str>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            other => Err(self.wrong(field, "a string or null", other)),
        }
    }

    pub fn bool(&self, field: &str) -> Result<bool, ApiError> {
        match self.map.get(field) {
            Some(Value::Bool(b)) => Ok(*b),
            other => Err(self.wrong(field, "a boolean", other)),
        }
    }

    /// An integer of any size JSON allows us to read exactly (beyond `i64` in either
    /// direction, it is still reported as out of range rather than as a wrong type).
    pub fn int(&self, field: &str) -> Result<i128, ApiError> {
        let value = self.map.get(field);
        value.and_then(Value::as_number).and_then(integer).ok_or_else(|| self.wrong(field, "an integer", value))
    }

    pub fn opt_int(&self, field: &str) -> Result<Option<i128>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(v) => v
                .as_number()
                .and_then(integer)
                .map(Some)
                .ok_or_else(|| self.wrong(field, "an integer or null", Some(v))),
        }
    }

    /// An expandable reference (`"pi_…"`, or the expanded object with its `id`), as Stripe's
    /// spec types them (`anyOf: [string, object]`); `None` when missing or `null`.
    pub fn expandable_id(&self, field: &str) -> Result<Option<&'a str>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v @ Value::Object(_)) => Fields::of(v, self.path(field), self.code)?.str("id").map(Some),
            other => Err(self.wrong(field, "an id string, an expanded object or null", other)),
        }
    }

    /// `metadata.<key>` as a non-empty string: `None` when there is no metadata, no such
    /// key, or an empty value (Stripe metadata values are strings; an empty one unsets it).
    pub fn metadata(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        let Some(metadata) = self.present("metadata") else { return Ok(None) };
        let metadata = Fields::of(metadata, self.path("metadata"), self.code)?;
        Ok(metadata.opt_str(key)?.filter(|v| !v.is_empty()))
    }

    /// `cents`, read from `field`, as a USD amount: Stripe's integer minor units (cents:
    /// USD is not a zero-decimal currency, docs.stripe.com/currencies) converted exactly,
    /// between 0 and the product's cap. Call only once the currency is known to be USD.
    pub fn usd(&self, field: &str, cents: i128) -> Result<Usd, ApiError> {
        let invalid = |why: String| ApiError::bad_request("invalid_amount", format!("{} {why}", self.path(field)));
        if cents < 0 {
            return Err(invalid(format!("must not be negative, got {cents}")));
        }
        let amount = i64::try_from(cents).map(Usd::cents).ok().filter(|a| a.decimal() <= MAX_AMOUNT);
        amount
            .ok_or_else(|| invalid(format!("= {cents} cents is above the largest amount we accept (USD {MAX_AMOUNT})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with<T>(v: Value, f: impl FnOnce(&Fields) -> T) -> T {
        f(&Fields::of(&v, "data.object", "invalid_field").unwrap())
    }

    #[test]
    fn names_the_field_and_the_kind_never_the_content() {
        let e = with(json!({"amount": "5000"}), |f| f.int("amount").unwrap_err());
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_field"));
        assert_eq!(e.message, "data.object.amount must be an integer, got a string");
        let e = with(json!({}), |f| f.str("currency").unwrap_err());
        assert_eq!(e.message, "data.object.currency must be a string, got nothing (the field is missing)");
        let e = with(json!({"amount": 50.0}), |f| f.int("amount").unwrap_err());
        assert_eq!(e.message, "data.object.amount must be an integer, got a non-integer number");
        let e = with(json!({"metadata": {"user_id": 7}}), |f| f.metadata("user_id").unwrap_err());
        assert_eq!(e.message, "data.object.metadata.user_id must be a string or null, got an integer");
    }

    #[test]
    fn amounts_are_exact_cents_within_bounds() {
        let usd = |n: Value| with(json!({ "amount": n }), |f| f.usd("amount", f.int("amount")?));
        assert_eq!(usd(json!(5000)).unwrap(), Usd::cents(5000));
        assert_eq!(usd(json!(5000)).unwrap().to_string(), "50.00");
        assert_eq!(usd(json!(1)).unwrap().to_string(), "0.01");
        assert_eq!(usd(json!(0)).unwrap(), Usd::ZERO);
        assert_eq!(usd(json!(100_000_000)).unwrap().to_string(), "1000000.00");
        for (bad, why) in [
            (json!(-1), "must not be negative, got -1"),
            (json!(100_000_001), "= 100000001 cents is above the largest amount we accept (USD 1000000.00)"),
            (json!(u64::MAX), "above the largest amount"),
            (json!(i64::MIN), "must not be negative"),
        ] {
            let e = usd(bad).unwrap_err();
            assert_eq!(e.code, "invalid_amount");
            assert!(e.message.starts_with("data.object.amount ") && e.message.contains(why), "{}", e.message);
        }
    }

    #[test]
    fn expandable_references_and_metadata() {
        let id = |v: Value| {
            with(json!({ "payment_intent": v }), |f| f.expandable_id("payment_intent").map(|o| o.map(str::to_string)))
        };
        assert_eq!(id(json!("pi_1")).unwrap().as_deref(), Some("pi_1"));
        assert_eq!(id(json!({"id": "pi_2", "object": "payment_intent"})).unwrap().as_deref(), Some("pi_2"));
        assert_eq!(id(Value::Null).unwrap(), None);
        assert_eq!(id(json!(12)).unwrap_err().code, "invalid_field");
        assert_eq!(
            id(json!({"object": "payment_intent"})).unwrap_err().message,
            "data.object.payment_intent.id must be a string, got nothing (the field is missing)"
        );
        let meta = |v: Value| with(json!({ "metadata": v }), |f| f.metadata("user_id").map(|o| o.map(str::to_string)));
        assert_eq!(meta(json!({"user_id": "u_1", "other": 5})).unwrap().as_deref(), Some("u_1"));
        assert_eq!(meta(json!({"user_id": ""})).unwrap(), None);
        assert_eq!(meta(json!({})).unwrap(), None);
        assert_eq!(meta(Value::Null).unwrap(), None);
        assert_eq!(meta(json!(["u_1"])).unwrap_err().code, "invalid_field");
    }
}
