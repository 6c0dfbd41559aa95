//! The catalogue: every dataset declared once. Routing, validation, SQL, the schema document,
//! the index and the import CLI are all derived from these lists.

pub mod list_sizes;
pub mod nwrs;
pub mod ods;
pub mod qof;
pub mod registrations;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use indicatif::ProgressBar;

use crate::db::Tx;
use crate::schema::{Endpoint, Table};
use crate::source::SourceFile;
use crate::source::error::ImportError;

/// Every served endpoint, in the order the index and schema list them.
pub fn endpoints() -> &'static [&'static Endpoint] {
    static ENDPOINTS: [&Endpoint; 11] = [
        &ods::PRACTICES_ENDPOINT,
        &registrations::POPULATION_ENDPOINT,
        &ods::PCNS_ENDPOINT,
        &list_sizes::LIST_SIZES_ENDPOINT,
        &nwrs::SNAPSHOTS_ENDPOINT,
        &nwrs::NWRS_ENDPOINT,
        &qof::YEARS_ENDPOINT,
        &qof::INDICATORS_ENDPOINT,
        &qof::PREVALENCE_ENDPOINT,
        &qof::PREVALENCE_NATIONAL_ENDPOINT,
        &qof::ACHIEVEMENT_ENDPOINT,
    ];
    &ENDPOINTS
}

/// Every `(table, column)` a search filter reads, once each; the database indexes them for
/// substrings.
pub fn searched_columns() -> Vec<(&'static str, &'static str)> {
    let mut columns: Vec<_> = endpoints()
        .iter()
        .flat_map(|endpoint| {
            endpoint
                .filters
                .iter()
                .filter_map(|filter| match filter.kind {
                    crate::schema::FilterKind::Search { column, .. } => {
                        Some((endpoint.table.name, column))
                    }
                    _ => None,
                })
        })
        .collect();
    columns.sort_unstable();
    columns.dedup();
    columns
}

/// Every table a dataset owns: source tables first, then the served tables derived from them.
pub fn tables() -> &'static [&'static Table] {
    static TABLES: [&Table; 19] = [
        &ods::ODS_PRACTICES,
        &ods::ODS_PCNS,
        &ods::ODS_PCN_MEMBERSHIPS,
        &registrations::REG_PRACTICE_MAP,
        &registrations::REG_POPULATIONS,
        &ods::PRACTICES,
        &ods::PCNS,
        &registrations::PRACTICE_POPULATIONS,
        &list_sizes::LIST_SIZES,
        &nwrs::NWRS,
        &nwrs::NWRS_SNAPSHOTS,
        &qof::QOF_YEAR_SETTINGS,
        &qof::QOF_PRACTICES,
        &qof::QOF_PRACTICE_POINTS,
        &qof::QOF_INDICATORS,
        &qof::QOF_PREVALENCE,
        &qof::QOF_ACHIEVEMENT,
        &qof::QOF_PREVALENCE_NATIONAL,
        &qof::QOF_YEARS,
    ];
    &TABLES
}

/// What loading one file produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rows: u64,
    /// Reporting periods the file held (ISO dates or years); empty for snapshots such as ODS.
    pub periods: BTreeSet<String>,
}

pub struct LoadContext {
    pub import_id: i64,
    pub progress: ProgressBar,
}

pub type LoadFuture<'a> = Pin<Box<dyn Future<Output = Result<Loaded, ImportError>> + Send + 'a>>;

/// A publication `haresign import <name>` accepts.
pub struct Source {
    pub name: &'static str,
    pub description: &'static str,
    pub group: &'static str,
    /// Replaces the periods the file holds with its rows, inside the import's transaction.
    pub load: for<'a> fn(&'a mut Tx, &'a SourceFile, &'a LoadContext) -> LoadFuture<'a>,
}

/// Statements that rebuild a group's served tables from its source tables, run in the import's
/// transaction after every import into that group.
pub struct Derivation {
    pub group: &'static str,
    pub statements: &'static [&'static str],
}

pub fn sources() -> &'static [&'static Source] {
    static SOURCES: [&Source; 5] = [
        &ods::load::EPRACCUR,
        &ods::load::EPCN,
        &registrations::load::REGISTRATIONS,
        &nwrs::load::NWRS,
        &qof::load::QOF,
    ];
    &SOURCES
}

pub fn derivations() -> &'static [Derivation] {
    &[
        Derivation {
            group: ods::GROUP,
            statements: ods::derive::PRACTICES,
        },
        Derivation {
            group: ods::GROUP,
            statements: ods::derive::PCNS,
        },
        Derivation {
            group: ods::GROUP,
            statements: registrations::DERIVE,
        },
        Derivation {
            group: ods::GROUP,
            statements: list_sizes::DERIVE,
        },
        Derivation {
            group: nwrs::GROUP,
            statements: nwrs::DERIVE,
        },
        Derivation {
            group: qof::GROUP,
            statements: qof::DERIVE,
        },
    ]
}

pub fn source(name: &str) -> Option<&'static Source> {
    sources().iter().copied().find(|s| s.name == name)
}

/// Dataset groups a key's scope may name.
pub fn groups() -> BTreeSet<&'static str> {
    endpoints().iter().map(|e| e.group).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FilterKind;

    /// Every declaration must be internally consistent: fields, filters and ordering name real
    /// columns, and every filter column is indexed.
    #[test]
    fn declarations_are_consistent() {
        for endpoint in endpoints() {
            assert!(endpoint.path.ends_with('/'), "{}", endpoint.path);
            for field in endpoint.fields {
                assert!(
                    endpoint.table.column(field).is_some(),
                    "{}: {field}",
                    endpoint.path
                );
            }
            for (column, _) in endpoint.ordering {
                assert!(
                    endpoint.table.column(column).is_some(),
                    "{}: {column}",
                    endpoint.path
                );
            }
            for name in endpoint.core {
                assert!(
                    endpoint.filters.iter().any(|f| f.name == *name),
                    "{}: core {name}",
                    endpoint.path
                );
            }
            let leads_index = |column: &str| {
                endpoint.table.primary_key.first() == Some(&column)
                    || endpoint
                        .table
                        .indexes
                        .iter()
                        .any(|i| i.first() == Some(&column))
            };
            for filter in endpoint.filters {
                let columns: &[&str] = match filter.kind {
                    FilterKind::Search { column, fields } => {
                        for field in fields {
                            assert!(
                                endpoint.table.column(field).is_some(),
                                "{}: {field}",
                                endpoint.path
                            );
                        }
                        &[column]
                    }
                    FilterKind::Code(c)
                    | FilterKind::LowerCode(c)
                    | FilterKind::Date(c)
                    | FilterKind::Month(c)
                    | FilterKind::FinancialYear(c)
                    | FilterKind::Boolean(c) => &[c],
                };
                for column in columns {
                    assert!(
                        endpoint.table.column(column).is_some(),
                        "{}: {column}",
                        endpoint.path
                    );
                }
                // A search has its own substring index; every other filter must lead an index.
                let scanned = matches!(filter.kind, FilterKind::Search { .. });
                if let [column] = columns
                    && !scanned
                {
                    assert!(
                        leads_index(column),
                        "{}: {column} is not indexed",
                        endpoint.path
                    );
                }
            }
            if let Some(lookup) = &endpoint.lookup {
                assert!(
                    leads_index(lookup.column),
                    "{}: {}",
                    endpoint.path,
                    lookup.column
                );
                assert!(endpoint.path.contains(&format!("{{{}}}", lookup.param)));
            }
        }
    }
}
