//! Cloud Based Telephony (CBT) Data in General Practice: inbound calls and what became of them
//! (indicators `CBT001`…`CBT007`) by practice, summed from the published days to months, from
//! the "By Day and Time", "By Durations" and "Calls Answered Metric" files. Serves
//! `/cloud-telephony/` and `/cloud-telephony/time/`.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub const SCOPE: &str = "telephony";

/// The columns both tables share, in wire order up to the indicator.
macro_rules! telephony_columns {
    ([$($extra:expr),* $(,)?]) => {
        &[
            internal("id", Kind::Integer, "Row number; breaks ties between shared accounts"),
            col("month", Kind::Date, "First day of the month the days were summed over"),
            opt(
                "practice_code",
                Kind::Text,
                "Practice code; null for a phone account shared by several practices \
                 (published as PRACTICE_CODE Unassigned)",
            ),
            col(
                "unassigned",
                Kind::Boolean,
                "True for a phone account shared by several practices: its calls belong to \
                 none of them, and its geography is filled only as far down as they share it",
            ),
            opt("pcn_code", Kind::Text, "PCN code, as published"),
            opt("sub_icb_code", Kind::Text, "Sub-ICB location code, as published"),
            opt("icb_code", Kind::Text, "ICB code, as published"),
            opt("region_code", Kind::Text, "Commissioning region code, as published"),
            col(
                "indicator",
                Kind::Text,
                "CBT001 inbound calls, CBT002 ended in the IVR, CBT003 answered (by wait), \
                 CBT004 missed (including voicemail), CBT005 callback requested, CBT006 \
                 callback made, CBT007 answered (by call length)",
            ),
            $($extra,)*
            internal("import_id", Kind::Integer, "Import that loaded the row"),
        ]
    };
}

/// Month × account × indicator: the month's total, from the day-and-time file alone.
pub static MONTHLY: Table = Table {
    name: "cloud_telephony",
    columns: telephony_columns!([col(
        "value",
        Kind::Integer,
        "Calls in the month: the By Day and Time file's values summed over its days and time bands"
    )]),
    primary_key: &["id"],
    indexes: &[
        &["month", "unassigned", "practice_code", "indicator", "id"],
        &["practice_code", "month"],
        &["pcn_code", "month"],
        &["icb_code", "month"],
        &["indicator", "month"],
    ],
};

/// Month × account × indicator × band, from all three files.
pub static BANDS: Table = Table {
    name: "cloud_telephony_bands",
    columns: telephony_columns!([
        col(
            "dimension_type",
            Kind::Text,
            "time (By Day and Time), duration (By Durations) or wait (Calls Answered Metric)",
        ),
        col(
            "dimension",
            Kind::Text,
            "The band as published: a 2-hour time band (08:00 - 09:59; the evening split \
             18:00 - 18:29 and 18:30 - 23:59), or seconds (0, 1_30 … 241_300, >300) and TOTAL",
        ),
        internal(
            "dimension_key",
            Kind::Text,
            "The band folded for matching: no whitespace, upper-case",
        ),
        opt(
            "core_category",
            Kind::Text,
            "Calls Answered Metric only: Core_8_10, Core_10_1830 or Non-Core; null otherwise",
        ),
        col(
            "value",
            Kind::Integer,
            "Calls in the month in the band: the file's values summed over its days",
        ),
    ]),
    primary_key: &["id"],
    indexes: &[
        &[
            "month",
            "unassigned",
            "practice_code",
            "indicator",
            "dimension_type",
            "dimension_key",
            "id",
        ],
        &["practice_code", "month"],
        &["pcn_code", "month"],
        &["icb_code", "month"],
        &["indicator", "month"],
        &["dimension_key", "month"],
    ],
};

const MONTH_FILTER: Filter = Filter {
    name: "month",
    kind: FilterKind::Month("month"),
    description: "Month (2026-08, or any day in it).",
};

const PRACTICE_FILTER: Filter = Filter {
    name: "practice",
    kind: FilterKind::Code("practice_code"),
    description: "Practice code. Shared phone accounts (unassigned) belong to no practice and never match.",
};

const PCN_FILTER: Filter = Filter {
    name: "pcn",
    kind: FilterKind::Code("pcn_code"),
    description: "PCN code; includes shared accounts published with that PCN.",
};

const ICB_FILTER: Filter = Filter {
    name: "icb",
    kind: FilterKind::Code("icb_code"),
    description: "ICB code; includes shared accounts published with that ICB.",
};

const INDICATOR_FILTER: Filter = Filter {
    name: "indicator",
    kind: FilterKind::Code("indicator"),
    description: "Indicator code, CBT001 … CBT007.",
};

const CORE: &[&str] = &["month", "practice", "pcn", "icb"];

pub static MONTHLY_ENDPOINT: Endpoint = Endpoint {
    path: "cloud-telephony/",
    view_name: "Cloud Telephony List",
    component: "CloudTelephony",
    description: "Cloud Based Telephony: calls by month, practice and indicator (CBT001 … \
        CBT007). The value is the month's total taken from the By Day and Time file alone (its \
        days and time bands summed), never mixed with another file; where the By Durations or \
        Calls Answered Metric TOTAL rows disagree with it, the import summary says so. Rows of \
        PRACTICE_CODE Unassigned (phone accounts shared by several practices) are kept with the \
        geography they were published with: practice_code is null and unassigned is true, so \
        they count towards pcn and icb filters but never match a practice.",
    table: &MONTHLY,
    fields: SERVED_COLUMNS,
    filters: &[
        MONTH_FILTER,
        PRACTICE_FILTER,
        PCN_FILTER,
        ICB_FILTER,
        INDICATOR_FILTER,
    ],
    core: CORE,
    ordering: &[
        ("month", Direction::Asc),
        ("unassigned", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("indicator", Direction::Asc),
        ("id", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

pub static BANDS_ENDPOINT: Endpoint = Endpoint {
    path: "cloud-telephony/time/",
    view_name: "Cloud Telephony Time List",
    component: "CloudTelephonyTime",
    description: "Cloud Based Telephony by band: calls by month, practice, indicator and band, \
        where dimension_type says which file the band comes from: time (By Day and Time, \
        2-hour bands of the day), duration (By Durations, call length or wait in seconds, with \
        TOTAL) or wait (Calls Answered Metric, wait in seconds by core_category, with TOTAL). \
        dimension keeps the label as published; the dimension filter ignores spacing and case. \
        Values are the published days summed over the month. Shared phone accounts \
        (PRACTICE_CODE Unassigned) are served as on the monthly endpoint: practice_code null, \
        unassigned true.",
    table: &BANDS,
    fields: SERVED_COLUMNS,
    filters: &[
        MONTH_FILTER,
        PRACTICE_FILTER,
        PCN_FILTER,
        ICB_FILTER,
        INDICATOR_FILTER,
        Filter {
            name: "dimension",
            kind: FilterKind::Label("dimension_key"),
            description: "Band label as published (08:00 - 09:59, 121_180, >300, TOTAL).",
        },
    ],
    core: CORE,
    ordering: &[
        ("month", Direction::Asc),
        ("unassigned", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("indicator", Direction::Asc),
        ("dimension_type", Direction::Asc),
        ("dimension_key", Direction::Asc),
        ("id", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Cloud Based Telephony Data in General Practice",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/cloud-based-telephony-data-in-general-practice",
    cadence: Some(Cadence::Monthly),
};

pub static DATASET: Dataset = Dataset {
    name: "cloud_telephony",
    scope: SCOPE,
    tables: &[&MONTHLY, &BANDS],
    endpoints: &[&MONTHLY_ENDPOINT, &BANDS_ENDPOINT],
    sources: &[&load::CLOUD_TELEPHONY],
    derivations: &[],
    publication: &PUBLICATION,
};
