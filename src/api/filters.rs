//! Everything a kind of filter means, in one place: the values it accepts (with django-filter's
//! validation messages and DRF `SearchFilter` semantics), the SQL condition it becomes, and how
//! the schema document and the index describe it.

use sea_query::{Alias, Condition, Expr, ExprTrait, Func, LikeExpr};
use serde_json::{Map, Value, json};

use super::compat::dates::{parse_django_date, parse_month};
use super::compat::forms::{Number, drf_bool, financial_year, number};
use super::compat::querydict::QueryParams;
use super::compat::search::{MAX_SEARCH_CHARS, NullCharacters, like_pattern, search_terms};
use super::error::ApiError;
use crate::db::{Backend, search_index_name};
use crate::schema::{Endpoint, FilterKind, fold_label};

fn column(name: &'static str) -> Expr {
    Expr::col(Alias::new(name))
}

/// A request's filters as SQL.
pub struct Filtered {
    pub condition: Condition,
    /// The column and value of a period filter (month, date, financial year) when it is the only
    /// filter given: imports tally those rows (`crate::tally`).
    pub period_alone: Option<(&'static str, String)>,
}

/// Builds the WHERE condition for `backend`. Invalid values (a code with a null character among
/// them) give django-filter's 400 body (field → messages, in declaration order); a refused
/// `search` (a null character, too long or too many terms) gives DRF's list body, before any of
/// its terms reaches the SQL.
pub fn condition(
    endpoint: &Endpoint,
    params: &QueryParams,
    backend: Backend,
) -> Result<Filtered, ApiError> {
    let mut cond = Condition::all();
    let mut errors = Map::new();
    let mut search = None;
    let mut given = 0;
    let mut period = None;
    for filter in endpoint.filters {
        let Some(raw) = params.non_empty(filter.name) else {
            continue;
        };
        given += 1;
        match filter.kind {
            _ if refusal(&filter.kind) == Refusal::NullCharacter && raw.contains('\0') => {
                errors.insert(filter.name.to_owned(), json!([NullCharacters.to_string()]));
            }
            FilterKind::Code(col) => {
                cond = cond.add(column(col).eq(raw.trim().to_uppercase()));
            }
            FilterKind::LowerCode(col) => {
                cond = cond.add(column(col).eq(raw.trim().to_lowercase()));
            }
            FilterKind::CodeInList(col) => {
                for code in raw.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    cond = cond.add(listed(col, code));
                }
            }
            FilterKind::Label(col) => {
                cond = cond.add(column(col).eq(fold_label(raw)));
            }
            FilterKind::Date(col) => match parse_django_date(raw) {
                Some(date) => {
                    period = Some((col, date.to_string()));
                    cond = cond.add(column(col).eq(date));
                }
                None => {
                    errors.insert(filter.name.to_owned(), json!(["Enter a valid date."]));
                }
            },
            FilterKind::Month(col) => match parse_month(raw) {
                Some(month) => {
                    period = Some((col, month.to_string()));
                    cond = cond.add(column(col).eq(month));
                }
                None => {
                    errors.insert(filter.name.to_owned(), json!(["Enter a valid date."]));
                }
            },
            FilterKind::FinancialYear(col) => match financial_year(raw) {
                Some(year) => {
                    period = Some((col, year.clone()));
                    cond = cond.add(column(col).eq(year));
                }
                None => {
                    errors.insert(
                        filter.name.to_owned(),
                        json!(["Enter a valid financial year, such as 2025/26."]),
                    );
                }
            },
            FilterKind::Year(col) => match number(raw) {
                Some(Number::Whole(year)) => {
                    period = Some((col, year.to_string()));
                    cond = cond.add(column(col).eq(year));
                }
                Some(Number::Unmatched) => cond = cond.add(Expr::cust("1 = 0")),
                None => {
                    errors.insert(filter.name.to_owned(), json!(["Enter a number."]));
                }
            },
            FilterKind::Boolean(col) => {
                if let Some(b) = drf_bool(raw) {
                    cond = cond.add(column(col).eq(b));
                }
            }
            FilterKind::Search { column, .. } => search = Some((raw, column)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(Value::Object(errors)));
    }
    if let Some((raw, col)) = search {
        let terms = search_terms(raw).map_err(|e| ApiError::Validation(json!([e.to_string()])))?;
        for term in terms {
            cond = cond.add(search_term(endpoint.table.name, col, &term, backend));
        }
    }
    Ok(Filtered {
        condition: cond,
        period_alone: period.filter(|_| given == 1),
    })
}

/// One search term: answered from the column's trigram index where the backend has one and the
/// term is long enough for trigrams to narrow it, else by a `LIKE` scan.
fn search_term(table: &str, col: &'static str, term: &str, backend: Backend) -> Expr {
    if backend == Backend::Sqlite && term.chars().count() >= 3 {
        let index = search_index_name(table, col);
        let phrase = format!("\"{}\"", term.to_lowercase().replace('"', "\"\""));
        return Expr::cust_with_values(
            format!("rowid IN (SELECT rowid FROM {index} WHERE {index} MATCH ?)"),
            [phrase],
        );
    }
    column(col).like(LikeExpr::new(like_pattern(term)).escape('\\'))
}

/// Rows whose `col` is `code` or lists it: with the stored list upper-cased and its items
/// separated by bare commas, `CODE` is the whole of it, its first item, its last or one between.
fn listed(col: &'static str, code: &str) -> Condition {
    let code = code.to_uppercase();
    let mut escaped = String::with_capacity(code.len());
    for c in code.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let folded = || {
        Expr::expr(
            Func::cust("REPLACE")
                .arg(Func::upper(column(col)))
                .arg(", ")
                .arg(","),
        )
    };
    let like = |pattern: String| folded().like(LikeExpr::new(pattern).escape('\\'));
    Condition::any()
        .add(folded().eq(code))
        .add(like(format!("{escaped},%")))
        .add(like(format!("%,{escaped}")))
        .add(like(format!("%,{escaped},%")))
}

/// The core-filter guard: at least one of the endpoint's core filters must be non-empty.
pub fn require_core(endpoint: &Endpoint, params: &QueryParams) -> Result<(), ApiError> {
    if endpoint.core.is_empty()
        || endpoint
            .core
            .iter()
            .any(|name| params.non_empty(name).is_some())
    {
        Ok(())
    } else {
        Err(ApiError::CoreFilterRequired(endpoint.core))
    }
}

/// The filter's type as the index and the schema name it.
/// How a filter's own value can be refused with a 400 and a field error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A date, month or year that does not parse.
    Unparsed,
    /// A text compared as given, refused only for a null character.
    NullCharacter,
    /// Never by field: searches are bounded as a list, unknown booleans are ignored.
    None,
}

pub fn refusal(kind: &FilterKind) -> Refusal {
    match kind {
        FilterKind::Date(_)
        | FilterKind::Month(_)
        | FilterKind::FinancialYear(_)
        | FilterKind::Year(_) => Refusal::Unparsed,
        FilterKind::Code(_)
        | FilterKind::CodeInList(_)
        | FilterKind::LowerCode(_)
        | FilterKind::Label(_) => Refusal::NullCharacter,
        FilterKind::Search { .. } | FilterKind::Boolean(_) => Refusal::None,
    }
}

pub fn type_name(kind: &FilterKind) -> &'static str {
    match kind {
        FilterKind::Code(_) | FilterKind::CodeInList(_) | FilterKind::LowerCode(_) => "code",
        FilterKind::Label(_) => "label",
        FilterKind::Search { .. } => "search",
        FilterKind::Date(_) => "date",
        FilterKind::Month(_) => "month",
        FilterKind::FinancialYear(_) => "financial_year",
        FilterKind::Year(_) => "number",
        FilterKind::Boolean(_) => "boolean",
    }
}

/// What every filter of a kind does beyond its own description, so that each parameter
/// explains its matching rule.
pub fn rule(kind: &FilterKind) -> &'static str {
    match kind {
        FilterKind::Code(_) | FilterKind::LowerCode(_) => {
            "Exact match after trimming, case-insensitive."
        }
        FilterKind::CodeInList(_) => {
            "Matches rows whose value is this code or lists it among comma-separated codes, \
             case-insensitive after trimming; several codes separated by commas must all be listed."
        }
        FilterKind::Label(_) => {
            "The label as published; spaces and case do not matter (08:00-09:59 matches \
             08:00 - 09:59)."
        }
        FilterKind::Search { .. } => "Quoted phrases stay one term; matching is case-insensitive.",
        FilterKind::Date(_) => {
            "ISO date (2026-01-31); Django's other date input formats are accepted too."
        }
        FilterKind::Month(_) => {
            "A month, as 2026-01 or as any date in it (2026-01-01, 2026-01-15): selects the month \
             starting on its first day."
        }
        FilterKind::FinancialYear(_) => {
            "Financial year as published, 2025/26; 2025-26, 202526 and 2025/2026 mean the same."
        }
        FilterKind::Year(_) => {
            "A year as a number, 2025; 2025.0 and 2.025e3 mean the same, and a number that is \
             not a whole year matches nothing."
        }
        FilterKind::Boolean(_) => {
            "true/false or 1/0, any case; any other value is ignored (no filtering)."
        }
    }
}

/// The schema of the filter's query parameter.
pub fn schema(kind: &FilterKind) -> Value {
    match kind {
        // Django's CharField refuses a null character with a 400.
        FilterKind::Code(_)
        | FilterKind::CodeInList(_)
        | FilterKind::LowerCode(_)
        | FilterKind::Label(_) => {
            json!({"type": "string", "pattern": "^[^\\x00]*$"})
        }
        // DRF's SearchFilter refuses a null character with a 400, and so does this service a
        // value past its length bound.
        FilterKind::Search { .. } => json!({
            "type": "string",
            "pattern": "^[^\\x00]*$",
            "maxLength": MAX_SEARCH_CHARS,
        }),
        FilterKind::Date(_) | FilterKind::Month(_) => {
            json!({"type": "string", "format": "date"})
        }
        FilterKind::FinancialYear(_) => json!({"type": "string", "example": "2025/26"}),
        FilterKind::Year(_) => json!({"type": "number", "example": 2025}),
        FilterKind::Boolean(_) => json!({"type": "boolean"}),
    }
}
