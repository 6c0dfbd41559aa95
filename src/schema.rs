//! The declaration types every dataset is written in; they depend on nothing else. A dataset's
//! table, fields, filters, core rule and ordering live in one value; routing, validation, SQL,
//! the schema document and the index are all derived from it.

/// How a column is stored and how it reaches the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    /// Fixed-point value stored as an integer scaled by 10^places; served as a DRF decimal string.
    Decimal(u32),
    Float,
    Date,
    Boolean,
    Timestamp,
    /// A JSON object of the measures a source publishes beside the declared columns (one key
    /// per published column name, in the file's order), stored as its JSON text.
    Object(ObjectValues),
}

/// What the values of an `Object` column are, for the schema document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectValues {
    /// JSON numbers, or null where the source suppressed the value.
    Number,
    /// DRF decimal strings as published, or null where the source has none.
    Decimal,
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// Whether endpoints serve it by default (provenance and search helpers are not served).
    pub served: bool,
    pub description: &'static str,
}

/// Shorthands keep table declarations readable.
pub const fn col(name: &'static str, kind: Kind, description: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        served: true,
        description,
    }
}

pub const fn opt(name: &'static str, kind: Kind, description: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        served: true,
        description,
    }
}

/// A column that is kept but not served unless an endpoint names it: provenance, search text.
pub const fn internal(name: &'static str, kind: Kind, description: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        served: false,
        description,
    }
}

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub primary_key: &'static [&'static str],
    /// Secondary indexes; every filter column must lead one of these (or the primary key).
    pub indexes: &'static [&'static [&'static str]],
}

impl Table {
    /// A primary key that is a single `id` column is numbered by the database.
    pub fn numbers_its_rows(&self) -> bool {
        self.primary_key == ["id"]
    }

    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns of its primary key and indexes, each once, in the table's column order: the
    /// columns that statements filter, join, group and order by.
    pub fn indexed_columns(&self) -> Vec<&'static str> {
        let indexed = |name: &str| {
            self.primary_key.contains(&name) || self.indexes.iter().any(|i| i.contains(&name))
        };
        self.columns
            .iter()
            .map(|c| c.name)
            .filter(|name| indexed(name))
            .collect()
    }
}

/// How a filter reads its query parameter and which column it constrains.
#[derive(Debug, Clone, Copy)]
pub enum FilterKind {
    /// Exact match after trimming; values are stored upper-case, so the input is upper-cased.
    Code(&'static str),
    /// Exact match after trimming, for codes this service stores lower-case (`org_type`): the
    /// input is lower-cased.
    LowerCode(&'static str),
    /// A code within a column that may hold a comma-separated list of them (`ACCURX LIMITED,
    /// ECONSULT HEALTH LIMITED`): matches rows listing it, case-insensitively after trimming;
    /// several codes separated by commas must all be listed. Read by a scan of the rows the
    /// other filters narrow to, so it is only declared beside core filters.
    CodeInList(&'static str),
    /// A published band label matched whatever its spacing (`08:00-09:59` finds `08:00 - 09:59`):
    /// the input has every whitespace character removed and is upper-cased, and the column
    /// holds the label folded the same way (`fold_label`).
    Label(&'static str),
    /// DRF `SearchFilter`: every term must be a case-insensitive substring of one of `fields`.
    /// `column` holds those fields lower-cased and joined by spaces, built when the table is
    /// derived, so a search is one substring match per term (from the column's trigram index
    /// on SQLite). Terms never contain spaces, so no term can match across two fields.
    Search {
        column: &'static str,
        fields: &'static [&'static str],
    },
    /// django-filter `DateFilter` on a date column.
    Date(&'static str),
    /// A date that selects the month starting on the first day of its month.
    Month(&'static str),
    /// Financial year stored as `2025/26`; accepts `2025-26` and `202526`.
    FinancialYear(&'static str),
    /// A calendar or survey year stored as an integer (`2025`), read as django-filter's
    /// `NumberFilter` reads a number for an integer column.
    Year(&'static str),
    /// DRF boolean: unrecognised values are ignored.
    Boolean(&'static str),
}

/// A band label as a `Label` filter compares it: without whitespace, upper-cased.
pub fn fold_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

impl FilterKind {
    /// The column the filter constrains (for a search, the column of its folded fields).
    pub fn column(&self) -> &'static str {
        match *self {
            FilterKind::Search { column, .. }
            | FilterKind::Code(column)
            | FilterKind::CodeInList(column)
            | FilterKind::LowerCode(column)
            | FilterKind::Label(column)
            | FilterKind::Date(column)
            | FilterKind::Month(column)
            | FilterKind::FinancialYear(column)
            | FilterKind::Year(column)
            | FilterKind::Boolean(column) => column,
        }
    }

    /// Whether the filter selects a reporting period (a month, a date, a year).
    pub fn is_period(&self) -> bool {
        matches!(
            self,
            FilterKind::Month(_)
                | FilterKind::Date(_)
                | FilterKind::FinancialYear(_)
                | FilterKind::Year(_)
        )
    }
}

#[derive(Debug)]
pub struct Filter {
    pub name: &'static str,
    pub kind: FilterKind,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// DRF `PageNumberPagination` envelope.
    Paginated,
    /// A bare JSON array (small by construction).
    Array,
}

/// A path parameter that selects rows of a parent object, with Django's 404 when the parent
/// does not exist.
#[derive(Debug)]
pub struct PathLookup {
    pub param: &'static str,
    /// By name: the parent is often served by a dataset that reads this one.
    pub parent_table: &'static str,
    pub parent_column: &'static str,
    /// The column of this endpoint's table that holds the parent's key.
    pub column: &'static str,
    /// Django model name used in `No <Model> matches the given query.`
    pub parent_model: &'static str,
}

/// `Endpoint::fields` for an endpoint that serves its table's served columns, in their order.
pub const SERVED_COLUMNS: &[&str] = &[];

/// One served endpoint under `/api/v1/`.
#[derive(Debug)]
pub struct Endpoint {
    /// Path below `/api/v1/`, ending in `/`; `{name}` marks a path parameter.
    pub path: &'static str,
    /// DRF view name, as OPTIONS reports it (`Practice List`).
    pub view_name: &'static str,
    /// Serializer name without `Serializer`; names the schema components.
    pub component: &'static str,
    pub description: &'static str,
    pub table: &'static Table,
    /// Response fields, in wire order; each names a column of `table`. `SERVED_COLUMNS` (empty):
    /// the table's served columns, in the table's order.
    pub fields: &'static [&'static str],
    pub filters: &'static [Filter],
    /// Filters of which at least one must be given (non-empty).
    pub core: &'static [&'static str],
    pub ordering: &'static [(&'static str, Direction)],
    pub shape: Shape,
    pub lookup: Option<PathLookup>,
}

impl Endpoint {
    /// Whether `ordering` sorts the table's rows into one order only (it names every column of
    /// the primary key), so reading it backwards meets the same rows.
    pub fn orders_totally(&self) -> bool {
        let key = self.table.primary_key;
        !key.is_empty()
            && key
                .iter()
                .all(|k| self.ordering.iter().any(|(column, _)| column == k))
    }

    /// The path's words joined by `_`, without its parameters (`qof/achievement/` →
    /// `qof_achievement`, `gp-appointments/` → `gp_appointments`).
    pub fn name(&self) -> String {
        self.path
            .split('/')
            .filter(|t| !t.is_empty() && !t.starts_with('{'))
            .map(|t| t.replace('-', "_"))
            .collect::<Vec<_>>()
            .join("_")
    }

    /// The filter by reporting period, if the endpoint has one.
    pub fn period_filter(&self) -> Option<&'static Filter> {
        self.filters.iter().find(|f| f.kind.is_period())
    }

    /// The response fields' names, in wire order.
    pub fn field_names(&self) -> Vec<&'static str> {
        self.field_columns().map(|c| c.name).collect()
    }

    pub fn field_columns(&self) -> Box<dyn Iterator<Item = &'static Column> + '_> {
        if self.fields.is_empty() {
            return Box::new(self.table.columns.iter().filter(|c| c.served));
        }
        Box::new(self.fields.iter().map(|f| {
            self.table
                .column(f)
                .unwrap_or_else(|| panic!("{}: field {f} is not a column", self.path))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_columns_are_the_keys_and_index_columns_once_in_table_order() {
        static TABLE: Table = Table {
            name: "t",
            columns: &[
                col("a", Kind::Text, ""),
                col("b", Kind::Integer, ""),
                col("c", Kind::Text, ""),
                col("d", Kind::Date, ""),
            ],
            primary_key: &["d", "a"],
            indexes: &[&["a", "d"], &["b"]],
        };
        assert_eq!(TABLE.indexed_columns(), ["a", "b", "d"]);
    }
}
