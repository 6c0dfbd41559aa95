//! NHS Payments to General Practice (NHS England): each financial year's payments per practice
//! (contract) and per PCN, from the annual practice and PCN CSVs. Serves
//! `/nhs-payments/practices/` and `/nhs-payments/pcns/`.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, ObjectValues, SERVED_COLUMNS, Shape, Table, col,
    internal, opt,
};

pub const SCOPE: &str = "payments";

/// One row per practice row of a year's practice file (rows are per contract, so a practice
/// may appear twice; `line` keeps them apart). Each import replaces the year it holds.
pub static PRACTICE_PAYMENTS: Table = Table {
    name: "nhs_payments_practices",
    columns: &[
        col("year", Kind::Text, "Financial year (2024/25)"),
        col("practice_code", Kind::Text, "Practice code"),
        opt("practice_name", Kind::Text, "Practice name"),
        opt(
            "region_code",
            Kind::Text,
            "NHS England commissioning region (or region and local office) code, as published",
        ),
        opt("region_name", Kind::Text, "Region name, where published"),
        opt("icb_code", Kind::Text, "ICB code, where published"),
        opt("icb_name", Kind::Text, "ICB name, where published"),
        opt(
            "sub_icb_code",
            Kind::Text,
            "Sub-ICB location code (CCG code in years before July 2022), as published",
        ),
        opt(
            "sub_icb_name",
            Kind::Text,
            "Sub-ICB location or CCG name, where published",
        ),
        opt("pcn_code", Kind::Text, "PCN code, where published"),
        opt("pcn_name", Kind::Text, "PCN name, where published"),
        opt(
            "contract_type",
            Kind::Text,
            "Contract type: GMS, PMS or APMS",
        ),
        opt(
            "dispensing",
            Kind::Text,
            "Dispensing practice as published: Yes, No or Unknown",
        ),
        opt(
            "rurality",
            Kind::Text,
            "Practice rurality as published: Urban or Rural",
        ),
        opt(
            "registered_patients",
            Kind::Decimal(2),
            "Registered patients as published: the year's average from 2018-19, the last known \
             figure in some earlier years",
        ),
        opt(
            "weighted_patients",
            Kind::Decimal(2),
            "Weighted patients (Global Sum weighting), average or last known figure as published",
        ),
        opt(
            "total_payments",
            Kind::Decimal(2),
            "Total NHS payments to general practice, in pounds",
        ),
        opt(
            "total_payments_minus_deductions",
            Kind::Decimal(2),
            "Total NHS payments minus deductions for pensions, levies and prescription charge \
             income, in pounds",
        ),
        opt(
            "payment_per_registered_patient",
            Kind::Decimal(2),
            "Average payments per registered patient, in pounds, as published",
        ),
        opt(
            "payment_per_weighted_patient",
            Kind::Decimal(2),
            "Average payments per weighted patient, in pounds, as published",
        ),
        col(
            "components",
            Kind::Object(ObjectValues::Decimal),
            "Every other payment column of the row (payment components such as Global Sum, \
             deductions, totals including COVID), keyed by its published name with line \
             breaks, footnote digits and £ removed and CamelCase split into words; pounds as \
             decimal strings, null where the file has none (-)",
        ),
        internal(
            "line",
            Kind::Integer,
            "Line of the row in its file: rows of one practice stay apart, in file order",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "practice_code", "line"],
    indexes: &[
        &["practice_code", "year"],
        &["pcn_code", "year"],
        &["sub_icb_code", "year"],
        &["region_code", "year"],
        &["contract_type", "year"],
    ],
};

/// One row per PCN row of a year's PCN file.
pub static PCN_PAYMENTS: Table = Table {
    name: "nhs_payments_pcns",
    columns: &[
        col("year", Kind::Text, "Financial year (2024/25)"),
        col("pcn_code", Kind::Text, "PCN code"),
        opt("pcn_name", Kind::Text, "PCN name, where published"),
        opt("icb_code", Kind::Text, "ICB code, where published"),
        opt("icb_name", Kind::Text, "ICB name, where published"),
        opt(
            "region_code",
            Kind::Text,
            "Commissioning region code, where published",
        ),
        opt(
            "region_name",
            Kind::Text,
            "Commissioning region name, where published",
        ),
        opt(
            "registered_patients",
            Kind::Decimal(2),
            "Registered patients of the PCN as published",
        ),
        opt(
            "weighted_patients",
            Kind::Decimal(2),
            "Weighted patients of the PCN as published",
        ),
        opt(
            "total_payments",
            Kind::Decimal(2),
            "Total NHS payments to the PCN, in pounds",
        ),
        col(
            "components",
            Kind::Object(ObjectValues::Decimal),
            "Every other payment column of the row, keyed by its published name (normalised as \
             for practices); pounds as decimal strings, null where the file has none (-)",
        ),
        internal(
            "line",
            Kind::Integer,
            "Line of the row in its file: rows of one PCN stay apart, in file order",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "pcn_code", "line"],
    indexes: &[&["pcn_code", "year"], &["icb_code", "year"]],
};

const YEAR_FILTER: Filter = Filter {
    name: "year",
    kind: FilterKind::FinancialYear("year"),
    description: "Financial year (2024/25; 2024-25 and 202425 are accepted).",
};

const PCN_FILTER: Filter = Filter {
    name: "pcn",
    kind: FilterKind::Code("pcn_code"),
    description: "PCN code.",
};

pub static PRACTICE_PAYMENTS_ENDPOINT: Endpoint = Endpoint {
    path: "nhs-payments/practices/",
    view_name: "Nhs Payment Practice List",
    component: "NhsPaymentPractice",
    description: "NHS Payments to General Practice: each financial year's payments per practice \
                  as published, with patients, totals, payments per patient and every payment \
                  component (`components`). Geography is as the year's file publishes it: \
                  PCN codes only in years that publish them, CCG codes as `sub_icb_code` in \
                  earlier years. Money is in pounds, as decimal strings.",
    table: &PRACTICE_PAYMENTS,
    fields: SERVED_COLUMNS,
    filters: &[
        YEAR_FILTER,
        Filter {
            name: "practice",
            kind: FilterKind::Code("practice_code"),
            description: "Practice code.",
        },
        PCN_FILTER,
        Filter {
            name: "sub_icb",
            kind: FilterKind::Code("sub_icb_code"),
            description: "Sub-ICB location code (CCG code in earlier years).",
        },
        Filter {
            name: "region",
            kind: FilterKind::Code("region_code"),
            description: "Commissioning region code, as the year's file publishes it.",
        },
        Filter {
            name: "contract_type",
            kind: FilterKind::Code("contract_type"),
            description: "Contract type (GMS, PMS, APMS).",
        },
    ],
    core: &["year", "practice", "pcn", "sub_icb", "region"],
    ordering: &[
        ("year", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("line", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

pub static PCN_PAYMENTS_ENDPOINT: Endpoint = Endpoint {
    path: "nhs-payments/pcns/",
    view_name: "Nhs Payment Pcn List",
    component: "NhsPaymentPcn",
    description: "NHS Payments to General Practice: each financial year's payments per PCN as \
                  published in the PCN file, with patients, the total and every payment \
                  component (`components`). Money is in pounds, as decimal strings.",
    table: &PCN_PAYMENTS,
    fields: SERVED_COLUMNS,
    filters: &[
        YEAR_FILTER,
        PCN_FILTER,
        Filter {
            name: "icb",
            kind: FilterKind::Code("icb_code"),
            description: "ICB code.",
        },
    ],
    core: &["year", "pcn", "icb"],
    ordering: &[
        ("year", Direction::Asc),
        ("pcn_code", Direction::Asc),
        ("line", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "NHS Payments to General Practice",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/nhs-payments-to-general-practice",
    cadence: Some(Cadence::Annual),
};

pub static DATASET: Dataset = Dataset {
    name: "payments",
    scope: SCOPE,
    tables: &[&PRACTICE_PAYMENTS, &PCN_PAYMENTS],
    endpoints: &[&PRACTICE_PAYMENTS_ENDPOINT, &PCN_PAYMENTS_ENDPOINT],
    sources: &[&load::NHS_PAYMENTS],
    derivations: &[],
    publication: &PUBLICATION,
};
