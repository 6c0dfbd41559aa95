//! The catalogue: the one list of datasets. Endpoints, tables, import sources, key scopes,
//! `import --help`, the demo and the order of rebuilds are all derived from it; adding a dataset
//! is a folder of its own and one line in `DATASETS`.

pub mod appointments;
pub mod cloud_telephony;
mod dataset;
pub mod gp_contract;
pub mod gpps;
pub mod list_sizes;
pub mod nwrs;
pub mod ods;
pub mod online_consultations;
pub mod payments;
pub mod pcn_des;
pub mod qof;
pub mod registrations;

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

pub use dataset::{
    Cadence, Claimed, Dataset, Derivation, Derive, LoadContext, LoadFuture, Loaded, Publication,
    Slice, Source,
};

use crate::schema::{Endpoint, Filter, FilterKind, Table};

/// Every dataset, in the order the index and the schema document list their endpoints.
pub static DATASETS: &[&Dataset] = &[
    &ods::PRACTICES_DATASET,
    &registrations::DATASET,
    &ods::PCNS_DATASET,
    &list_sizes::DATASET,
    &nwrs::DATASET,
    &qof::DATASET,
    &appointments::DATASET,
    &online_consultations::DATASET,
    &cloud_telephony::DATASET,
    &pcn_des::DATASET,
    &gp_contract::DATASET,
    &gpps::DATASET,
    &payments::DATASET,
];

/// Every served endpoint, in the order the index and schema list them.
pub fn endpoints() -> &'static [&'static Endpoint] {
    static ENDPOINTS: LazyLock<Vec<&'static Endpoint>> = LazyLock::new(|| {
        DATASETS
            .iter()
            .flat_map(|d| d.endpoints.iter().copied())
            .collect()
    });
    &ENDPOINTS
}

/// Whether an endpoint reads `table`, as its own table or to look up the parent a path names.
pub fn is_served(table: &Table) -> bool {
    endpoints().iter().any(|endpoint| {
        endpoint.table.name == table.name
            || endpoint
                .lookup
                .as_ref()
                .is_some_and(|lookup| lookup.parent_table == table.name)
    })
}

/// Every table a dataset owns.
pub fn tables() -> impl Iterator<Item = &'static Table> {
    DATASETS.iter().flat_map(|d| d.tables.iter().copied())
}

pub fn sources() -> impl Iterator<Item = &'static Source> {
    DATASETS.iter().flat_map(|d| d.sources.iter().copied())
}

pub fn source(name: &str) -> Option<&'static Source> {
    sources().find(|s| s.name == name)
}

/// The sources whose imports refill `table`: those that write it, or a table it is derived from.
pub fn sources_refilling(table: &str) -> Vec<&'static str> {
    sources()
        .filter(|source| {
            source.writes.iter().any(|t| t.name == table)
                || derivations_after(source)
                    .iter()
                    .any(|d| d.writes.iter().any(|t| t.name == table))
        })
        .map(|source| source.name)
        .collect()
}

/// Every derivation, each after those whose tables it reads.
fn derivations() -> impl Iterator<Item = &'static Derivation> {
    DATASETS.iter().flat_map(|d| d.derivations.iter().copied())
}

/// The derivations an import of `source` makes stale: those reading a table it writes, then
/// those reading a table one of them writes, in order.
pub fn derivations_after(source: &Source) -> Vec<&'static Derivation> {
    let mut changed: Vec<&str> = source.writes.iter().map(|t| t.name).collect();
    let mut stale = Vec::new();
    for derivation in derivations() {
        if derivation.reads.iter().any(|t| changed.contains(&t.name)) {
            changed.extend(derivation.writes.iter().map(|t| t.name));
            stale.push(derivation);
        }
    }
    stale
}

/// The key scope that reads `endpoint`: its dataset's. Looked up by path, from a map built
/// once, since every authenticated request asks.
pub fn scope_of(endpoint: &Endpoint) -> &'static str {
    static SCOPES: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
        DATASETS
            .iter()
            .flat_map(|d| d.endpoints.iter().map(|e| (e.path, d.scope)))
            .collect()
    });
    SCOPES.get(endpoint.path).copied().unwrap_or("")
}

/// The scopes a key may be limited to.
pub fn scopes() -> BTreeSet<&'static str> {
    DATASETS.iter().map(|d| d.scope).collect()
}

/// Every `(table, column)` a period filter among an endpoint's core filters reads, once each:
/// imports tally their rows per period (`crate::tally`).
pub fn tallied_columns() -> &'static [(&'static str, &'static str)] {
    static TALLIED: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
        let mut columns: Vec<_> = endpoints()
            .iter()
            .flat_map(|endpoint| {
                endpoint
                    .filters
                    .iter()
                    .filter(|filter| {
                        endpoint.core.contains(&filter.name) && filter.kind.is_period()
                    })
                    .map(|filter| (endpoint.table.name, filter.kind.column()))
            })
            .collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    });
    &TALLIED
}

/// The period a dataset is reported by: the period filter among the core filters of its first
/// endpoint that has one (so imports tally it), with that endpoint. `None` for a dataset without
/// periods, such as an ODS snapshot.
pub fn period_of(dataset: &Dataset) -> Option<(&'static Endpoint, &'static Filter)> {
    dataset.endpoints.iter().find_map(|endpoint| {
        endpoint
            .period_filter()
            .filter(|filter| endpoint.core.contains(&filter.name))
            .map(|filter| (*endpoint, filter))
    })
}

/// The sources a dataset's rows come from: its own, or for a dataset with none, derived from
/// the tables of others (list sizes), the sources whose imports refill its tables.
pub fn sources_of(dataset: &Dataset) -> Vec<&'static str> {
    if !dataset.sources.is_empty() {
        return dataset.sources.iter().map(|s| s.name).collect();
    }
    let mut names: Vec<&'static str> = dataset
        .tables
        .iter()
        .flat_map(|table| sources_refilling(table.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The endpoint listing practices: `practices/{ods_code}/` serves one of its rows.
pub fn practice_list() -> &'static Endpoint {
    &ods::PRACTICES_ENDPOINT
}

/// An endpoint with rows per practice and period, and its filters by both.
pub struct ByPractice {
    pub endpoint: &'static Endpoint,
    pub practice: &'static Filter,
    pub period: &'static Filter,
}

/// Every endpoint with a `practice` filter and a period filter, in the catalogue's order.
pub fn by_practice() -> &'static [ByPractice] {
    static BY_PRACTICE: LazyLock<Vec<ByPractice>> = LazyLock::new(|| {
        endpoints()
            .iter()
            .filter_map(|endpoint| {
                Some(ByPractice {
                    endpoint,
                    practice: endpoint
                        .filters
                        .iter()
                        .find(|f| f.name == "practice" && matches!(f.kind, FilterKind::Code(_)))?,
                    period: endpoint.period_filter()?,
                })
            })
            .collect()
    });
    &BY_PRACTICE
}

/// The columns of `table` a search filter reads.
pub fn searched_columns_of(table: &Table) -> Vec<&'static str> {
    searched_columns()
        .into_iter()
        .filter(|(name, _)| *name == table.name)
        .map(|(_, column)| column)
        .collect()
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
                    FilterKind::Search { column, .. } => Some((endpoint.table.name, column)),
                    _ => None,
                })
        })
        .collect();
    columns.sort_unstable();
    columns.dedup();
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `practices/{ods_code}/` reads the latest period of each of these for one practice: a
    /// `MAX` at the end of an index's entries for the practice, never a scan of its rows.
    #[test]
    fn endpoints_by_practice_are_indexed_by_practice_then_period() {
        let names: Vec<String> = by_practice().iter().map(|b| b.endpoint.name()).collect();
        assert!(names.contains(&"qof_achievement".to_owned()), "{names:?}");
        assert!(names.contains(&"gp_appointments".to_owned()), "{names:?}");
        for b in by_practice() {
            let leading = [b.practice.kind.column(), b.period.kind.column()];
            let table = b.endpoint.table;
            assert!(
                table.primary_key.starts_with(&leading)
                    || table.indexes.iter().any(|i| i.starts_with(&leading)),
                "{}: no index on {leading:?}",
                b.endpoint.path
            );
        }
    }

    /// A dataset's periods are those of its first endpoint with a period among its core
    /// filters, which imports tally.
    #[test]
    fn each_dataset_is_reported_by_one_tallied_period() {
        let periods: Vec<(&str, Option<&str>)> = DATASETS
            .iter()
            .map(|d| (d.name, period_of(d).map(|(_, filter)| filter.name)))
            .collect();
        assert_eq!(
            periods,
            [
                ("practices", None),
                ("registrations", None),
                ("pcns", None),
                ("list-sizes", Some("month")),
                ("nwrs", Some("snapshot")),
                ("qof", Some("year")),
                ("appointments", Some("month")),
                ("online_consultations", Some("month")),
                ("cloud_telephony", Some("month")),
                ("pcn_des", Some("date")),
                ("gp_contract", Some("date")),
                ("gpps", Some("year")),
                ("payments", Some("year")),
            ]
        );
        for dataset in DATASETS {
            if let Some((endpoint, filter)) = period_of(dataset) {
                assert!(
                    tallied_columns().contains(&(endpoint.table.name, filter.kind.column())),
                    "{}",
                    dataset.name
                );
            }
            assert!(
                dataset.publication.url.starts_with("https://"),
                "{}",
                dataset.name
            );
        }
        assert!(
            sources_of(&list_sizes::DATASET).contains(&"registrations"),
            "derived from the registrations"
        );
        assert_eq!(sources_of(&appointments::DATASET), ["appointments"]);
    }

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
                if let FilterKind::Search { fields, .. } = filter.kind {
                    for field in fields {
                        assert!(
                            endpoint.table.column(field).is_some(),
                            "{}: {field}",
                            endpoint.path
                        );
                    }
                }
                let column = filter.kind.column();
                assert!(
                    endpoint.table.column(column).is_some(),
                    "{}: {column}",
                    endpoint.path
                );
                // A search has its own substring index, and a code in a list is matched among
                // the rows the core filters narrow to; every other filter must lead an index.
                let scanned = match filter.kind {
                    FilterKind::Search { .. } => true,
                    FilterKind::CodeInList(_) => !endpoint.core.is_empty(),
                    _ => false,
                };
                assert!(
                    scanned || leads_index(column),
                    "{}: {column} is not indexed",
                    endpoint.path
                );
            }
            if let Some(lookup) = &endpoint.lookup {
                assert!(
                    leads_index(lookup.column),
                    "{}: {}",
                    endpoint.path,
                    lookup.column
                );
                assert!(endpoint.path.contains(&format!("{{{}}}", lookup.param)));
                let parent = tables().find(|t| t.name == lookup.parent_table);
                assert!(
                    parent.is_some_and(|t| t.column(lookup.parent_column).is_some()),
                    "{}: {}.{}",
                    endpoint.path,
                    lookup.parent_table,
                    lookup.parent_column
                );
            }
        }
    }

    /// Whether `sql` names `table` as a whole word.
    fn mentions(sql: &str, table: &str) -> bool {
        sql.match_indices(table).any(|(at, _)| {
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            !word(sql[..at].chars().next_back()) && !word(sql[at + table.len()..].chars().next())
        })
    }

    #[test]
    fn derivations_name_exactly_the_tables_their_statements_use() {
        for derivation in derivations() {
            // The rows of a `Rows` derivation are inserted into its table by the runner.
            let (sql, written) = match derivation.how {
                Derive::Rows(select) => (select.to_owned(), &[][..]),
                Derive::Statements(statements) => (statements.join("\n"), derivation.writes),
            };
            let declared: Vec<&str> = derivation
                .reads
                .iter()
                .chain(written)
                .map(|t| t.name)
                .collect();
            for table in tables() {
                assert_eq!(
                    mentions(&sql, table.name),
                    declared.contains(&table.name),
                    "a derivation writing {:?}: {}",
                    derivation.writes.iter().map(|t| t.name).collect::<Vec<_>>(),
                    table.name
                );
            }
        }
    }

    #[test]
    fn a_derivation_of_rows_writes_one_table() {
        for derivation in derivations() {
            if let Derive::Rows(_) = derivation.how {
                let names: Vec<&str> = derivation.writes.iter().map(|t| t.name).collect();
                assert_eq!(names.len(), 1, "rows for {names:?}");
            }
        }
    }

    #[test]
    fn derivations_run_after_those_they_read_from() {
        let all: Vec<&Derivation> = derivations().collect();
        for (i, derivation) in all.iter().enumerate() {
            for later in &all[i + 1..] {
                for table in derivation.reads {
                    assert!(
                        !later.writes.iter().any(|w| std::ptr::eq(*w, *table)),
                        "{} is read before a later derivation writes it",
                        table.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_table_has_one_owner_and_sources_write_their_own() {
        let mut names: Vec<&str> = tables().map(|t| t.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a table is owned twice");
        for dataset in DATASETS {
            for source in dataset.sources {
                for table in source.writes {
                    assert!(
                        dataset.tables.iter().any(|t| std::ptr::eq(*t, *table)),
                        "{} writes {}, which {} does not own",
                        source.name,
                        table.name,
                        dataset.name
                    );
                }
            }
            for endpoint in dataset.endpoints {
                assert!(
                    dataset
                        .tables
                        .iter()
                        .any(|t| std::ptr::eq(*t, endpoint.table)),
                    "{} serves a table {} does not own",
                    endpoint.path,
                    dataset.name
                );
                assert_eq!(scope_of(endpoint), dataset.scope);
            }
        }
    }

    #[test]
    fn an_import_reruns_only_what_reads_its_tables() {
        let stale = |name: &str| -> Vec<Vec<&str>> {
            derivations_after(source(name).unwrap())
                .iter()
                .map(|d| d.writes.iter().map(|t| t.name).collect())
                .collect()
        };
        assert_eq!(
            stale("epraccur"),
            vec![
                vec!["practices"],
                vec!["list_sizes"],
                vec!["pcn_des"],
                vec!["gp_contract_practices"]
            ]
        );
        assert_eq!(
            stale("epcn"),
            vec![
                vec!["practices"],
                vec!["pcns"],
                vec!["pcn_des"],
                vec!["gp_contract_practices"]
            ]
        );
        assert_eq!(
            stale("registrations"),
            vec![
                vec!["practices"],
                vec!["practice_populations"],
                vec!["pcns"],
                vec!["list_sizes"],
                vec!["pcn_des"],
                vec!["gp_contract_practices"]
            ]
        );
        assert_eq!(stale("pcn-des"), vec![vec!["pcn_des"]]);
        assert_eq!(
            stale("gp-contract"),
            vec![
                vec!["gp_contract_practices"],
                vec!["gp_contract_indicators"]
            ]
        );
        assert_eq!(stale("nwrs"), vec![vec!["nwrs_snapshots"]]);
        assert_eq!(stale("qof").len(), 1);
    }
}
