//! The value of a `Kind::Object` column: a JSON object of the measures a source publishes
//! beside a table's declared columns, keyed by their published names in the file's order.

use std::fmt::Write;

use super::load::{Encoder, Field, FieldType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonObject(String);

impl JsonObject {
    pub fn builder() -> ObjectBuilder {
        ObjectBuilder {
            text: String::from("{"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Field for JsonObject {
    const TYPE: FieldType = FieldType::Object;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.text(&self.0);
    }
}

/// Writes an object's members one at a time, in the order given; the caller gives each key once.
pub struct ObjectBuilder {
    text: String,
}

impl ObjectBuilder {
    fn key(&mut self, key: &str) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        self.text
            .push_str(&serde_json::to_string(key).expect("a string serialises"));
        self.text.push(':');
    }

    /// A number; integral values are written without a fraction, non-finite ones as null.
    pub fn number(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        self.key(key);
        match value {
            Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 => {
                let _ = write!(self.text, "{}", v as i64);
            }
            Some(v) if v.is_finite() => {
                let _ = write!(self.text, "{}", ryu::Buffer::new().format_finite(v));
            }
            _ => self.text.push_str("null"),
        }
        self
    }

    /// A decimal as written in the source (already checked to be one), served as a string.
    pub fn decimal(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        self.key(key);
        match value {
            Some(v) => self
                .text
                .push_str(&serde_json::to_string(v).expect("a string serialises")),
            None => self.text.push_str("null"),
        }
        self
    }

    pub fn finish(mut self) -> JsonObject {
        self.text.push('}');
        JsonObject(self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_in_order_with_nulls_and_escapes() {
        let mut object = JsonObject::builder();
        object
            .number("overallexp.pcteval", Some(0.82))
            .number("received", Some(190.0))
            .number("q\"1", None)
            .number("inf", Some(f64::INFINITY))
            .decimal("Global Sum", Some("-12.50"))
            .decimal("PCN Participation", None);
        let text = object.finish();
        assert_eq!(
            text.as_str(),
            r#"{"overallexp.pcteval":0.82,"received":190,"q\"1":null,"inf":null,"Global Sum":"-12.50","PCN Participation":null}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(parsed["received"], 190);
    }

    #[test]
    fn empty_object() {
        assert_eq!(JsonObject::builder().finish().as_str(), "{}");
    }
}
