//! GP Contract Services (NHS England's Core GP Contract management information): values by
//! achievement date, practice, indicator and measure from the quarterly `Core GP Contract Q<n>
//! <yyyy-yy>.csv` files, and, from 2025-26, the unpaid carers indicator by sub-ICB location,
//! sex, age band and ethnicity from `CGPCMI01 Unpaid Carers Q<n> <yyyy-yy>.csv`. The practices
//! and indicators the publication holds are derived from those rows after each import. Serves
//! `/gp-contract/practices/`, `/gp-contract/indicators/`, `/gp-contract/values/` and
//! `/gp-contract/carers/`.

pub mod derive;
pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub const SCOPE: &str = "gp_contract";

/// One row per achievement date, practice, indicator and measure as published; rows the file
/// repeats are kept (`id` orders them), so every published row is served.
pub static VALUES: Table = Table {
    name: "gp_contract_values",
    columns: &[
        internal(
            "id",
            Kind::Integer,
            "Row number; orders rows a file repeats",
        ),
        col(
            "date",
            Kind::Date,
            "Achievement date (ACH_DATE), the last day of the month the value counts to",
        ),
        col("practice_code", Kind::Text, "Practice code"),
        internal(
            "practice_name",
            Kind::Text,
            "Practice name as the file publishes it, for the practices list where ODS has none",
        ),
        col(
            "indicator",
            Kind::Text,
            "Indicator code (IND_CODE), such as CGPCMI01 (unpaid carers registered at the \
             practice), ALCMI30 or CCDCMI32",
        ),
        col(
            "quality_service",
            Kind::Text,
            "Quality service as published (Core GP Contract 2024-25)",
        ),
        internal(
            "quality_service_key",
            Kind::Text,
            "The quality service folded for matching: no whitespace, upper-case",
        ),
        col(
            "measure",
            Kind::Text,
            "Measure as published: Numerator, Denominator, PCA Count (Rule 3: …) and the like",
        ),
        internal(
            "measure_key",
            Kind::Text,
            "The measure folded for matching: no whitespace, upper-case",
        ),
        col(
            "measure_type",
            Kind::Text,
            "MEASURE_TYPE as published where the file has that column; otherwise the first \
             word of the measure (Numerator, Denominator, PCA, …)",
        ),
        opt(
            "value",
            Kind::Integer,
            "The count; null where the publisher suppressed it (*), never 0",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["id"],
    indexes: &[
        &["date", "practice_code", "indicator", "measure", "id"],
        &["practice_code", "date"],
        &["indicator", "date"],
        &["quality_service_key", "date"],
        &["measure_key", "date"],
    ],
};

/// One row per achievement date, sub-ICB location, indicator, measure, sex, age band and
/// ethnicity; rows the file repeats are kept, as on `VALUES`.
pub static CARERS: Table = Table {
    name: "gp_contract_carers",
    columns: &[
        internal(
            "id",
            Kind::Integer,
            "Row number; orders rows a file repeats",
        ),
        col(
            "date",
            Kind::Date,
            "Achievement date (ACH_DATE), the last day of the month the value counts to",
        ),
        col("sub_icb_code", Kind::Text, "Sub-ICB location code"),
        opt(
            "sub_icb_name",
            Kind::Text,
            "Sub-ICB location name as published",
        ),
        col(
            "indicator",
            Kind::Text,
            "Indicator code (IND_CODE): CGPCMI01, unpaid carers registered",
        ),
        col(
            "quality_service",
            Kind::Text,
            "Quality service as published",
        ),
        internal(
            "quality_service_key",
            Kind::Text,
            "The quality service folded for matching: no whitespace, upper-case",
        ),
        col("measure", Kind::Text, "Measure as published"),
        col(
            "sex",
            Kind::Text,
            "Sex as published; All on a row that totals every sex (published blank or All)",
        ),
        internal("sex_key", Kind::Text, "sex folded for matching"),
        col(
            "age",
            Kind::Text,
            "Age band as published (AGE_BAND); All on a row that totals every age",
        ),
        internal("age_key", Kind::Text, "age folded for matching"),
        col(
            "ethnicity",
            Kind::Text,
            "Ethnicity as published; All on a row that totals every ethnicity",
        ),
        internal("ethnicity_key", Kind::Text, "ethnicity folded for matching"),
        opt(
            "value",
            Kind::Integer,
            "Unpaid carers; null where the publisher suppressed the count (*), never 0",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["id"],
    indexes: &[
        &[
            "date",
            "sub_icb_code",
            "indicator",
            "sex",
            "age",
            "ethnicity",
            "measure",
            "id",
        ],
        &["sub_icb_code", "date"],
        &["indicator", "date"],
        &["quality_service_key", "date"],
        &["sex_key", "date"],
        &["age_key", "date"],
        &["ethnicity_key", "date"],
    ],
};

/// Every practice the values hold, with its current geography from ODS.
pub static PRACTICES: Table = Table {
    name: "gp_contract_practices",
    columns: &[
        col("practice_code", Kind::Text, "Practice code"),
        opt(
            "practice_name",
            Kind::Text,
            "Practice name from ODS; as the GP Contract file publishes it for a practice ODS \
             does not list",
        ),
        opt("pcn_code", Kind::Text, "Current PCN (ODS)"),
        opt("pcn_name", Kind::Text, "Current PCN name"),
        opt("sub_icb_code", Kind::Text, "Sub-ICB location (ODS)"),
        opt("sub_icb_name", Kind::Text, "Sub-ICB location name"),
        opt("icb_code", Kind::Text, "Integrated care board"),
        opt("icb_name", Kind::Text, "Integrated care board name"),
        opt(
            "region_code",
            Kind::Text,
            "NHS England commissioning region",
        ),
        opt("region_name", Kind::Text, "Region name"),
        col(
            "first_date",
            Kind::Date,
            "Earliest achievement date the practice has values for",
        ),
        col(
            "last_date",
            Kind::Date,
            "Latest achievement date the practice has values for",
        ),
        internal(
            "search_text",
            Kind::Text,
            "practice_code and practice_name, lower-cased, for search",
        ),
    ],
    primary_key: &["practice_code"],
    indexes: &[
        &["pcn_code"],
        &["sub_icb_code"],
        &["icb_code"],
        &["region_code"],
    ],
};

/// Every indicator each quality service holds, from the values and the carers rows.
pub static INDICATORS: Table = Table {
    name: "gp_contract_indicators",
    columns: &[
        col("indicator", Kind::Text, "Indicator code"),
        opt(
            "description",
            Kind::Text,
            "Always null: neither file the importer reads describes its indicators (the \
             CSVs give codes only), and no description is made up",
        ),
        col(
            "quality_service",
            Kind::Text,
            "Quality service as published (Core GP Contract 2024-25)",
        ),
        internal(
            "quality_service_key",
            Kind::Text,
            "The quality service folded for matching: no whitespace, upper-case",
        ),
        col(
            "measures",
            Kind::Text,
            "The measures published for the indicator in that quality service, as published, \
             in alphabetical order, separated by \"; \"",
        ),
        internal(
            "search_text",
            Kind::Text,
            "indicator and description, lower-cased, for search",
        ),
    ],
    primary_key: &["indicator", "quality_service"],
    indexes: &[&["quality_service_key"]],
};

const DATE_FILTER: Filter = Filter {
    name: "date",
    kind: FilterKind::Date("date"),
    description: "Achievement date, the last day of a month (2025-06-30).",
};

const INDICATOR_FILTER: Filter = Filter {
    name: "indicator",
    kind: FilterKind::Code("indicator"),
    description: "Indicator code (CGPCMI01).",
};

const QUALITY_SERVICE_FILTER: Filter = Filter {
    name: "quality_service",
    kind: FilterKind::Label("quality_service_key"),
    description: "Quality service (Core GP Contract 2025-26).",
};

pub static PRACTICES_ENDPOINT: Endpoint = Endpoint {
    path: "gp-contract/practices/",
    view_name: "Gp Contract Practice List",
    component: "GpContractPractice",
    description: "Practices with values in the GP Contract publication, with their current \
        PCN, sub-ICB location, ICB and region (codes and names) from the ODS tables, and the \
        first and last achievement dates they have values for. A practice ODS does not list \
        keeps the name the publication gives it and has no geography.",
    table: &PRACTICES,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "search",
            kind: FilterKind::Search {
                column: "search_text",
                fields: &["practice_code", "practice_name"],
            },
            description: "Terms (split on spaces and commas) that must each appear in the \
                          practice code or name.",
        },
        Filter {
            name: "practice",
            kind: FilterKind::Code("practice_code"),
            description: "Practice code.",
        },
        Filter {
            name: "pcn",
            kind: FilterKind::Code("pcn_code"),
            description: "PCN code.",
        },
        Filter {
            name: "sub_icb",
            kind: FilterKind::Code("sub_icb_code"),
            description: "Sub-ICB location code.",
        },
        Filter {
            name: "icb",
            kind: FilterKind::Code("icb_code"),
            description: "ICB code.",
        },
        Filter {
            name: "region",
            kind: FilterKind::Code("region_code"),
            description: "Commissioning region code.",
        },
    ],
    core: &[],
    ordering: &[("practice_code", Direction::Asc)],
    shape: Shape::Paginated,
    lookup: None,
};

pub static INDICATORS_ENDPOINT: Endpoint = Endpoint {
    path: "gp-contract/indicators/",
    view_name: "Gp Contract Indicator List",
    component: "GpContractIndicator",
    description: "Indicators of the GP Contract publication, one row per indicator and \
        quality service (an indicator published in several financial years has a row for \
        each), with the measures published for it. description is always null: the published \
        CSVs give indicator codes only.",
    table: &INDICATORS,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "search",
            kind: FilterKind::Search {
                column: "search_text",
                fields: &["indicator", "description"],
            },
            description: "Terms (split on spaces and commas) that must each appear in the \
                          indicator code or description.",
        },
        INDICATOR_FILTER,
        QUALITY_SERVICE_FILTER,
    ],
    core: &[],
    ordering: &[
        ("indicator", Direction::Asc),
        ("quality_service", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

pub static VALUES_ENDPOINT: Endpoint = Endpoint {
    path: "gp-contract/values/",
    view_name: "Gp Contract Value List",
    component: "GpContractValue",
    description: "Core GP Contract values by achievement date, practice, indicator and \
        measure, as published. value is null where the publisher suppressed it (*), never 0; \
        measure_type is MEASURE_TYPE where the file has it, else the measure's first word.",
    table: &VALUES,
    fields: SERVED_COLUMNS,
    filters: &[
        DATE_FILTER,
        Filter {
            name: "practice",
            kind: FilterKind::Code("practice_code"),
            description: "Practice code.",
        },
        INDICATOR_FILTER,
        QUALITY_SERVICE_FILTER,
        Filter {
            name: "measure",
            kind: FilterKind::Label("measure_key"),
            description: "Measure (Numerator, PCA Count (Rule 3: FRAILASSDEC_DAT)).",
        },
    ],
    core: &["date", "practice"],
    ordering: &[
        ("date", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("indicator", Direction::Asc),
        ("measure", Direction::Asc),
        ("id", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The label filters of the carers endpoint, alike but for their column.
const fn breakdown(name: &'static str, column: &'static str, description: &'static str) -> Filter {
    Filter {
        name,
        kind: FilterKind::Label(column),
        description,
    }
}

pub static CARERS_ENDPOINT: Endpoint = Endpoint {
    path: "gp-contract/carers/",
    view_name: "Gp Contract Carer List",
    component: "GpContractCarer",
    description: "Unpaid carers (CGPCMI01) by achievement date, sub-ICB location, sex, age \
        band and ethnicity, from the CGPCMI01 Unpaid Carers files (2025-26 on). A row that \
        totals a breakdown has All in it (the file's blank or All): sex=All&age=All&\
        ethnicity=All is the sub-ICB location's total. The file's column names and category \
        labels are assumed, not yet checked against a published file; labels are served as \
        published.",
    table: &CARERS,
    fields: SERVED_COLUMNS,
    filters: &[
        DATE_FILTER,
        Filter {
            name: "sub_icb",
            kind: FilterKind::Code("sub_icb_code"),
            description: "Sub-ICB location code.",
        },
        INDICATOR_FILTER,
        QUALITY_SERVICE_FILTER,
        breakdown(
            "sex",
            "sex_key",
            "Sex (Female), or All for the rows that total every sex.",
        ),
        breakdown(
            "age",
            "age_key",
            "Age band (18-24), or All for the rows that total every age.",
        ),
        breakdown(
            "ethnicity",
            "ethnicity_key",
            "Ethnicity (White), or All for the rows that total every ethnicity.",
        ),
    ],
    core: &["date", "sub_icb"],
    ordering: &[
        ("date", Direction::Asc),
        ("sub_icb_code", Direction::Asc),
        ("indicator", Direction::Asc),
        ("sex", Direction::Asc),
        ("age", Direction::Asc),
        ("ethnicity", Direction::Asc),
        ("measure", Direction::Asc),
        ("id", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "GP Contract Services",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/gp-contract-services",
    cadence: Some(Cadence::Quarterly),
};

pub static DATASET: Dataset = Dataset {
    name: "gp_contract",
    scope: SCOPE,
    tables: &[&VALUES, &CARERS, &PRACTICES, &INDICATORS],
    endpoints: &[
        &PRACTICES_ENDPOINT,
        &INDICATORS_ENDPOINT,
        &VALUES_ENDPOINT,
        &CARERS_ENDPOINT,
    ],
    sources: &[&load::GP_CONTRACT],
    derivations: &[
        &derive::PRACTICES_DERIVATION,
        &derive::INDICATORS_DERIVATION,
    ],
    publication: &PUBLICATION,
};
