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
use crate::db::{Cell, Db};
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
        Ok(Encoder { columns, header })
    }

    fn writer() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::with_capacity(64 * 1024))
    }

    /// The header row.
    pub fn header(&self) -> Vec<u8> {
        let mut writer = Self::writer();
        // Writing to memory cannot fail.
        let _ = writer.write_record(&self.header);
        writer.into_inner().unwrap_or_default()
    }

    /// `rows` as CSV records.
    pub fn rows(&self, rows: &[Vec<Cell>]) -> Vec<u8> {
        let mut writer = Self::writer();
        let mut field = String::new();
        for cells in rows {
            for (column, cell) in self.columns.iter().zip(cells) {
                match column {
                    Column::Plain => {
                        field.clear();
                        write_plain(cell, &mut field);
                        let _ = writer.write_field(&field);
                    }
                    Column::Object(keys) => {
                        let object = match cell {
                            Cell::Object(text) => serde_json::from_str(text).unwrap_or_default(),
                            _ => serde_json::Map::new(),
                        };
                        for key in keys {
                            field.clear();
                            if let Some(value) = object.get(key) {
                                write_plain_value(value, &mut field);
                            }
                            let _ = writer.write_field(&field);
                        }
                    }
                }
            }
            let _ = writer.write_record(None::<&[u8]>);
        }
        writer.into_inner().unwrap_or_default()
    }
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
    let encoder = Encoder::new(db, names, kinds, &rows).await?;
    let mut batches = db.stream_cells(&rows, kinds);
    let first = batches.next().await.transpose()?.unwrap_or_default();
    let mut opening = encoder.header();
    opening.extend(encoder.rows(&first));
    let rest = stream::unfold(
        Some((batches, encoder, filename.to_owned())),
        |state| async move {
            let (mut batches, encoder, filename) = state?;
            match batches.next().await? {
                Ok(rows) => {
                    let chunk = Bytes::from(encoder.rows(&rows));
                    Some((Ok(chunk), Some((batches, encoder, filename))))
                }
                Err(error) => {
                    let cause = cause_chain(&error);
                    tracing::error!(file = %filename, %cause, "a CSV download was cut short");
                    Some((Err(io::Error::other(cause)), None))
                }
            }
        },
    );
    let body = stream::once(async move { Ok(Bytes::from(opening)) }).chain(rest);
    *response.body_mut() = Body::from_stream(body);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

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

    #[test]
    fn rows_are_rfc_4180_with_objects_spread_over_columns() {
        let encoder = Encoder {
            columns: vec![
                Column::Plain,
                Column::Plain,
                Column::Object(vec!["a".into(), "b".into()]),
            ],
            header: vec!["code".into(), "rate".into(), "m.a".into(), "m.b".into()],
        };
        assert_eq!(encoder.header(), b"code,rate,m.a,m.b\r\n");
        let rows = vec![
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
            String::from_utf8(encoder.rows(&rows)).unwrap(),
            "\"say \"\"hi\"\", then\nleave\",0.1,,12.50\r\nplain,,1e-07,\r\n"
        );
    }
}
