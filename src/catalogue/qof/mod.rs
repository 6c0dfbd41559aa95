//! Quality and Outcomes Framework (QOF): achievement, prevalence and indicators per financial
//! year, from the `QOF<yyyy>.zip` raw-data files. Serves `/qof/years/`, `/qof/indicators/`,
//! `/qof/prevalence/`, `/qof/prevalence/national/` and `/qof/achievement/`.

pub mod load;
pub mod parse;
pub mod sample;
pub mod settings;

use crate::catalogue::{Cadence, Dataset, Derivation, Derive, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub const SCOPE: &str = "qof";

/// Filters every QOF endpoint by year, and the practice-level ones by practice, declare alike.
const YEAR_FILTER: Filter = Filter {
    name: "year",
    kind: FilterKind::FinancialYear("year"),
    description: YEAR_DESCRIPTION,
};

const PRACTICE_FILTER: Filter = Filter {
    name: "practice",
    kind: FilterKind::Code("practice_code"),
    description: "Practice code.",
};

pub static QOF_YEARS: Table = Table {
    name: "qof_years",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("start_date", Kind::Date, "First day of the year"),
        col("end_date", Kind::Date, "Last day of the year"),
        col(
            "is_current",
            Kind::Boolean,
            "The year operators mark as current",
        ),
        col(
            "indicator_count",
            Kind::Integer,
            "Indicators in the year's mapping",
        ),
        opt(
            "max_points",
            Kind::Decimal(2),
            "Points available: the configured value, else the sum of the indicators' points",
        ),
        opt(
            "pound_per_point",
            Kind::Decimal(2),
            "Value of one point in pounds; null where not configured",
        ),
    ],
    primary_key: &["year"],
    indexes: &[],
};

pub static QOF_INDICATORS: Table = Table {
    name: "qof_indicators",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("indicator_code", Kind::Text, "Indicator code (AF001)"),
        opt("description", Kind::Text, "Indicator description"),
        opt(
            "points",
            Kind::Decimal(2),
            "Points available for the indicator",
        ),
        opt("group_code", Kind::Text, "Indicator group (register) code"),
        opt(
            "group_description",
            Kind::Text,
            "Indicator group description",
        ),
        opt("domain_code", Kind::Text, "Domain code (CL)"),
        opt("domain_description", Kind::Text, "Domain description"),
        opt(
            "patient_list_type",
            Kind::Text,
            "Patient list the indicator counts",
        ),
        col(
            "active",
            Kind::Boolean,
            "The indicator is in the mapping of the latest year imported",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "indicator_code"],
    // (year, group_code): the import's derivations look up a register group's indicators for
    // every prevalence row.
    indexes: &[
        &["indicator_code"],
        &["domain_code"],
        &["active"],
        &["year", "group_code"],
    ],
};

pub static QOF_PREVALENCE: Table = Table {
    name: "qof_prevalence",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("practice_code", Kind::Text, "Practice code"),
        col("group_code", Kind::Text, "Register (indicator group) code"),
        opt(
            "group_description",
            Kind::Text,
            "Register description, from the mapping",
        ),
        opt(
            "patient_list_type",
            Kind::Text,
            "TOTAL or the age subgroup the register counts",
        ),
        opt("register", Kind::Integer, "Patients on the register"),
        opt(
            "list_size",
            Kind::Integer,
            "Patients in the practice list the register is drawn from",
        ),
        opt(
            "prevalence",
            Kind::Float,
            "register / list_size, as a percentage",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "practice_code", "group_code"],
    indexes: &[&["practice_code", "year"], &["group_code"]],
};

pub static QOF_PREVALENCE_NATIONAL: Table = Table {
    name: "qof_prevalence_national",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("group_code", Kind::Text, "Register (indicator group) code"),
        opt(
            "group_description",
            Kind::Text,
            "Register description, from the mapping",
        ),
        opt(
            "patient_list_type",
            Kind::Text,
            "TOTAL or the age subgroup the register counts",
        ),
        opt(
            "register",
            Kind::Integer,
            "Patients on the register in England",
        ),
        opt(
            "list_size",
            Kind::Integer,
            "Patients in the practice lists, summed",
        ),
        opt(
            "prevalence",
            Kind::Float,
            "register / list_size, as a percentage",
        ),
        col(
            "practice_count",
            Kind::Integer,
            "Practices publishing the register",
        ),
    ],
    primary_key: &["year", "group_code"],
    indexes: &[&["group_code"]],
};

pub static QOF_ACHIEVEMENT: Table = Table {
    name: "qof_achievement",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("practice_code", Kind::Text, "Practice code"),
        col("indicator_code", Kind::Text, "Indicator code (AF001)"),
        opt("achieved_points", Kind::Decimal(2), "Points achieved"),
        opt(
            "max_points",
            Kind::Decimal(2),
            "Points available for the indicator",
        ),
        opt("numerator", Kind::Integer, "Patients meeting the indicator"),
        opt(
            "denominator",
            Kind::Integer,
            "Patients the indicator applies to",
        ),
        opt("pcas", Kind::Integer, "Personalised care adjustments"),
        opt(
            "register",
            Kind::Integer,
            "Register size (register indicators only)",
        ),
        opt(
            "achievement",
            Kind::Float,
            "numerator / denominator as a percentage; null when the denominator is 0 or missing",
        ),
        internal(
            "region",
            Kind::Text,
            "Regional file the row came from (LONDON)",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "practice_code", "indicator_code"],
    indexes: &[&["practice_code", "year"], &["indicator_code"]],
};

/// The year's practices and their geography, from `MAPPING_NHS_GEOGRAPHIES`, with the revised
/// maximum points from `ORGANISATION_REFERENCE`. Kept for reference; not served.
pub static QOF_PRACTICES: Table = Table {
    name: "qof_practices",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("practice_code", Kind::Text, "Practice code"),
        opt("practice_name", Kind::Text, "Practice name"),
        opt("pcn_code", Kind::Text, "PCN code"),
        opt(
            "sub_icb_code",
            Kind::Text,
            "Sub-ICB location code (CCG_ODS_CODE)",
        ),
        opt("icb_code", Kind::Text, "ICB code (STP_ODS_CODE)"),
        opt("region_code", Kind::Text, "Commissioning region code"),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "practice_code"],
    indexes: &[],
};

pub static QOF_PRACTICE_POINTS: Table = Table {
    name: "qof_practice_points",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("practice_code", Kind::Text, "Practice code"),
        opt(
            "revised_max_points",
            Kind::Decimal(2),
            "Maximum points after revision",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "practice_code"],
    indexes: &[],
};

/// The settings of each year (see `settings`), as they were at the latest import.
pub static QOF_YEAR_SETTINGS: Table = Table {
    name: "qof_year_settings",
    columns: &[
        col("year", Kind::Text, "QOF financial year (2023/24)"),
        col("start_date", Kind::Date, "First day of the year"),
        col("end_date", Kind::Date, "Last day of the year"),
        col(
            "is_current",
            Kind::Boolean,
            "The year operators mark as current",
        ),
        opt(
            "max_points",
            Kind::Decimal(2),
            "Points available, where configured",
        ),
        opt(
            "pound_per_point",
            Kind::Decimal(2),
            "Value of one point in pounds, where configured",
        ),
    ],
    primary_key: &["year"],
    indexes: &[],
};

const YEAR_DESCRIPTION: &str = "QOF financial year (2023/24; 2023-24 and 202324 are accepted).";

pub static YEARS_ENDPOINT: Endpoint = Endpoint {
    path: "qof/years/",
    view_name: "Qof Year List",
    component: "QofYear",
    description: "Quality and Outcomes Framework years with data, latest first, with their dates, points available and the value of a point where configured.",
    table: &QOF_YEARS,
    fields: SERVED_COLUMNS,
    filters: &[],
    core: &[],
    ordering: &[("year", Direction::Desc)],
    shape: Shape::Paginated,
    lookup: None,
};

pub static INDICATORS_ENDPOINT: Endpoint = Endpoint {
    path: "qof/indicators/",
    view_name: "Qof Indicator List",
    component: "QofIndicator",
    description: "Quality and Outcomes Framework indicators of each year, from the year's indicator mapping.",
    table: &QOF_INDICATORS,
    fields: SERVED_COLUMNS,
    filters: &[
        YEAR_FILTER,
        Filter {
            name: "domain",
            kind: FilterKind::Code("domain_code"),
            description: "Domain code (CL, PH).",
        },
        Filter {
            name: "indicator",
            kind: FilterKind::Code("indicator_code"),
            description: "Indicator code (AF001).",
        },
        Filter {
            name: "active",
            kind: FilterKind::Boolean("active"),
            description: "Whether the indicator is in the latest year's mapping.",
        },
    ],
    core: &[],
    ordering: &[
        ("year", Direction::Desc),
        ("indicator_code", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

pub static PREVALENCE_ENDPOINT: Endpoint = Endpoint {
    path: "qof/prevalence/",
    view_name: "Qof Prevalence List",
    component: "QofPrevalence",
    description: "Quality and Outcomes Framework disease registers and prevalence by practice and register group.",
    table: &QOF_PREVALENCE,
    fields: SERVED_COLUMNS,
    filters: &[
        YEAR_FILTER,
        PRACTICE_FILTER,
        Filter {
            name: "indicator",
            kind: FilterKind::Code("group_code"),
            description: "Register (indicator group) code (AF).",
        },
    ],
    core: &["year", "practice"],
    ordering: &[
        ("year", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("group_code", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

pub static PREVALENCE_NATIONAL_ENDPOINT: Endpoint = Endpoint {
    path: "qof/prevalence/national/",
    view_name: "Qof National Prevalence List",
    component: "QofNationalPrevalence",
    description: "Quality and Outcomes Framework prevalence for England by register group: registers and list sizes summed over the practices publishing each register.",
    table: &QOF_PREVALENCE_NATIONAL,
    fields: SERVED_COLUMNS,
    filters: &[
        YEAR_FILTER,
        Filter {
            name: "indicator",
            kind: FilterKind::Code("group_code"),
            description: "Register (indicator group) code (AF).",
        },
    ],
    core: &[],
    ordering: &[("year", Direction::Asc), ("group_code", Direction::Asc)],
    shape: Shape::Paginated,
    lookup: None,
};

pub static ACHIEVEMENT_ENDPOINT: Endpoint = Endpoint {
    path: "qof/achievement/",
    view_name: "Qof Achievement List",
    component: "QofAchievement",
    description: "Quality and Outcomes Framework achievement by practice and indicator: points, numerator, denominator, personalised care adjustments and register.",
    table: &QOF_ACHIEVEMENT,
    fields: SERVED_COLUMNS,
    filters: &[
        YEAR_FILTER,
        PRACTICE_FILTER,
        Filter {
            name: "indicator",
            kind: FilterKind::Code("indicator_code"),
            description: "Indicator code (AF001).",
        },
    ],
    core: &["year", "practice"],
    ordering: &[
        ("year", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("indicator_code", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// Rebuilds what depends on more than one file of a year: points and descriptions from the
/// mapping (the files of a year may be imported in any order, or apart), the national
/// prevalence and the year list. Only rows whose value changed are written.
pub static DERIVE: Derivation = Derivation {
    reads: &[&QOF_INDICATORS, &QOF_ACHIEVEMENT, &QOF_PREVALENCE, &QOF_YEAR_SETTINGS],
    writes: &[&QOF_INDICATORS, &QOF_ACHIEVEMENT, &QOF_PREVALENCE, &QOF_PREVALENCE_NATIONAL, &QOF_YEARS],
    how: Derive::Statements(&[
        "UPDATE qof_indicators SET active = (indicator_code IN (
             SELECT indicator_code FROM qof_indicators
             WHERE year = (SELECT MAX(year) FROM qof_indicators)))",
        // `UPDATE … FROM` joins once instead of running a subquery per row (SQLite 3.33+). The
        // `|| ''` keeps SQLite from reaching the achievement rows through an index, one
        // indicator at a time, which its statistics favour: the rows are then rewritten in
        // scattered order, eight times slower than in one pass over the table.
        "UPDATE qof_achievement SET max_points = i.points
         FROM qof_indicators i
         WHERE i.year = qof_achievement.year || ''
           AND i.indicator_code = qof_achievement.indicator_code || ''
           AND qof_achievement.max_points IS DISTINCT FROM i.points",
        "UPDATE qof_achievement SET max_points = NULL
         WHERE max_points IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM qof_indicators i
             WHERE i.year = qof_achievement.year AND i.indicator_code = qof_achievement.indicator_code)",
        "UPDATE qof_prevalence SET group_description = g.description
         FROM (SELECT year, group_code, MAX(group_description) AS description
               FROM qof_indicators GROUP BY year, group_code) g
         WHERE g.year = qof_prevalence.year AND g.group_code = qof_prevalence.group_code
           AND qof_prevalence.group_description IS DISTINCT FROM g.description",
        "UPDATE qof_prevalence SET group_description = NULL
         WHERE group_description IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM qof_indicators i
             WHERE i.year = qof_prevalence.year AND i.group_code = qof_prevalence.group_code)",
        "DELETE FROM qof_prevalence_national",
        "INSERT INTO qof_prevalence_national
             (year, group_code, group_description, patient_list_type, register, list_size,
              prevalence, practice_count)
         SELECT year, group_code, MAX(group_description), MAX(patient_list_type), SUM(register),
                SUM(list_size),
                CASE WHEN SUM(list_size) > 0 THEN 100.0 * SUM(register) / SUM(list_size) END,
                COUNT(*)
         FROM qof_prevalence GROUP BY year, group_code",
        "DELETE FROM qof_years",
        "INSERT INTO qof_years
             (year, start_date, end_date, is_current, indicator_count, max_points, pound_per_point)
         SELECT s.year, s.start_date, s.end_date, s.is_current,
                (SELECT COUNT(*) FROM qof_indicators i WHERE i.year = s.year),
                COALESCE(s.max_points,
                         (SELECT SUM(i.points) FROM qof_indicators i WHERE i.year = s.year)),
                s.pound_per_point
         FROM qof_year_settings s
         WHERE EXISTS (SELECT 1 FROM qof_indicators i WHERE i.year = s.year)
            OR EXISTS (SELECT 1 FROM qof_prevalence p WHERE p.year = s.year)
            OR EXISTS (SELECT 1 FROM qof_achievement a WHERE a.year = s.year)",
    ]),
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Quality and Outcomes Framework, Achievement, Prevalence and Exceptions data",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/quality-and-outcomes-framework-achievement-prevalence-and-exceptions-data",
    cadence: Some(Cadence::Annual),
};

pub static DATASET: Dataset = Dataset {
    name: "qof",
    scope: SCOPE,
    tables: &[
        &QOF_YEAR_SETTINGS,
        &QOF_PRACTICES,
        &QOF_PRACTICE_POINTS,
        &QOF_INDICATORS,
        &QOF_PREVALENCE,
        &QOF_ACHIEVEMENT,
        &QOF_PREVALENCE_NATIONAL,
        &QOF_YEARS,
    ],
    endpoints: &[
        &YEARS_ENDPOINT,
        &INDICATORS_ENDPOINT,
        &PREVALENCE_ENDPOINT,
        &PREVALENCE_NATIONAL_ENDPOINT,
        &ACHIEVEMENT_ENDPOINT,
    ],
    sources: &[&load::QOF],
    derivations: &[&DERIVE],
    publication: &PUBLICATION,
};
