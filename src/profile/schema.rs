//! The profile's JSON Schema as a static value: `docs/profile.schema.json`, turned into Rust by
//! `build.rs`, so a run walks it without parsing it (parsing it was a third of loading a profile).
//! Objects keep the file's key order.

/// A JSON value of the schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Schema {
    Null,
    Bool(bool),
    /// A number JSON reads as a non-negative integer.
    UInt(u64),
    /// A negative integer (`build.rs` writes one when the schema holds one; today it does not).
    #[allow(dead_code)]
    Int(i64),
    /// Any other number (as `Int`).
    #[allow(dead_code)]
    Float(f64),
    String(&'static str),
    Array(&'static [Schema]),
    Object(&'static [(&'static str, Schema)]),
}

include!(concat!(env!("OUT_DIR"), "/profile_schema.rs"));

impl Schema {
    /// The value of `key`, when this is an object that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&'static Schema> {
        self.as_object()?.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub(crate) fn as_object(&self) -> Option<&'static [(&'static str, Schema)]> {
        if let Schema::Object(fields) = *self { Some(fields) } else { None }
    }

    pub(crate) fn as_array(&self) -> Option<&'static [Schema]> {
        if let Schema::Array(items) = *self { Some(items) } else { None }
    }

    pub(crate) fn as_str(&self) -> Option<&'static str> {
        if let Schema::String(s) = *self { Some(s) } else { None }
    }

    #[allow(clippy::cast_precision_loss)] // as serde_json's `as_f64`
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Schema::UInt(u) => Some(u as f64),
            Schema::Int(i) => Some(i as f64),
            Schema::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The same value as JSON (for messages and tests).
    pub(crate) fn to_json(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Schema::Null => Value::Null,
            Schema::Bool(b) => Value::Bool(b),
            Schema::UInt(u) => Value::from(u),
            Schema::Int(i) => Value::from(i),
            Schema::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Schema::String(s) => Value::from(s),
            Schema::Array(items) => Value::Array(items.iter().map(|i| i.to_json()).collect()),
            Schema::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), v.to_json())).collect())
            }
        }
    }

    /// Whether `value` is this value, as serde_json compares (`1` is not `1.0`).
    pub(crate) fn equals(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (*self, value) {
            (Schema::Null, Value::Null) => true,
            (Schema::Bool(a), Value::Bool(b)) => a == *b,
            (Schema::UInt(a), Value::Number(n)) => n.as_u64() == Some(a),
            (Schema::Int(a), Value::Number(n)) => !n.is_u64() && n.as_i64() == Some(a),
            (Schema::Float(a), Value::Number(n)) => n.is_f64() && n.as_f64() == Some(a),
            (Schema::String(a), Value::String(b)) => a == b,
            (Schema::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y)),
            (Schema::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(*k).is_some_and(|w| v.equals(w)))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_committed_schema() {
        let committed: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/profile.schema.json")).expect("docs/profile.schema.json");
        assert_eq!(PROFILE_SCHEMA.to_json(), committed);
        assert!(PROFILE_SCHEMA.equals(&committed));
        let keys: Vec<&str> = PROFILE_SCHEMA.as_object().unwrap().iter().map(|(k, _)| *k).collect();
        let order: Vec<&str> = committed.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, order, "key order");
    }

    #[test]
    fn values_compare_as_serde_json_compares_them() {
        use serde_json::json;
        assert!(Schema::UInt(1).equals(&json!(1)));
        assert!(!Schema::UInt(1).equals(&json!(1.0)));
        assert!(Schema::Int(-2).equals(&json!(-2)));
        assert!(Schema::Float(0.5).equals(&json!(0.5)));
        assert!(Schema::String("a").equals(&json!("a")));
        assert!(!Schema::String("a").equals(&json!(["a"])));
        assert!(Schema::Array(&[Schema::Bool(true), Schema::Null]).equals(&json!([true, null])));
        assert!(Schema::Object(&[("k", Schema::UInt(3))]).equals(&json!({"k": 3})));
        assert!(!Schema::Object(&[("k", Schema::UInt(3))]).equals(&json!({"k": 3, "j": 1})));
        assert_eq!(Schema::Int(-2).as_f64(), Some(-2.0));
    }
}
