//! The one generic view: every catalogue endpoint is served by `serve`, in DRF's pipeline order
//! (negotiate → authenticate → permit → throttle → method, see `pipeline`, then filter → resolve
//! the path → page → render), with conditional GET (`conditional`) before the page is read and
//! CSV downloads (`csv_download`) beside JSON.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use sea_query::{
    Alias, Condition, Expr, ExprTrait, Func, Order, Query, SelectStatement, SqliteQueryBuilder,
};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::json;

use super::cache::{LatestImports, Ticket};
use super::compat::pagination::{PageRequest, links, page_request, page_size, resolve_page};
use super::compat::querydict::QueryParams;
use super::conditional::{self, EntityTag};
use super::csv_download;
use super::error::ApiError;
use super::filters;
use super::negotiate::{CSV, JSON, Renderer, Rendering, select};
use super::pipeline::{self, Read};
use super::response::{json_bytes_response, json_response, render};
use super::routes::Resolved;
use crate::api::app::AppState;
use crate::catalogue;
use crate::db::Cell;
use crate::schema::{Direction, Endpoint, Kind, Shape};
use crate::tally;

/// The display prefix of the key a response was served to, for the access log.
#[derive(Debug, Clone)]
pub struct KeyPrefix(pub String);

/// The parts of a request a view reads.
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The peer address, when the server knows it.
    pub remote: Option<SocketAddr>,
}

/// Serves a resolved endpoint; every response, errors included, carries DRF's view headers.
pub async fn serve(state: &AppState, route: &Resolved, request: &RequestInfo<'_>) -> Response {
    let params = QueryParams::parse(request.uri.query());
    let mut caller = None;
    let answer = respond(state, route, request, &params, &mut caller).await;
    let mut response = pipeline::view_response(answer, caller);
    let headers = response.headers_mut();
    // DRF's `default_response_headers` for a view with more than one renderer.
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

async fn respond(
    state: &AppState,
    route: &Resolved,
    request: &RequestInfo<'_>,
    params: &QueryParams,
    caller: &mut Option<String>,
) -> Result<Response, ApiError> {
    let endpoint = route.endpoint;
    let format = route
        .suffix
        .as_deref()
        .or_else(|| params.non_empty("format"));
    let selected = select(
        &RENDERERS,
        format,
        request.headers.get(header::ACCEPT).map(|v| v.as_bytes()),
    )?;
    let renderer = RENDERERS[selected.index];
    let rendering = selected.rendering;
    let key = pipeline::authenticate(state, request.headers)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    *caller = Some(key.prefix.clone());
    state.usage.record(key.id, chrono::Utc::now());
    pipeline::permit(&key, endpoint)?;
    pipeline::throttle(state, Some(&key), request).await?;
    if pipeline::method(request.method)? == Read::Options {
        return Ok(options(endpoint, rendering));
    }
    let url = absolute_uri(state, request);
    let generation = state.cache.generation(&state.db).await?;
    let tag = entity_tag(
        state,
        endpoint,
        &generation.latest,
        &url,
        renderer,
        rendering,
    );
    let ok_or_not_modified =
        |response: Response| conditional::respond(request.headers, &tag, response);
    // A body kept for this URL proves its request valid: the tag alone decides.
    if renderer == JSON {
        let cached = state.cache.get(generation.ticket, &url, rendering.indent);
        state.metrics.record_cache(cached.is_some());
        if let Some(body) = cached {
            return Ok(ok_or_not_modified(json_bytes_response(
                StatusCode::OK,
                body,
            )));
        }
    }
    let filtered = filters::condition(endpoint, params, state.db.backend())?;
    let condition = resolve(state, route, filtered.condition).await?;
    filters::require_core(endpoint, params)?;
    if let Some(not_modified) = conditional::check(request.headers, &tag) {
        return Ok(not_modified);
    }
    let fields = fields_of(endpoint);
    let query = PageQuery {
        endpoint,
        condition,
        period_alone: filtered.period_alone.filter(|_| endpoint.lookup.is_none()),
        kinds: &fields.kinds,
        ticket: generation.ticket,
    };
    if renderer == CSV {
        let rows = download_rows(state, params, &query).await?;
        let filename = csv_download::filename(endpoint, &route.params, params);
        let head = request.method == Method::HEAD;
        let fields = (fields.names.as_slice(), fields.kinds.as_slice());
        let response = csv_download::response(&state.db, fields, rows, &filename, head).await?;
        return Ok(ok_or_not_modified(response));
    }
    match endpoint.shape {
        Shape::Array => {
            let select = rows_of(endpoint, &query.condition, Order::Asc);
            let body = Rows {
                names: &fields.names,
                rows: state.db.fetch_cells(&select, query.kinds).await?,
            };
            let response = cached_response(state, query.ticket, url, rendering, &body);
            Ok(ok_or_not_modified(response))
        }
        Shape::Paginated => {
            let ticket = query.ticket;
            let body = page(state, params, query, &url).await?;
            Ok(ok_or_not_modified(cached_response(
                state, ticket, url, rendering, &body,
            )))
        }
    }
}

/// What a list view renders: DRF's JSON, or CSV.
const RENDERERS: [Renderer; 2] = [JSON, CSV];

/// The tag of a list response: the build, the paging settings, the URL (scheme, host, path and
/// query, as links are built from them), the renderer and indent, and the latest import of each
/// source whose imports change the rows served (`sources_of`).
fn entity_tag(
    state: &AppState,
    endpoint: &Endpoint,
    latest: &LatestImports,
    url: &str,
    renderer: Renderer,
    rendering: Rendering,
) -> EntityTag {
    let mut generation = String::new();
    for source in sources_of(endpoint) {
        let id = latest.get(*source).copied().unwrap_or(0);
        generation.push_str(&format!("{source}={id};"));
    }
    let settings = format!(
        "{}/{}",
        state.settings.page_size, state.settings.max_page_size
    );
    let indent = rendering.indent.unwrap_or(0).to_string();
    EntityTag::of(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        settings.as_bytes(),
        url.as_bytes(),
        renderer.media_type.as_bytes(),
        indent.as_bytes(),
        generation.as_bytes(),
    ])
}

/// The sources whose imports change what an endpoint serves: those refilling its table and,
/// for a path lookup, its parent's table (whose rows decide a 404).
fn sources_of(endpoint: &Endpoint) -> &'static [&'static str] {
    static SOURCES: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
        catalogue::endpoints()
            .iter()
            .map(|e| {
                let mut sources = catalogue::sources_refilling(e.table.name);
                if let Some(lookup) = &e.lookup {
                    sources.extend(catalogue::sources_refilling(lookup.parent_table));
                }
                sources.sort_unstable();
                sources.dedup();
                (e.path, sources)
            })
            .collect()
    });
    &SOURCES[endpoint.path]
}

/// The rows a CSV download holds: every row the filters select, or one page of them when the
/// request names a page or a page size, cut as the JSON pages are.
async fn download_rows(
    state: &AppState,
    params: &QueryParams,
    query: &PageQuery<'_>,
) -> Result<SelectStatement, ApiError> {
    let endpoint = query.endpoint;
    let paged = endpoint.shape == Shape::Paginated
        && (params.last("page").is_some() || params.last("page_size").is_some());
    let mut select = rows_of(endpoint, &query.condition, Order::Asc);
    if !paged {
        return Ok(select);
    }
    let size = page_size(
        params.last("page_size"),
        state.settings.page_size,
        state.settings.max_page_size,
    );
    let requested = page_request(params.last("page")).map_err(|_| ApiError::InvalidPage)?;
    let count = query.count(state).await?;
    let (page, _) = resolve_page(requested, count, size).map_err(|_| ApiError::InvalidPage)?;
    select
        .limit(u64::from(size))
        .offset((page - 1) * u64::from(size));
    Ok(select)
}

/// The rows a path parameter selects (`practices/{ods_code}/population/`), with Django's 404
/// when its parent object does not exist.
async fn resolve(
    state: &AppState,
    route: &Resolved,
    condition: Condition,
) -> Result<Condition, ApiError> {
    let Some(lookup) = &route.endpoint.lookup else {
        return Ok(condition);
    };
    let value = route
        .params
        .iter()
        .find(|(name, _)| *name == lookup.param)
        .map(|(_, v)| v.trim().to_uppercase())
        .unwrap_or_default();
    let not_found = || {
        ApiError::NotFound(format!(
            "No {} matches the given query.",
            lookup.parent_model
        ))
    };
    // No stored code holds a NUL, and PostgreSQL refuses one in a text parameter.
    if value.contains('\0') {
        return Err(not_found());
    }
    let mut exists = Query::select();
    exists
        .expr(Expr::val(1i64))
        .from(Alias::new(lookup.parent_table))
        .and_where(Expr::col(Alias::new(lookup.parent_column)).eq(value.as_str()))
        .limit(1);
    if state.db.fetch_i64(&exists).await?.is_none() {
        return Err(not_found());
    }
    Ok(condition.add(Expr::col(Alias::new(lookup.column)).eq(value)))
}

/// An endpoint's response fields and how each is decoded.
struct Fields {
    names: Vec<&'static str>,
    kinds: Vec<Kind>,
}

/// Every endpoint's fields, worked out once rather than per request.
fn fields_of(endpoint: &Endpoint) -> &'static Fields {
    static FIELDS: LazyLock<HashMap<&'static str, Fields>> = LazyLock::new(|| {
        catalogue::endpoints()
            .iter()
            .map(|e| {
                let fields = Fields {
                    names: e.field_names(),
                    kinds: e.field_columns().map(|c| c.kind).collect(),
                };
                (e.path, fields)
            })
            .collect()
    });
    &FIELDS[endpoint.path]
}

/// The endpoint's fields of the rows `condition` selects, in the endpoint's order, or in its
/// reverse when `order` is `Desc`.
fn rows_of(endpoint: &'static Endpoint, condition: &Condition, order: Order) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(fields_of(endpoint).names.iter().map(|f| Alias::new(*f)))
        .from(Alias::new(endpoint.table.name))
        .cond_where(condition.clone());
    for (column, direction) in endpoint.ordering {
        let ascending = (*direction == Direction::Asc) == matches!(order, Order::Asc);
        select.order_by(
            Alias::new(*column),
            if ascending { Order::Asc } else { Order::Desc },
        );
    }
    select
}

/// What a page is cut from.
struct PageQuery<'a> {
    endpoint: &'static Endpoint,
    condition: Condition,
    /// Set when the condition is one period and nothing else: its count is tallied.
    period_alone: Option<(&'static str, String)>,
    kinds: &'a [Kind],
    ticket: Ticket,
}

impl PageQuery<'_> {
    /// How many rows the filters select: counted once per data generation, or read from the
    /// imports' tally when the filters name a period alone.
    async fn count(&self, state: &AppState) -> Result<u64, ApiError> {
        let mut count_query = Query::select();
        count_query
            .expr(Func::count(Expr::cust("*")))
            .from(Alias::new(self.endpoint.table.name))
            .cond_where(self.condition.clone());
        let key = count_query.to_string(SqliteQueryBuilder);
        if let Some(count) = state.cache.count(self.ticket, &key) {
            return Ok(count);
        }
        let tallied = match &self.period_alone {
            Some((column, value)) => {
                tally::rows(&state.db, self.endpoint.table.name, column, value).await?
            }
            None => None,
        };
        let count = match tallied {
            Some(count) => count,
            None => state
                .db
                .fetch_i64(&count_query)
                .await?
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
        };
        state.cache.put_count(self.ticket, key, count);
        Ok(count)
    }

    /// Rows `offset..offset + len` of the endpoint's order. Past the middle of `count` rows
    /// they are read in reverse order from the end, so the last page of a million rows costs
    /// what the first does; the endpoint's order must then be total, or the two directions
    /// could cut ties differently.
    async fn rows(
        &self,
        state: &AppState,
        offset: u64,
        len: u64,
        count: u64,
    ) -> Result<Vec<Vec<Cell>>, ApiError> {
        let take = std::cmp::min(len, count.saturating_sub(offset));
        let from_end = count.saturating_sub(offset) - take;
        let reverse = from_end < offset && self.endpoint.orders_totally();
        let (order, skip) = if reverse {
            (Order::Desc, from_end)
        } else {
            (Order::Asc, offset)
        };
        let mut select = rows_of(self.endpoint, &self.condition, order);
        select.limit(take).offset(skip);
        let mut rows = state.db.fetch_cells(&select, self.kinds).await?;
        if reverse {
            rows.reverse();
        }
        Ok(rows)
    }
}

/// The requested page, with the count and links of DRF `PageNumberPagination`.
async fn page(
    state: &AppState,
    params: &QueryParams,
    request: PageQuery<'_>,
    url: &str,
) -> Result<Page, ApiError> {
    let size = page_size(
        params.last("page_size"),
        state.settings.page_size,
        state.settings.max_page_size,
    );
    let requested = page_request(params.last("page")).map_err(|_| ApiError::InvalidPage)?;
    // Most queries fit on their first page (one practice's rows, a code search): a first page
    // that is not full holds the whole result, so its length is the count.
    let first_page = if requested == PageRequest::Number(1) {
        let mut select = rows_of(request.endpoint, &request.condition, Order::Asc);
        select.limit(u64::from(size));
        Some(state.db.fetch_cells(&select, request.kinds).await?)
    } else {
        None
    };
    let count = match &first_page {
        Some(rows) if rows.len() < size as usize => rows.len() as u64,
        _ => request.count(state).await?,
    };
    let (page, num_pages) =
        resolve_page(requested, count, size).map_err(|_| ApiError::InvalidPage)?;
    let rows = match first_page {
        Some(rows) => rows,
        None => {
            let offset = (page - 1) * u64::from(size);
            request.rows(state, offset, u64::from(size), count).await?
        }
    };
    let (next, previous) = links(url, page, num_pages);
    Ok(Page {
        count,
        next,
        previous,
        results: Rows {
            names: &fields_of(request.endpoint).names,
            rows,
        },
    })
}

/// Renders a 200 body and keeps it for the next request for the same URL.
fn cached_response<T: Serialize>(
    state: &AppState,
    ticket: Ticket,
    url: String,
    rendering: Rendering,
    body: &T,
) -> Response {
    let bytes = Bytes::from(render(body, rendering.indent));
    state
        .cache
        .put(ticket, url, rendering.indent, bytes.clone());
    json_bytes_response(StatusCode::OK, bytes)
}

fn options(endpoint: &Endpoint, rendering: Rendering) -> Response {
    let body = json!({
        "name": endpoint.view_name,
        "description": endpoint.description,
        "renders": RENDERERS.map(|r| r.media_type),
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    });
    json_response(StatusCode::OK, &body, rendering.indent)
}

/// `request.build_absolute_uri()`: scheme, `Host` header (port included) and the full path.
pub(crate) fn absolute_uri(state: &AppState, request: &RequestInfo<'_>) -> String {
    let path_and_query = request
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{}{path_and_query}", origin(state, request))
}

/// The scheme and `Host` (port included) of `build_absolute_uri()`.
pub(crate) fn origin(state: &AppState, request: &RequestInfo<'_>) -> String {
    let secure = state.settings.trust_forwarded_proto
        && request
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let scheme = if secure { "https" } else { "http" };
    let host = request
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// Rows serialised as objects keyed by field name, in declaration order.
struct Rows {
    names: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

struct Row<'a> {
    names: &'a [&'static str],
    cells: &'a [Cell],
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for cells in &self.rows {
            seq.serialize_element(&Row {
                names: self.names,
                cells,
            })?;
        }
        seq.end()
    }
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.names.len()))?;
        for (name, cell) in self.names.iter().zip(self.cells) {
            map.serialize_entry(name, cell)?;
        }
        map.end()
    }
}

/// DRF `PageNumberPagination`'s envelope.
#[derive(Serialize)]
struct Page {
    count: u64,
    next: Option<String>,
    previous: Option<String>,
    results: Rows,
}
