//! Byte-exact DRF `JSONRenderer` output.
//!
//! DRF renders with Python's `json.dumps(ensure_ascii=False)` and then escapes U+2028 and
//! U+2029. `serde_json` already escapes strings the same way (`\"`, `\\`, `\b`, `\f`, `\n`,
//! `\r`, `\t`, other controls as lowercase `\u00XX`, everything else raw UTF-8), so only
//! those two code points and the float format need a custom [`Formatter`].

use std::fmt::Write as _;
use std::io::{self, Write as _};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

use crate::api::compat::python::{PyInt, parse_py_int};
use crate::db::{Cell, CellRef, format_decimal};

/// Largest indent DRF accepts from `Accept: application/json; indent=N`.
const MAX_INDENT: i64 = 8;

/// A formatter with Python's float and string rules around a layout formatter (compact or
/// indented).
struct PythonFormatter<F> {
    layout: F,
}

impl<F: Formatter> Formatter for PythonFormatter<F> {
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(python_repr(value).as_bytes())
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_repr(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Both separators start with the byte 0xE2; most strings have none.
        if !fragment.as_bytes().contains(&0xE2) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some(at) = rest.find(['\u{2028}', '\u{2029}']) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let escaped: &[u8] = if rest[at..].starts_with('\u{2028}') {
                b"\\u2028"
            } else {
                b"\\u2029"
            };
            writer.write_all(escaped)?;
            // Both separators are three bytes in UTF-8.
            rest = &rest[at + 3..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.layout.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.layout.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.layout.end_object_value(writer)
    }
}

fn render<T: Serialize + ?Sized, F: Formatter>(value: &T, layout: F) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = Serializer::with_formatter(&mut out, PythonFormatter { layout });
    value
        .serialize(&mut serializer)
        .expect("API values serialise to JSON (string map keys, no failing Serialize impls)");
    out
}

/// DRF `JSONRenderer` output without indentation: compact separators, raw UTF-8, U+2028 and
/// U+2029 escaped, floats as Python `repr`.
///
/// Non-finite floats are written as `null` (where DRF's strict JSON would fail with a 500).
///
/// # Panics
/// When `value`'s `Serialize` implementation fails (a map with non-string keys, a custom
/// error); API row types never do.
pub fn to_drf_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    render(value, CompactFormatter)
}

/// DRF `JSONRenderer` output for `Accept: application/json; indent=N`: Python
/// `json.dumps(indent=N, separators=(',', ': '))`. DRF turns an indent of 0 into no indent
/// at all, so 0 gives the compact output of [`to_drf_json`].
///
/// # Panics
/// As [`to_drf_json`].
pub fn to_drf_json_indented<T: Serialize + ?Sized>(value: &T, indent: usize) -> Vec<u8> {
    if indent == 0 {
        return to_drf_json(value);
    }
    let spaces = vec![b' '; indent];
    render(value, PrettyFormatter::with_indent(&spaces))
}

/// DRF `JSONRenderer.get_indent` for the raw `indent` parameter of the accepted media type:
/// Python `int()`, clamped to 0..=8, with 0 and unparsable values meaning "no indent".
pub fn drf_indent(param: Option<&str>) -> Option<usize> {
    let indent = match parse_py_int(param?)? {
        PyInt::Value(n) => n.clamp(0, MAX_INDENT),
        PyInt::Overflow { negative } => {
            if negative {
                0
            } else {
                MAX_INDENT
            }
        }
    };
    usize::try_from(indent).ok().filter(|&n| n > 0)
}

/// Python `repr(float)`: the shortest digits that round-trip, ties between equally short
/// candidates broken to even as CPython's `dtoa` does, in fixed notation unless the decimal
/// exponent is below -4 or at least 16; the exponent has a sign and at least two digits.
pub fn python_float_repr(x: f64) -> String {
    python_repr(x)
}

/// Python's `repr` layout for any binary float type. An `f32` gets its own shortest digits
/// (what the value was written as), not those of its `f64` widening.
fn python_repr<T: ryu::Float>(x: T) -> String {
    // Ryu gives the shortest digits that round-trip, the closest to the exact value when
    // several are as short, ties to even: the digits of CPython's `dtoa` mode 0 (checked
    // against CPython's own output in the tests). Only the layout differs.
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(x);
    let (negative, unsigned) = match shortest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, shortest),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = || whole.bytes().chain(fraction.bytes());
    let leading_zeros = all().take_while(|&b| b == b'0').count();
    let mut digits: String = all().skip(leading_zeros).map(char::from).collect();
    digits.truncate(digits.trim_end_matches('0').len());
    if digits.is_empty() {
        digits.push('0');
    }
    let digits = digits.as_str();
    // The power of ten of the first significant digit.
    let exponent = if leading_zeros == whole.len() + fraction.len() {
        0
    } else {
        exponent + whole.len() as i32 - 1 - leading_zeros as i32
    };

    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if !(-4..16).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
    } else if let Ok(exponent) = usize::try_from(exponent) {
        let whole = exponent + 1;
        if digits.len() <= whole {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', whole - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..whole]);
            out.push('.');
            out.push_str(&digits[whole..]);
        }
    } else {
        out.push_str("0.");
        let zeros = usize::try_from(-1 - exponent).unwrap_or(0);
        out.extend(std::iter::repeat_n('0', zeros));
        out.push_str(digits);
    }
    out
}

/// A stored value on the wire, as DRF serialises its field.
impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null => s.serialize_none(),
            Cell::Int(v) => s.serialize_i64(*v),
            Cell::Float(v) => s.serialize_f64(*v),
            Cell::Text(v) => s.serialize_str(v),
            Cell::Decimal(v, places) => s.serialize_str(&format_decimal(*v, *places)),
            Cell::Bool(v) => s.serialize_bool(*v),
            // Parsed rather than copied, so its numbers and strings are written as Python's
            // json module writes them, like every other value.
            Cell::Object(text) => serde_json::from_str::<serde_json::Value>(text)
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
            // `Display` writes `%Y-%m-%d` directly; a format string is parsed on every call.
            Cell::Date(d) => s.collect_str(d),
            Cell::Timestamp(t) => s.serialize_str(&drf_timestamp(t)),
        }
    }
}

/// DRF's `DateTimeField`: UTC as `Z`, microseconds only when non-zero.
fn drf_timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    let precision = if t.timestamp_subsec_micros() == 0 {
        chrono::SecondsFormat::Secs
    } else {
        chrono::SecondsFormat::Micros
    };
    t.to_rfc3339_opts(precision, true)
}

/// Appends a value as its JSON value reads without the quotes of a string: a decimal's digits
/// as written, a date in ISO form, a float as Python writes it; null (and a non-finite float,
/// which JSON writes as null) as nothing. An object is appended as its JSON text.
pub fn write_plain(cell: CellRef<'_>, out: &mut Vec<u8>) {
    match cell {
        CellRef::Null => {}
        CellRef::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        CellRef::Float(v) if v.is_finite() => out.extend_from_slice(python_repr(v).as_bytes()),
        CellRef::Float(_) => {}
        CellRef::Text(v) => out.extend_from_slice(v.as_bytes()),
        CellRef::Decimal(v, places) => out.extend_from_slice(format_decimal(v, places).as_bytes()),
        CellRef::Bool(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
        CellRef::Date(d) => write_date(d, out),
        CellRef::Timestamp(t) => out.extend_from_slice(drf_timestamp(&t).as_bytes()),
        // Parsed rather than copied, as `Cell`'s JSON is; text that is no JSON is as stored.
        CellRef::Object(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => out.extend_from_slice(&to_drf_json(&value)),
            Err(_) => out.extend_from_slice(text.as_bytes()),
        },
    }
}

/// A date as chrono's `Display` writes it (`%Y-%m-%d`), without the formatting machinery for
/// the four-digit years of every stored date.
fn write_date(date: NaiveDate, out: &mut Vec<u8>) {
    if !(0..=9999).contains(&date.year()) {
        let _ = write!(out, "{date}");
        return;
    }
    let year = date.year().unsigned_abs();
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let (month, day) = (date.month(), date.day());
    out.extend_from_slice(&[
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ]);
}

/// Appends a JSON value as `write_plain` appends a cell: a string unquoted, a number as Python's
/// json module writes it, null as nothing, an array or object as its JSON text.
pub fn write_plain_value(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Null => {}
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(_) | Value::Array(_) | Value::Object(_) => {
            out.extend_from_slice(&to_drf_json(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Row {
        code: &'static str,
        name: &'static str,
        rate: f64,
        big: f64,
        small: f64,
        tiny: f64,
        zero: f64,
        n: f64,
        ok: bool,
        fte: String,
        empty: Vec<u8>,
        obj: std::collections::BTreeMap<String, u8>,
    }

    #[derive(Serialize)]
    struct Envelope {
        count: u64,
        next: Option<&'static str>,
        previous: Option<&'static str>,
        results: Vec<Row>,
    }

    fn envelope() -> Envelope {
        Envelope {
            count: 2,
            next: Some("http://host/api/v1/x/?page=2"),
            previous: None,
            results: vec![Row {
                code: "A81001",
                name: "Élan \u{2029} <b>&",
                rate: 0.1 + 0.2,
                big: 1e16,
                small: 1e-5,
                tiny: 2.5e-7,
                zero: -0.0,
                n: 100.0,
                ok: true,
                fte: format_decimal(1250, 2),
                empty: vec![],
                obj: std::collections::BTreeMap::new(),
            }],
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    // Expected outputs below were produced by DRF's JSONRenderer logic on CPython 3.11.

    #[test]
    fn compact_envelope() {
        assert_eq!(
            text(to_drf_json(&envelope())),
            "{\"count\":2,\"next\":\"http://host/api/v1/x/?page=2\",\"previous\":null,\
             \"results\":[{\"code\":\"A81001\",\"name\":\"Élan \\u2029 <b>&\",\
             \"rate\":0.30000000000000004,\"big\":1e+16,\"small\":1e-05,\"tiny\":2.5e-07,\
             \"zero\":-0.0,\"n\":100.0,\"ok\":true,\"fte\":\"12.50\",\"empty\":[],\"obj\":{}}]}"
        );
    }

    #[test]
    fn indented_envelope() {
        assert_eq!(
            text(to_drf_json_indented(&envelope(), 4)),
            "{\n    \"count\": 2,\n    \"next\": \"http://host/api/v1/x/?page=2\",\n    \
             \"previous\": null,\n    \"results\": [\n        {\n            \
             \"code\": \"A81001\",\n            \"name\": \"Élan \\u2029 <b>&\",\n            \
             \"rate\": 0.30000000000000004,\n            \"big\": 1e+16,\n            \
             \"small\": 1e-05,\n            \"tiny\": 2.5e-07,\n            \
             \"zero\": -0.0,\n            \"n\": 100.0,\n            \"ok\": true,\n            \
             \"fte\": \"12.50\",\n            \"empty\": [],\n            \"obj\": {}\n        \
             }\n    ]\n}"
        );
    }

    #[test]
    fn indent_one_and_nested_empties() {
        let value = (1, (2, Vec::<u8>::new()), serde_json::json!({"a": {}}));
        assert_eq!(
            text(to_drf_json_indented(&value, 1)),
            "[\n 1,\n [\n  2,\n  []\n ],\n {\n  \"a\": {}\n }\n]"
        );
    }

    #[test]
    fn indent_zero_is_compact() {
        let value = serde_json::json!({"a": [1, 2]});
        assert_eq!(text(to_drf_json_indented(&value, 0)), "{\"a\":[1,2]}");
    }

    #[test]
    fn string_escapes_match_python() {
        let value = serde_json::json!({
            "s": "\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}\u{2028}\u{2029}é\"\\/😀"
        });
        assert_eq!(
            text(to_drf_json(&value)),
            "{\"s\":\"\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}\\u2028\\u2029é\\\"\\\\/😀\"}"
        );
        assert_eq!(
            text(to_drf_json("\u{2028}\u{2028}x\u{2029}")),
            "\"\\u2028\\u2028x\\u2029\""
        );
        assert_eq!(text(to_drf_json(&'\u{2029}')), "\"\\u2029\"");
    }

    #[test]
    fn separators_in_keys_are_escaped() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("k\u{2028}", 1);
        assert_eq!(text(to_drf_json(&map)), "{\"k\\u2028\":1}");
    }

    #[test]
    fn non_finite_floats_become_null() {
        assert_eq!(text(to_drf_json(&[f64::NAN, f64::INFINITY])), "[null,null]");
    }

    #[test]
    fn float_repr_examples() {
        // (bits, repr(float)) pairs from CPython 3.11, including ties that Rust's `{:e}`
        // rounds the other way.
        let cases: &[(u64, &str)] = &[
            (0x4314f6ea3ceb3ffd, "1475246359760895.2"),
            (0x43112b729a9a80fd, "1208211456041023.2"),
            (0x4315611210c67fd9, "1504426182418422.2"),
            (0x431f150a035efa25, "2187214257110665.2"),
            (0x431103f3d6645fa9, "1197355103229930.2"),
            (0x43139694d6225675, "1378397637350813.2"),
            (0x42fb685e8a18e9fc, "482161226518175.75"),
            (0x42e3e0adee1574c8, "174845693307814.25"),
            (0x42fc673441917544, "499673342744404.25"),
            (0x431af6624d1fe09f, "1897312863909927.8"),
            (0x431b3830b6d13089, "1915401561984034.2"),
            (0x43194cce651c5253, "1780330940273812.8"),
            (0x0000000000000001, "5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0x0010000000000000, "2.2250738585072014e-308"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x4480f0cf064dd592, "1e+22"),
            (0x419d6f34547df3b6, "123456789.123"),
            (0x3f1a36e2eb1c432d, "0.0001"),
            (0x3f1a36e2eb1c432c, "9.999999999999999e-05"),
            (0x3fb999999999999a, "0.1"),
            (0x3fd5555555555555, "0.3333333333333333"),
            (0x3fe5555555555555, "0.6666666666666666"),
            (0x4059000000000000, "100.0"),
            (0x430c6bf526340002, "1000000000000000.2"),
            (0x43e56a95319d63e1, "1.2345678901234567e+19"),
            (0x4011666666666666, "4.35"),
            (0x3f201f31f46ed246, "0.000123"),
            (0x7e41eb2d66005835, "1.5e+300"),
            (0xbe90c6f7a0b5ed8d, "-2.5e-07"),
        ];
        for &(bits, expected) in cases {
            assert_eq!(
                python_float_repr(f64::from_bits(bits)),
                expected,
                "{bits:#x}"
            );
        }
        let simple: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e-5, "1e-05"),
            (2.5e-7, "2.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (-1.0, "-1.0"),
            (123.456, "123.456"),
            (1e100, "1e+100"),
            (-1.5e-100, "-1.5e-100"),
        ];
        for &(x, expected) in simple {
            assert_eq!(python_float_repr(x), expected, "{x}");
            assert_eq!(text(to_drf_json(&x)), expected, "{x}");
        }
    }

    #[test]
    fn f32_uses_its_own_shortest_digits() {
        assert_eq!(text(to_drf_json(&1.1f32)), "1.1");
        assert_eq!(text(to_drf_json(&1e-5f32)), "1e-05");
        assert_eq!(text(to_drf_json(&16777216f32)), "16777216.0");
        assert_eq!(text(to_drf_json(&-0.0f32)), "-0.0");
    }

    #[test]
    fn objects_are_written_like_every_other_value() {
        let cell = Cell::Object(r#"{"b":0.00001,"a":"\u2028é","n":null,"i":190}"#.to_owned());
        assert_eq!(
            text(to_drf_json(&cell)),
            "{\"b\":1e-05,\"a\":\"\\u2028é\",\"n\":null,\"i\":190}"
        );
        assert_eq!(
            text(to_drf_json_indented(&cell, 1)),
            "{\n \"b\": 1e-05,\n \"a\": \"\\u2028é\",\n \"n\": null,\n \"i\": 190\n}"
        );
    }

    #[test]
    fn indent_parameter() {
        assert_eq!(drf_indent(None), None);
        assert_eq!(drf_indent(Some("4")), Some(4));
        assert_eq!(drf_indent(Some(" 2 ")), Some(2));
        assert_eq!(drf_indent(Some("8")), Some(8));
        assert_eq!(drf_indent(Some("9")), Some(8));
        assert_eq!(drf_indent(Some("99999999999999999999999")), Some(8));
        assert_eq!(drf_indent(Some("0")), None);
        assert_eq!(drf_indent(Some("-3")), None);
        assert_eq!(drf_indent(Some("-99999999999999999999999")), None);
        assert_eq!(drf_indent(Some("")), None);
        assert_eq!(drf_indent(Some("four")), None);
        assert_eq!(drf_indent(Some("4.0")), None);
    }

    /// Splits a Python float repr into (digits without leading zeros, decimal exponent of
    /// the first digit, whether it used exponent notation).
    fn decompose(repr: &str) -> (String, i32, bool) {
        let unsigned = repr.trim_start_matches('-');
        if let Some((mantissa, exponent)) = unsigned.split_once('e') {
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            return (digits, exponent.parse().unwrap(), true);
        }
        let (whole, fraction) = unsigned.split_once('.').unwrap();
        let all = format!("{whole}{fraction}");
        let leading = all.len() - all.trim_start_matches('0').len();
        let exponent = i32::try_from(whole.len()).unwrap() - 1 - i32::try_from(leading).unwrap();
        let digits = all.trim_start_matches('0').trim_end_matches('0').to_owned();
        (
            if digits.is_empty() {
                "0".to_owned()
            } else {
                digits
            },
            exponent,
            false,
        )
    }

    /// Arbitrary bit patterns, plus the magnitudes API values actually have (where fixed
    /// notation and ties between shortest candidates are common).
    fn floats() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>()
                .prop_map(f64::from_bits)
                .prop_filter("finite", |x| x.is_finite()),
            -1e6f64..1e6,
            (0f64..1.0, -8i32..20).prop_map(|(m, e)| m * 10f64.powi(e)),
            (any::<i64>(), 0i32..64).prop_map(|(n, k)| n as f64 / 2f64.powi(k)),
        ]
    }

    /// Every double in the fixture renders exactly as CPython's `repr` rendered it.
    #[test]
    fn float_repr_matches_cpython() {
        let fixture = include_str!("../../tests/fixtures/json/python_float_repr.txt");
        let mut checked = 0;
        for line in fixture.lines().filter(|l| !l.starts_with('#')) {
            let (bits, expected) = line.split_once(' ').expect("bits and repr");
            let x = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
            assert_eq!(python_float_repr(x), expected, "{bits}");
            checked += 1;
        }
        assert!(checked > 5000, "{checked} values");
    }

    proptest! {
        /// Dates are written as chrono writes them, years of other than four digits too.
        #[test]
        fn dates_are_written_as_chrono_writes_them(days in -1_000_000i64..4_000_000) {
            let date = chrono::NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Duration::days(days);
            let mut out = Vec::new();
            write_plain(CellRef::Date(date), &mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), date.to_string());
        }

        /// The decimal text is the exact value: its digits, read as an integer, are `scaled`,
        /// with `places` of them after the point.
        #[test]
        fn decimals_are_exact(scaled in any::<i64>(), places in 0u32..24) {
            let text = format_decimal(scaled, places);
            let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
            prop_assert_eq!(fraction.len(), places as usize);
            let digits: i128 = format!("{whole}{fraction}").parse().unwrap();
            prop_assert_eq!(digits, i128::from(scaled));
            let unsigned = whole.trim_start_matches('-');
            prop_assert!(unsigned == "0" || !unsigned.starts_with('0'), "{}", text);
        }

        #[test]
        fn float_repr_round_trips_and_follows_python_layout(x in floats()) {
            let repr = python_float_repr(x);
            let parsed: f64 = repr.parse().unwrap();
            prop_assert_eq!(parsed.to_bits(), x.to_bits(), "{}", repr);

            let (digits, exponent, scientific) = decompose(&repr);
            if x != 0.0 {
                prop_assert_eq!(scientific, !(-4..16).contains(&exponent), "{}", repr);
                // Shortest: as many significant digits as Rust's shortest round-trip form.
                let shortest = format!("{x:e}");
                let expected_len = shortest
                    .split('e')
                    .next()
                    .unwrap()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .count();
                prop_assert_eq!(digits.len(), expected_len, "{}", repr);
            }
            if scientific {
                let (_, exp_text) = repr.split_once('e').unwrap();
                prop_assert!(exp_text.starts_with('+') || exp_text.starts_with('-'));
                prop_assert!(exp_text.len() >= 3, "{}", repr);
                prop_assert!(!repr.contains(".e") && !repr.contains(".0e"), "{}", repr);
            } else {
                prop_assert!(repr.contains('.'), "{}", repr);
            }
            prop_assert_eq!(text(to_drf_json(&x)), repr);
        }

        #[test]
        fn decimal_matches_division(scaled in any::<i64>(), places in 0u32..6) {
            let rendered = format_decimal(scaled, places);
            let expected = i128::from(scaled);
            let (sign, unsigned) = match rendered.strip_prefix('-') {
                Some(rest) => (-1, rest),
                None => (1, rendered.as_str()),
            };
            let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
            prop_assert_eq!(fraction.len(), places as usize);
            let value: i128 = format!("{whole}{fraction}").parse().unwrap();
            prop_assert_eq!(sign * value, expected);
        }
    }
}
