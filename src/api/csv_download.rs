//! CSV downloads: a list endpoint's rows as RFC 4180 CSV (CRLF line ends, fields quoted only
//! when they must be, UTF-8 without a byte-order mark), streamed as the database produces them,
//! so memory stays bounded whatever the number of rows.
//!
//! The header row holds the JSON field names; each value is written as in JSON (see
//! `json::write_plain`), null as an empty field. A JSON-object field becomes one column per key,
//! named `<field>.<key>`, with the keys of the rows being downloaded in sorted order, read by a
//! first query before the header is written; a row without a key has an empty field.

use std::io;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::stream::{self, StreamExt};
use sea_query::SelectStatement;

use super::compat::querydict::QueryParams;
use super::error::{ApiError, cause_chain};
use super::json::{write_plain, write_plain_value};
use crate::db::{CellRef, Db, RowWriter};
use crate::schema::{Endpoint, Kind};

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Longest file name offered, before `.csv`.
const MAX_FILENAME_STEM: usize = 150;

/// How each field of a row becomes columns.
enum Column {
    Plain,
    /// A JSON object, one column per key.
    Object(Vec<String>),
}

/// Writes rows of one select as CSV.
pub struct Encoder {
    columns: Vec<Column>,
    header: Vec<String>,
    /// A field being quoted.
    unquoted: Vec<u8>,
}

impl Encoder {
    /// The columns of `names` (of `kinds`) for the rows `rows` selects: one query per object
    /// field for its keys.
    pub async fn new(
        db: &Db,
        names: &[&str],
        kinds: &[Kind],
        rows: &SelectStatement,
    ) -> Result<Self, sqlx::Error> {
        let mut columns = Vec::with_capacity(names.len());
        let mut header = Vec::with_capacity(names.len());
        for (name, kind) in names.iter().zip(kinds) {
            if let Kind::Object(_) = kind {
                let keys = db.object_keys(rows.clone(), name).await?;
                header.extend(keys.iter().map(|key| format!("{name}.{key}")));
                columns.push(Column::Object(keys));
            } else {
                header.push((*name).to_owned());
                columns.push(Column::Plain);
            }
        }
        Ok(Encoder::with_columns(columns, header))
    }

    fn with_columns(columns: Vec<Column>, header: Vec<String>) -> Self {
        Encoder {
            columns,
            header,
            unquoted: Vec::new(),
        }
    }

    /// The header row.
    pub fn header(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut record = Record::start(&out);
        for name in &self.header {
            record.field(&mut out, &mut self.unquoted, |field| {
                field.extend_from_slice(name.as_bytes());
            });
        }
        record.end(&mut out);
        out
    }
}

impl RowWriter for Encoder {
    fn write_row<'r>(
        &mut self,
        mut value: impl FnMut(usize) -> Result<CellRef<'r>, sqlx::Error>,
        out: &mut Vec<u8>,
    ) -> Result<(), sqlx::Error> {
        let mut record = Record::start(out);
        for (i, column) in self.columns.iter().enumerate() {
            let cell = value(i)?;
            match column {
                Column::Plain => {
                    record.field(out, &mut self.unquoted, |field| write_plain(cell, field));
                }
                Column::Object(keys) => {
                    let object = match cell {
                        CellRef::Object(text) => serde_json::from_str(text).unwrap_or_default(),
                        _ => serde_json::Map::new(),
                    };
                    for key in keys {
                        record.field(out, &mut self.unquoted, |field| {
                            if let Some(value) = object.get(key) {
                                write_plain_value(value, field);
                            }
                        });
                    }
                }
            }
        }
        record.end(out);
        Ok(())
    }
}

/// One CSV record being appended to a buffer: fields are separated by commas and quoted only
/// when they hold a comma, a quote or a line break, as the `csv` crate writes them.
struct Record {
    start: usize,
    fields: usize,
}

impl Record {
    fn start(out: &[u8]) -> Self {
        Record {
            start: out.len(),
            fields: 0,
        }
    }

    /// Appends the field `write` writes, quoting it if it must be.
    fn field(
        &mut self,
        out: &mut Vec<u8>,
        unquoted: &mut Vec<u8>,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        if self.fields > 0 {
            out.push(b',');
        }
        self.fields += 1;
        // Written in place, the common case: a field that needs no quotes is then done.
        let at = out.len();
        write(out);
        if !needs_quotes(&out[at..]) {
            return;
        }
        unquoted.clear();
        unquoted.extend_from_slice(&out[at..]);
        out.truncate(at);
        out.push(b'"');
        for &b in unquoted.iter() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }

    /// Ends the record with CRLF. A record of no bytes at all (a single empty field) is
    /// written as `""`, or it would read as a blank line.
    fn end(self, out: &mut Vec<u8>) {
        if out.len() == self.start {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether a field holds a comma, a quote or a line break, the bytes that make it quoted:
/// tested eight bytes at a time, as a byte at a time was two fifths of the time spent writing
/// rows.
fn needs_quotes(field: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is `byte`: a byte of `word ^ repeated` is then zero, and only
    // a zero byte borrows into its high bit with nothing set there before.
    let holds = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    let (words, rest) = field.as_chunks::<8>();
    words.iter().any(|&word| {
        let word = u64::from_ne_bytes(word);
        holds(word, b',') || holds(word, b'"') || holds(word, b'\r') || holds(word, b'\n')
    }) || rest
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// `<endpoint>-<filters>`, each filter given as `<name>-<value>` in the order of their names,
/// then `page` and `page_size` when given: `gp-appointments-month-2025-10.csv`. Characters other than
/// ASCII letters, digits and `_` become `-`, so the name is safe on every file system.
pub fn filename(
    endpoint: &Endpoint,
    path_params: &[(&'static str, String)],
    params: &QueryParams,
) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in endpoint.path.split('/').filter(|s| !s.is_empty()) {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => parts.extend(
                path_params
                    .iter()
                    .filter(|(param, _)| *param == name)
                    .map(|(_, value)| value.as_str()),
            ),
            None => parts.push(segment),
        }
    }
    let mut filters: Vec<&str> = endpoint.filters.iter().map(|f| f.name).collect();
    filters.sort_unstable();
    for name in filters.into_iter().chain(["page", "page_size"]) {
        if let Some(value) = params.non_empty(name) {
            parts.extend([name, value]);
        }
    }
    let mut stem = String::new();
    for c in parts.join("-").chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (stem.is_empty() || stem.ends_with('-'))) {
            stem.push(c);
        }
    }
    stem.truncate(MAX_FILENAME_STEM);
    let stem = stem.trim_end_matches('-');
    format!("{stem}.csv")
}

/// A 200 of `text/csv` offered for download as `filename`, with an empty body of no stated
/// length, as GET's streamed body has none: HEAD answers with these headers alone.
fn headers_only(filename: &str) -> Response {
    let mut response = Response::new(Body::from_stream(stream::empty::<io::Result<Bytes>>()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The download of the rows `rows` selects. For HEAD no query is run. Errors before the first rows are read are the
/// API's usual error responses; one after them cannot change the status, so it is logged and
/// the body is cut short, which the client sees as an incomplete transfer.
pub async fn response(
    db: &Db,
    fields: (&[&str], &[Kind]),
    rows: SelectStatement,
    filename: &str,
    head: bool,
) -> Result<Response, ApiError> {
    let mut response = headers_only(filename);
    if head {
        return Ok(response);
    }
    let (names, kinds) = fields;
    let mut encoder = Encoder::new(db, names, kinds, &rows).await?;
    let mut opening = encoder.header();
    let mut batches = db.stream_rows(&rows, kinds, encoder);
    let first = batches.next().await.transpose()?.unwrap_or_default();
    opening.extend(first);
    let rest = stream::unfold(Some((batches, filename.to_owned())), |state| async move {
        let (mut batches, filename) = state?;
        match batches.next().await? {
            Ok(batch) => Some((Ok(Bytes::from(batch)), Some((batches, filename)))),
            Err(error) => {
                let cause = cause_chain(&error);
                tracing::error!(file = %filename, %cause, "a CSV download was cut short");
                Some((Err(io::Error::other(cause)), None))
            }
        }
    });
    let body = stream::once(async move { Ok(Bytes::from(opening)) }).chain(rest);
    *response.body_mut() = Body::from_stream(body);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::db::Cell;
    use proptest::prelude::*;

    fn endpoint(path: &str) -> &'static Endpoint {
        catalogue::endpoints()
            .iter()
            .find(|e| e.path == path)
            .unwrap()
    }

    #[test]
    fn file_names_name_the_endpoint_and_the_filters_given() {
        let name = |path: &str, params: &[(&'static str, &str)], query: &str| {
            let params: Vec<_> = params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            filename(endpoint(path), &params, &QueryParams::parse(Some(query)))
        };
        assert_eq!(
            name("gp-appointments/", &[], "month=2025-10"),
            "gp-appointments-month-2025-10.csv"
        );
        assert_eq!(
            name(
                "qof/achievement/",
                &[],
                "year=2024%2F25&practice=A81001&page=2&format=csv&unknown=x"
            ),
            "qof-achievement-practice-A81001-year-2024-25-page-2.csv"
        );
        assert_eq!(
            name(
                "practices/{ods_code}/population/",
                &[("ods_code", "a81001")],
                ""
            ),
            "practices-a81001-population.csv"
        );
        let hostile = name("practices/", &[], "search=%22%0D%0A..%2F..%2Fetc%C3%A9");
        assert_eq!(hostile, "practices-search-etc.csv");
        let long = name("practices/", &[], &format!("search={}", "a".repeat(500)));
        assert!(long.len() <= MAX_FILENAME_STEM + 4, "{long}");
    }

    fn rows(encoder: &mut Encoder, rows: &[Vec<Cell>]) -> String {
        let mut out = Vec::new();
        for cells in rows {
            encoder.write_cells(cells, &mut out).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_are_rfc_4180_with_objects_spread_over_columns() {
        let mut encoder = Encoder::with_columns(
            vec![
                Column::Plain,
                Column::Plain,
                Column::Object(vec!["a".into(), "b".into()]),
            ],
            vec!["code".into(), "rate".into(), "m.a".into(), "m.b".into()],
        );
        assert_eq!(encoder.header(), b"code,rate,m.a,m.b\r\n");
        let cells = vec![
            vec![
                Cell::Text("say \"hi\", then\nleave".into()),
                Cell::Float(0.1),
                Cell::Object(r#"{"b":"12.50","a":null}"#.into()),
            ],
            vec![
                Cell::Text("plain".into()),
                Cell::Null,
                Cell::Object(r#"{"a":1e-7}"#.into()),
            ],
        ];
        assert_eq!(
            rows(&mut encoder, &cells),
            "\"say \"\"hi\"\", then\nleave\",0.1,,12.50\r\nplain,,1e-07,\r\n"
        );
    }

    #[test]
    fn every_kind_is_written_as_its_json_value_reads() {
        let date = chrono::NaiveDate::from_ymd_opt(2025, 3, 9).unwrap();
        let cells = vec![
            Cell::Int(-42),
            Cell::Float(1e16),
            Cell::Float(f64::NAN),
            Cell::Decimal(-5, 2),
            Cell::Bool(true),
            Cell::Date(date),
            Cell::Timestamp(date.and_hms_micro_opt(7, 8, 9, 10).unwrap().and_utc()),
            Cell::Text("\r".into()),
            Cell::Object(r#"{"b":1.0,"a":"x"}"#.into()),
        ];
        let mut encoder =
            Encoder::with_columns(cells.iter().map(|_| Column::Plain).collect(), Vec::new());
        assert_eq!(
            rows(&mut encoder, &[cells]),
            "-42,1e+16,,-0.05,true,2025-03-09,2025-03-09T07:08:09.000010Z,\"\r\",\
             \"{\"\"b\"\":1.0,\"\"a\"\":\"\"x\"\"}\"\r\n"
        );
    }

    #[test]
    fn a_row_shorter_than_its_columns_is_an_error_not_a_panic() {
        let mut encoder = Encoder::with_columns(vec![Column::Plain, Column::Plain], Vec::new());
        let mut out = Vec::new();
        assert!(encoder.write_cells(&[Cell::Int(1)], &mut out).is_err());
    }

    proptest! {
        /// Eight bytes at a time, the test finds the bytes a byte at a time would, at any
        /// offset, and no others (those beside them in value included).
        #[test]
        fn fields_needing_quotes_are_found_at_any_offset(
            mut field in prop::collection::vec(
                prop::sample::select(b"a\x80\xff\x2b\x2d\x21\x23\x0c\x0e\x09\x0b".to_vec()),
                0..40,
            ),
            at in any::<prop::sample::Index>(),
            special in prop::option::of(prop::sample::select(b",\"\r\n".to_vec())),
        ) {
            if let Some(special) = special {
                field.insert(at.index(field.len() + 1), special);
            }
            prop_assert_eq!(needs_quotes(&field), special.is_some());
        }

        /// Any fields are written byte for byte as the `csv` crate writes them, including
        /// records of a single empty field and fields of only quotes or line breaks.
        #[test]
        fn records_are_written_as_the_csv_crate_writes_them(
            records in prop::collection::vec(
                prop::collection::vec("[a,\"\r\n é]{0,20}", 1..4),
                0..6,
            ),
        ) {
            let mut expected = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .flexible(true)
                .from_writer(Vec::new());
            let mut written = Vec::new();
            for record in &records {
                expected.write_record(record).unwrap();
                let mut encoder = Encoder::with_columns(
                    record.iter().map(|_| Column::Plain).collect(),
                    record.clone(),
                );
                written.extend(encoder.header());
            }
            prop_assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected.into_inner().unwrap()).unwrap()
            );
        }
    }
}
