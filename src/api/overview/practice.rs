//! `practices/{ods_code}/`: one practice as `practices/` serves it, its latest list size, and
//! for every endpoint with rows per practice and period the latest period it holds for the
//! practice, with the link to those rows. Each period is one `MAX` over the practice's entries
//! of the endpoint's (practice, period) index.

use sea_query::{Alias, Expr, ExprTrait, Func, Query};
use serde_json::{Map, Value, json};

use super::period;
use crate::api::app::AppState;
use crate::api::error::ApiError;
use crate::api::list::{RequestInfo, origin};
use crate::api::openapi::field_schema;
use crate::api::pipeline::may_read;
use crate::api::routes::API_V1;
use crate::catalogue::{self, ByPractice};
use crate::db::Cell;
use crate::keys::ApiKey;
use crate::schema::FilterKind;

pub const VIEW_NAME: &str = "Practice Instance";
/// Names the schema component.
pub const COMPONENT: &str = "PracticeDetail";

pub const DESCRIPTION: &str = "One practice as the practice list serves it, with its latest \
    list size and, for each endpoint with rows per practice and period that the key may read, \
    the latest period holding rows for the practice and the link to them (null where it has \
    none). The code is case-insensitive.";

/// Django's model name in the 404 of an unknown practice, as the population endpoint words it.
pub const MODEL: &str = "Practice";

/// The practice list's fields holding the latest list size and its month.
const LIST_SIZE: &str = "list_size";
const LIST_SIZE_MONTH: &str = "list_size_month";

pub fn not_found() -> ApiError {
    ApiError::NotFound(format!("No {MODEL} matches the given query."))
}

pub async fn profile(
    state: &AppState,
    request: &RequestInfo<'_>,
    code: &str,
    key: &ApiKey,
) -> Result<Value, ApiError> {
    let code = code.trim().to_uppercase();
    // No stored code holds a NUL, and PostgreSQL refuses one in a text parameter.
    if code.contains('\0') {
        return Err(not_found());
    }
    let list = catalogue::practice_list();
    let columns: Vec<_> = list.field_columns().collect();
    let mut select = Query::select();
    select
        .columns(columns.iter().map(|c| Alias::new(c.name)))
        .from(Alias::new(list.table.name))
        .and_where(Expr::col(Alias::new(list.table.primary_key[0])).eq(code.as_str()));
    let kinds: Vec<_> = columns.iter().map(|c| c.kind).collect();
    let cells = state
        .db
        .fetch_cells(&select, &kinds)
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    let mut body: Map<String, Value> = columns
        .iter()
        .zip(&cells)
        .map(|(column, cell)| (column.name.to_owned(), json!(cell)))
        .collect();
    let latest_list_size = match (&body.get(LIST_SIZE), body.get(LIST_SIZE_MONTH)) {
        (Some(Value::Number(patients)), Some(Value::String(month))) => json!({
            "month": period::shown(&FilterKind::Month(LIST_SIZE_MONTH), month),
            "patients": patients,
        }),
        _ => Value::Null,
    };
    body.insert("latest_list_size".to_owned(), latest_list_size);
    let origin = origin(state, request);
    let mut datasets = Map::new();
    for by_practice in catalogue::by_practice()
        .iter()
        .filter(|b| may_read(key, catalogue::scope_of(b.endpoint)))
    {
        let latest = latest_period(state, by_practice, &code).await?;
        let entry = match latest {
            Some(shown) => json!({
                "period": shown,
                "url": format!(
                    "{origin}{API_V1}{}?{}={code}&{}={shown}",
                    by_practice.endpoint.path, by_practice.practice.name, by_practice.period.name
                ),
            }),
            None => Value::Null,
        };
        datasets.insert(by_practice.endpoint.name(), entry);
    }
    body.insert("datasets".to_owned(), Value::Object(datasets));
    Ok(Value::Object(body))
}

/// The latest period of the endpoint's rows for the practice, as its filter takes it.
async fn latest_period(
    state: &AppState,
    by_practice: &ByPractice,
    code: &str,
) -> Result<Option<String>, sqlx::Error> {
    let table = by_practice.endpoint.table;
    let column = by_practice.period.kind.column();
    let Some(kind) = table.column(column).map(|c| c.kind) else {
        return Ok(None);
    };
    let mut select = Query::select();
    select
        .expr(Func::max(Expr::col(Alias::new(column))))
        .from(Alias::new(table.name))
        .and_where(Expr::col(Alias::new(by_practice.practice.kind.column())).eq(code));
    let cell = state
        .db
        .fetch_cells(&select, &[kind])
        .await?
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .unwrap_or(Cell::Null);
    Ok(period::stored(&cell).map(|stored| period::shown(&by_practice.period.kind, &stored)))
}

/// The schema of the body, as `profile` writes it.
pub fn component() -> Value {
    let list = catalogue::practice_list();
    let mut properties: Map<String, Value> = list
        .field_columns()
        .map(|c| (c.name.to_owned(), field_schema(c)))
        .collect();
    properties.insert(
        "latest_list_size".to_owned(),
        json!({
            "type": "object",
            "nullable": true,
            "readOnly": true,
            "description": "Registered patients in the latest registration extract, and its month; null without one",
            "properties": {
                "month": {"type": "string", "example": "2025-10"},
                "patients": {"type": "integer"},
            },
            "required": ["month", "patients"],
        }),
    );
    let datasets: Map<String, Value> = catalogue::by_practice()
        .iter()
        .map(|b| {
            let description = format!(
                "The latest `{}` with rows of `{}` for the practice, and the link to them; null \
                 where it has none",
                b.period.name, b.endpoint.path
            );
            let entry = json!({
                "type": "object",
                "nullable": true,
                "description": description,
                "properties": {
                    "period": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                },
                "required": ["period", "url"],
            });
            (b.endpoint.name(), entry)
        })
        .collect();
    properties.insert(
        "datasets".to_owned(),
        json!({
            "type": "object",
            "readOnly": true,
            "description": "Each endpoint with rows per practice and period, by name; a key \
                limited to scopes sees only the endpoints it may read",
            "properties": datasets,
            "additionalProperties": false,
        }),
    );
    let required: Vec<String> = properties.keys().cloned().collect();
    json!({"type": "object", "properties": properties, "required": required})
}
