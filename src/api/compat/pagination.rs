//! DRF `PageNumberPagination` and Django `Paginator`: page size, page number and page count.

use thiserror::Error;

use super::python::{PyInt, parse_py_int};
use super::urls::{remove_query_param, replace_query_param};

/// DRF `PageNumberPagination.get_page_size`: `_positive_int(raw, strict=True, cutoff=max)`,
/// falling back to `default` on any error (absent, empty, not an integer, zero, negative).
/// Values above `max` are clamped to `max`, however large. As in DRF, a `max` of 0 means
/// no cutoff (the result then saturates at `u32::MAX`).
pub fn page_size(raw: Option<&str>, default: u32, max: u32) -> u32 {
    let clamp = |n: u64| {
        let n = if max == 0 { n } else { n.min(u64::from(max)) };
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    match raw.and_then(parse_py_int) {
        Some(PyInt::Value(n)) if n > 0 => clamp(n.unsigned_abs()),
        Some(PyInt::Overflow { negative: false }) => clamp(u64::MAX),
        _ => default,
    }
}

/// The page a client asked for, before it is checked against the number of pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRequest {
    Number(i64),
    Last,
}

/// DRF's pagination 404; the body is `{"detail":"Invalid page."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("Invalid page.")]
pub struct InvalidPage;

/// DRF `PageNumberPagination.get_page_number` plus the integer check of Django's
/// `Paginator.validate_number`: absent or empty means page 1, exactly `last` (case-sensitive)
/// means the last page, anything else goes through Python `int()`.
///
/// A number too large for an `i64` is already an invalid page, since it exceeds any page
/// count. In DRF the error only surfaces after filtering and counting, so callers must
/// report it in that order.
pub fn page_request(raw: Option<&str>) -> Result<PageRequest, InvalidPage> {
    match raw {
        None | Some("") => Ok(PageRequest::Number(1)),
        Some("last") => Ok(PageRequest::Last),
        Some(s) => match parse_py_int(s) {
            Some(PyInt::Value(n)) => Ok(PageRequest::Number(n)),
            Some(PyInt::Overflow { .. }) | None => Err(InvalidPage),
        },
    }
}

/// Django `Paginator.validate_number` with `num_pages = max(1, ceil(count / page_size))`
/// (`orphans = 0`, `allow_empty_first_page = True`). Returns `(page, num_pages)`. A
/// `page_size` of 0 is treated as 1.
pub fn resolve_page(
    req: PageRequest,
    count: u64,
    page_size: u32,
) -> Result<(u64, u64), InvalidPage> {
    let num_pages = count.div_ceil(u64::from(page_size.max(1))).max(1);
    match req {
        PageRequest::Last => Ok((num_pages, num_pages)),
        PageRequest::Number(n) => match u64::try_from(n) {
            Ok(page) if (1..=num_pages).contains(&page) => Ok((page, num_pages)),
            _ => Err(InvalidPage),
        },
    }
}

/// DRF `PageNumberPagination.get_next_link` and `get_previous_link` of page `page` out of
/// `num_pages`, for the request's absolute `url`; the link to page 1 has no `page` parameter.
pub fn links(url: &str, page: u64, num_pages: u64) -> (Option<String>, Option<String>) {
    let next =
        (page < num_pages).then(|| replace_query_param(url, "page", &(page + 1).to_string()));
    let previous = (page > 1).then(|| {
        if page == 2 {
            remove_query_param(url, "page")
        } else {
            replace_query_param(url, "page", &(page - 1).to_string())
        }
    });
    (next, previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::compat::querydict::QueryParams;

    #[test]
    fn page_size_rule() {
        for raw in [
            None,
            Some(""),
            Some("abc"),
            Some("0"),
            Some("-5"),
            Some("1.5"),
            Some("-0"),
        ] {
            assert_eq!(page_size(raw, 100, 500), 100, "{raw:?}");
        }
        assert_eq!(page_size(Some("1"), 100, 500), 1);
        assert_eq!(page_size(Some("500"), 100, 500), 500);
        assert_eq!(page_size(Some("501"), 100, 500), 500);
        assert_eq!(page_size(Some("1000"), 100, 500), 500);
        assert_eq!(page_size(Some(" 7 "), 100, 500), 7);
        assert_eq!(page_size(Some("+7"), 100, 500), 7);
        assert_eq!(page_size(Some("1_0"), 100, 500), 10);
        assert_eq!(page_size(Some("99999999999999999999999"), 100, 500), 500);
        assert_eq!(page_size(Some("-99999999999999999999999"), 100, 500), 100);
        assert_eq!(page_size(Some(&"9".repeat(4301)), 100, 500), 100);
        assert_eq!(page_size(Some("1000"), 100, 0), 1000);
        assert_eq!(page_size(Some("99999999999"), 100, 0), u32::MAX);
    }

    #[test]
    fn page_request_rule() {
        let q = QueryParams::parse(Some("page=%202&b=1_0&c=last&d=LAST&e=1.0&f=%20%20"));
        assert_eq!(page_request(None), Ok(PageRequest::Number(1)));
        assert_eq!(page_request(Some("")), Ok(PageRequest::Number(1)));
        assert_eq!(page_request(q.last("page")), Ok(PageRequest::Number(2)));
        assert_eq!(page_request(q.last("b")), Ok(PageRequest::Number(10)));
        assert_eq!(page_request(q.last("c")), Ok(PageRequest::Last));
        assert_eq!(page_request(q.last("d")), Err(InvalidPage));
        assert_eq!(page_request(q.last("e")), Err(InvalidPage));
        assert_eq!(page_request(q.last("f")), Err(InvalidPage));
        assert_eq!(page_request(Some(" last")), Err(InvalidPage));
        assert_eq!(page_request(Some("abc")), Err(InvalidPage));
        assert_eq!(page_request(Some("0")), Ok(PageRequest::Number(0)));
        assert_eq!(page_request(Some("-1")), Ok(PageRequest::Number(-1)));
        assert_eq!(page_request(Some("99999999999999999999")), Err(InvalidPage));
        assert_eq!(InvalidPage.to_string(), "Invalid page.");
    }

    #[test]
    fn resolve_page_rule() {
        use PageRequest::{Last, Number};
        assert_eq!(resolve_page(Number(1), 250, 100), Ok((1, 3)));
        assert_eq!(resolve_page(Number(3), 250, 100), Ok((3, 3)));
        assert_eq!(resolve_page(Number(4), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Number(0), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Number(-1), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Number(i64::MIN), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Last, 250, 100), Ok((3, 3)));
        assert_eq!(resolve_page(Last, 300, 100), Ok((3, 3)));
        assert_eq!(resolve_page(Number(1), 0, 100), Ok((1, 1)));
        assert_eq!(resolve_page(Number(2), 0, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Last, 0, 100), Ok((1, 1)));
        assert_eq!(resolve_page(Number(1), 1, 500), Ok((1, 1)));
        assert_eq!(resolve_page(Number(2), 101, 100), Ok((2, 2)));
        assert_eq!(resolve_page(Number(2), 5, 0), Ok((2, 5)));
    }
}
