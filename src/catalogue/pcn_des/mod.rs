//! PCN Directed Enhanced Service: the Network Contract DES management information (including
//! the Investment and Impact Fund), by achievement date, organisation, ruleset and indicator,
//! from the monthly `NCDes<Month><YY>.csv` extracts, the `NCDes<Month><YY>_By_Ruleset.zip`
//! members and the annual IIF file. A row gathers the measures the file publishes on several
//! lines (one per MEASURE). Serves `/pcn-des/`.

pub mod derive;
pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, ObjectValues, SERVED_COLUMNS, Shape, Table, col,
    internal, opt,
};

pub const SCOPE: &str = "pcn_des";

/// One row per publication, achievement date, organisation, ruleset, quality service and
/// indicator.
pub static ACHIEVEMENT: Table = Table {
    name: "pcn_des",
    columns: &[
        internal("id", Kind::Integer, "Row number, in the served order"),
        col(
            "date",
            Kind::Date,
            "Achievement date (ACH_DATE): the values count from 1 April of its financial year \
             up to this day",
        ),
        col(
            "publication",
            Kind::Text,
            "monthly (an NCDes monthly extract or one of its By_Ruleset files) or iif_annual \
             (the annual IIF file)",
        ),
        col(
            "organisation_type",
            Kind::Text,
            "practice, or pcn for a row the annual IIF file publishes for a whole PCN \
             (ORGANISATION_TYPE PCN): such a row has no practice_code",
        ),
        internal(
            "organisation_code",
            Kind::Text,
            "practice_code, or pcn_code on a PCN row: orders the rows",
        ),
        opt(
            "practice_code",
            Kind::Text,
            "Practice code; null on a PCN row",
        ),
        opt(
            "practice_name",
            Kind::Text,
            "Practice name as published (the publisher writes UNALLOCATED where it has none); \
             null on a PCN row",
        ),
        opt(
            "pcn_code",
            Kind::Text,
            "PCN: on a practice row the practice's current PCN from the ODS practices (null \
             where ODS does not list the practice); on a PCN row the PCN the file publishes",
        ),
        opt(
            "pcn_name",
            Kind::Text,
            "PCN name: from the ODS practices on a practice row, as published on a PCN row",
        ),
        opt(
            "icb_code",
            Kind::Text,
            "ICB: the practice's (ODS practices) or the PCN's (ODS PCNs), as ODS stands now",
        ),
        col(
            "quality_service",
            Kind::Text,
            "Quality service as published (NCD2425)",
        ),
        opt(
            "ruleset",
            Kind::Text,
            "Ruleset ID, from the name of the By_Ruleset file the row came from \
             (NCDes<Month><YY>_<RULESET_ID>.csv); null for rows of the national monthly \
             extract and of the IIF file, which name none",
        ),
        internal(
            "ruleset_key",
            Kind::Text,
            "ruleset, or \"\" where there is none: orders the rows on both backends alike",
        ),
        col("indicator", Kind::Text, "Indicator code (IND_CODE)"),
        opt(
            "numerator",
            Kind::Integer,
            "The Numerator measure; null where suppressed (*) or not published for the \
             indicator",
        ),
        opt(
            "denominator",
            Kind::Integer,
            "The Denominator measure; null where suppressed (*) or not published",
        ),
        opt(
            "pca",
            Kind::Integer,
            "Personalised care adjustments: the one PCA Count (Rule n: …) measure, or where \
             several are published the sum of them (each is also in measures); null where any \
             is suppressed (*) or none is published",
        ),
        opt(
            "achievement",
            Kind::Float,
            "100 × numerator / denominator; null when either is null or the denominator is 0",
        ),
        col(
            "measures",
            Kind::Object(ObjectValues::Number),
            "Every other measure published for the row, by its published name (MI Count, \
             Management Information, each PCA Count where there are several, the IIF file's \
             named measures), in the file's order; null where suppressed (*)",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["id"],
    indexes: &[
        &[
            "date",
            "organisation_type",
            "organisation_code",
            "indicator",
            "ruleset_key",
            "id",
        ],
        &["practice_code", "date"],
        &["pcn_code", "date"],
        &["icb_code", "date"],
        &["ruleset", "date"],
        &["indicator", "date"],
    ],
};

pub static ENDPOINT: Endpoint = Endpoint {
    path: "pcn-des/",
    view_name: "Pcn Des List",
    component: "PcnDes",
    description: "Network Contract DES management information (including the Investment and \
        Impact Fund) by achievement date, organisation, ruleset and indicator. Values are \
        cumulative from 1 April within the financial year up to the achievement date, not \
        the month's activity. numerator, denominator and pca are the published Numerator, \
        Denominator and PCA Count measures; achievement is 100 × numerator / denominator; \
        every other measure is in measures by its published name. Suppressed values (*) are \
        null, never 0. Rows the annual IIF file publishes for a whole PCN have \
        organisation_type pcn and no practice. PCN and ICB come from the ODS practices and \
        PCNs as they stand (the PCN of a PCN row as published).",
    table: &ACHIEVEMENT,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "date",
            kind: FilterKind::Date("date"),
            description: "Achievement date (2025-06-30).",
        },
        Filter {
            name: "practice",
            kind: FilterKind::Code("practice_code"),
            description: "Practice code; PCN rows never match.",
        },
        Filter {
            name: "pcn",
            kind: FilterKind::Code("pcn_code"),
            description: "PCN code: its practices' rows and its own PCN rows.",
        },
        Filter {
            name: "icb",
            kind: FilterKind::Code("icb_code"),
            description: "ICB code.",
        },
        Filter {
            name: "ruleset",
            kind: FilterKind::Code("ruleset"),
            description: "Ruleset ID, as the By_Ruleset file names it.",
        },
        Filter {
            name: "indicator",
            kind: FilterKind::Code("indicator"),
            description: "Indicator code (CAN04).",
        },
    ],
    core: &["date", "practice", "pcn", "icb"],
    ordering: &[
        ("date", Direction::Asc),
        ("organisation_type", Direction::Asc),
        ("organisation_code", Direction::Asc),
        ("indicator", Direction::Asc),
        ("ruleset_key", Direction::Asc),
        ("id", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Network Contract DES (MI)",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/mi-network-contract-des",
    cadence: Some(Cadence::Monthly),
};

pub static DATASET: Dataset = Dataset {
    name: "pcn_des",
    scope: SCOPE,
    tables: &[&ACHIEVEMENT],
    endpoints: &[&ENDPOINT],
    sources: &[&load::PCN_DES],
    derivations: &[&derive::GEOGRAPHY],
    publication: &PUBLICATION,
};
