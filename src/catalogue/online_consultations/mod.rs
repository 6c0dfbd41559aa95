//! Submissions via Online Consultation Systems in General Practice (NHS England): monthly
//! metrics per practice and supplier from the north and south practice files, and submissions
//! by time band from the day-and-time file in both its layouts. Serves
//! `/online-consultations/` and `/online-consultations/time/`.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub const SCOPE: &str = "online_consultations";

/// The practice and geography columns both tables share, in order.
macro_rules! place_columns {
    ([$($lead:expr),* $(,)?], [$($rest:expr),* $(,)?]) => {
        &[
            $($lead,)*
            col("practice_code", Kind::Text, "Practice code"),
            opt("practice_name", Kind::Text, "Practice name"),
            opt("pcn_code", Kind::Text, "PCN code"),
            opt("pcn_name", Kind::Text, "PCN name"),
            opt("sub_icb_code", Kind::Text, "Sub-ICB location code"),
            opt("sub_icb_name", Kind::Text, "Sub-ICB location name"),
            opt("icb_code", Kind::Text, "ICB code"),
            opt("icb_name", Kind::Text, "ICB name"),
            opt("region_code", Kind::Text, "Commissioning region code"),
            opt("region_name", Kind::Text, "Commissioning region name"),
            col(
                "supplier",
                Kind::Text,
                "Online consultation supplier as published: one name, several in one \
                 comma-separated list (ACCURX LIMITED, ECONSULT HEALTH LIMITED), or the \
                 publisher's placeholder No data / No Data",
            ),
            $($rest,)*
            internal("import_id", Kind::Integer, "Import that loaded the row"),
        ]
    };
}

/// One row per month, practice, supplier and metric. Each import replaces the months its
/// files hold (see `load`).
pub static ONLINE_CONSULTATIONS: Table = Table {
    name: "online_consultations",
    columns: place_columns!(
        [col("month", Kind::Date, "First day of the month")],
        [
            col(
                "metric",
                Kind::Text,
                "OC_CAPABILITY, OC_PARTICIPATION, OC_SYSTEM_USAGE (0/1 flags), \
                 OC_TOTAL_SUBMISSIONS, OC_SUBMISSION_TYPE_CLINICAL, OC_SUBMISSION_TYPE_ADMIN, \
                 OC_SUBMISSION_TYPE_OTHER, PATIENTS_REGISTERED (repeated on each supplier's \
                 rows: never sum it over suppliers) or OC_RATE_PER_1000_REGISTERED_PATIENTS",
            ),
            opt(
                "value",
                Kind::Float,
                "The value as published (a float); null where the cell is empty, never 0",
            ),
        ]
    ),
    primary_key: &["month", "practice_code", "supplier", "metric"],
    indexes: &[
        &["practice_code", "month"],
        &["pcn_code", "month"],
        &["icb_code", "month"],
        &["metric", "month"],
    ],
};

/// One row per date, practice, supplier, weekday and time band, from both layouts of the
/// day-and-time file: weekday-aggregated months (`date_type` `month`) and dated rows
/// (`date_type` `day`).
pub static ONLINE_CONSULTATION_TIMES: Table = Table {
    name: "online_consultation_times",
    columns: place_columns!(
        [
            internal(
                "month",
                Kind::Date,
                "First day of the month the row falls in"
            ),
            col(
                "date",
                Kind::Date,
                "The day, for dated rows; the month's first day for rows aggregated over the \
                 month by weekday",
            ),
            col(
                "date_type",
                Kind::Text,
                "day: a dated row; month: the month's submissions on that weekday, as files up \
                 to late 2025 publish them",
            ),
            col(
                "weekday",
                Kind::Text,
                "Day of the week as published (Monday)"
            ),
            internal(
                "weekday_number",
                Kind::Integer,
                "1 (Monday) to 7 (Sunday), to order by"
            ),
        ],
        [
            col(
                "submission_time",
                Kind::Text,
                "Time band as published (08:00 - 09:59, Unknown)",
            ),
            opt(
                "clinical",
                Kind::Float,
                "Clinical submissions; null for month rows, which publish only a total",
            ),
            opt(
                "admin",
                Kind::Float,
                "Administrative submissions; null for month rows",
            ),
            opt(
                "unknown_other",
                Kind::Float,
                "Submissions of unknown or other type; null for month rows",
            ),
            opt(
                "total",
                Kind::Float,
                "All submissions (month rows: the published VALUE); null where the cell is empty",
            ),
        ]
    ),
    primary_key: &[
        "date",
        "practice_code",
        "date_type",
        "supplier",
        "weekday_number",
        "submission_time",
    ],
    indexes: &[
        &["practice_code", "date"],
        &["pcn_code", "date"],
        &["month"],
    ],
};

const PRACTICE_FILTER: Filter = Filter {
    name: "practice",
    kind: FilterKind::Code("practice_code"),
    description: "Practice code.",
};

const PCN_FILTER: Filter = Filter {
    name: "pcn",
    kind: FilterKind::Code("pcn_code"),
    description: "PCN code.",
};

const SUPPLIER_FILTER: Filter = Filter {
    name: "supplier",
    kind: FilterKind::CodeInList("supplier"),
    description: "Supplier name (ACCURX LIMITED): rows of that supplier, including rows \
                  published with a list of suppliers that names it. `no data` finds the \
                  publisher's placeholder in either case.",
};

pub static ONLINE_CONSULTATIONS_ENDPOINT: Endpoint = Endpoint {
    path: "online-consultations/",
    view_name: "Online Consultation List",
    component: "OnlineConsultation",
    description: "Submissions via online consultation systems in general practice: each \
                  month's metrics per practice and supplier (capability, participation and \
                  usage flags, submissions by type, registered patients and the rate per 1,000 \
                  patients), as published. Values are numbers as published; an empty cell is \
                  null, never 0.",
    table: &ONLINE_CONSULTATIONS,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "month",
            kind: FilterKind::Month("month"),
            description: "Month (2025-09).",
        },
        PRACTICE_FILTER,
        PCN_FILTER,
        Filter {
            name: "icb",
            kind: FilterKind::Code("icb_code"),
            description: "ICB code.",
        },
        SUPPLIER_FILTER,
        Filter {
            name: "metric",
            kind: FilterKind::Code("metric"),
            description: "Metric code (OC_TOTAL_SUBMISSIONS).",
        },
    ],
    core: &["month", "practice", "pcn", "icb"],
    ordering: &[
        ("month", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("supplier", Direction::Asc),
        ("metric", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

pub static ONLINE_CONSULTATION_TIMES_ENDPOINT: Endpoint = Endpoint {
    path: "online-consultations/time/",
    view_name: "Online Consultation Time List",
    component: "OnlineConsultationTime",
    description: "Online consultation submissions by practice, supplier and time band, from \
                  the day-and-time file in both published layouts. Months published aggregated \
                  by weekday (files to late 2025) have `date_type` `month`, `date` the month's \
                  first day, one row per weekday and band, only `total` set (`clinical`, \
                  `admin` and `unknown_other` are null). Dated rows (later files) have \
                  `date_type` `day` and all four counts.",
    table: &ONLINE_CONSULTATION_TIMES,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "date",
            kind: FilterKind::Date("date"),
            description: "A day (2025-12-03) selects its dated rows. Months published \
                          aggregated by weekday have no days of their own: their rows are \
                          selected by the month's first day (2025-10-01), where `date_type` is \
                          `month`.",
        },
        PRACTICE_FILTER,
        PCN_FILTER,
        SUPPLIER_FILTER,
    ],
    core: &["date", "practice", "pcn"],
    ordering: &[
        ("date", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("date_type", Direction::Asc),
        ("supplier", Direction::Asc),
        ("weekday_number", Direction::Asc),
        ("submission_time", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Submissions via Online Consultation Systems in General Practice",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/submissions-via-online-consultation-systems-in-general-practice",
    cadence: Some(Cadence::Monthly),
};

pub static DATASET: Dataset = Dataset {
    name: "online_consultations",
    scope: SCOPE,
    tables: &[&ONLINE_CONSULTATIONS, &ONLINE_CONSULTATION_TIMES],
    endpoints: &[
        &ONLINE_CONSULTATIONS_ENDPOINT,
        &ONLINE_CONSULTATION_TIMES_ENDPOINT,
    ],
    sources: &[&load::ONLINE_CONSULTATIONS],
    derivations: &[],
    publication: &PUBLICATION,
};
