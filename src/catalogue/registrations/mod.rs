//! Patients Registered at a GP Practice: the practice → PCN → sub-ICB → ICB → region map and
//! registrations by sex and five-year age band for every organisation level, monthly. Serves
//! `/practices/{ods_code}/population/`; feeds practice list sizes and geography names.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Derivation, Derive, Publication};
use crate::schema::{Direction, Endpoint, Kind, PathLookup, Shape, Table, col, internal, opt};

/// The key scope of the organisation endpoints: practices, PCNs, their registrations and list
/// sizes, which are built from one another.
pub const SCOPE: &str = "organisations";

/// A column list with the twenty five-year age band columns between `head` and `tail`.
macro_rules! with_age_bands {
    ([$($head:expr),* $(,)?], [$($tail:expr),* $(,)?]) => {
        &[
            $($head,)*
            opt("age_0_4", Kind::Integer, "Persons aged 0-4"),
            opt("age_5_9", Kind::Integer, "Persons aged 5-9"),
            opt("age_10_14", Kind::Integer, "Persons aged 10-14"),
            opt("age_15_19", Kind::Integer, "Persons aged 15-19"),
            opt("age_20_24", Kind::Integer, "Persons aged 20-24"),
            opt("age_25_29", Kind::Integer, "Persons aged 25-29"),
            opt("age_30_34", Kind::Integer, "Persons aged 30-34"),
            opt("age_35_39", Kind::Integer, "Persons aged 35-39"),
            opt("age_40_44", Kind::Integer, "Persons aged 40-44"),
            opt("age_45_49", Kind::Integer, "Persons aged 45-49"),
            opt("age_50_54", Kind::Integer, "Persons aged 50-54"),
            opt("age_55_59", Kind::Integer, "Persons aged 55-59"),
            opt("age_60_64", Kind::Integer, "Persons aged 60-64"),
            opt("age_65_69", Kind::Integer, "Persons aged 65-69"),
            opt("age_70_74", Kind::Integer, "Persons aged 70-74"),
            opt("age_75_79", Kind::Integer, "Persons aged 75-79"),
            opt("age_80_84", Kind::Integer, "Persons aged 80-84"),
            opt("age_85_89", Kind::Integer, "Persons aged 85-89"),
            opt("age_90_94", Kind::Integer, "Persons aged 90-94"),
            opt("age_95_plus", Kind::Integer, "Persons aged 95 and over"),
            $($tail,)*
        ]
    };
}

pub static REG_PRACTICE_MAP: Table = Table {
    name: "reg_practice_map",
    columns: &[
        col("extract_date", Kind::Date, "Extract date"),
        col("practice_code", Kind::Text, "Practice code"),
        col("practice_name", Kind::Text, "Practice name"),
        opt("practice_postcode", Kind::Text, "Practice postcode"),
        opt("pcn_code", Kind::Text, "PCN code"),
        opt("pcn_name", Kind::Text, "PCN name"),
        col("sub_icb_code", Kind::Text, "Sub-ICB location code"),
        opt("sub_icb_ons_code", Kind::Text, "Sub-ICB location ONS code"),
        col("sub_icb_name", Kind::Text, "Sub-ICB location name"),
        col("icb_code", Kind::Text, "ICB code"),
        opt("icb_ons_code", Kind::Text, "ICB ONS code"),
        col("icb_name", Kind::Text, "ICB name"),
        col("region_code", Kind::Text, "Commissioning region code"),
        opt(
            "region_ons_code",
            Kind::Text,
            "Commissioning region ONS code",
        ),
        col("region_name", Kind::Text, "Commissioning region name"),
        opt("supplier", Kind::Text, "Clinical system supplier"),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["extract_date", "practice_code"],
    indexes: &[&["practice_code"]],
};

pub static REG_POPULATIONS: Table = Table {
    name: "reg_populations",
    columns: with_age_bands!(
        [
            col("extract_date", Kind::Date, "Extract date"),
            col(
                "financial_year",
                Kind::Text,
                "Financial year of the extract (2024/25)"
            ),
            col(
                "org_type",
                Kind::Text,
                "practice, pcn, sub_icb, icb or region"
            ),
            col("org_code", Kind::Text, "Organisation code"),
            col(
                "source",
                Kind::Text,
                "quin_age or totals: the file the row came from"
            ),
            opt("ons_code", Kind::Text, "ONS code"),
            opt("postcode", Kind::Text, "Postcode (practices)"),
            opt("total", Kind::Integer, "All registered patients"),
            opt("male", Kind::Integer, "Male registered patients"),
            opt("female", Kind::Integer, "Female registered patients"),
        ],
        [internal(
            "import_id",
            Kind::Integer,
            "Import that loaded the row"
        )]
    ),
    primary_key: &["extract_date", "org_type", "org_code", "source"],
    indexes: &[&["org_type", "org_code"]],
};

pub static PRACTICE_POPULATIONS: Table = Table {
    name: "practice_populations",
    columns: with_age_bands!(
        [
            col("practice_code", Kind::Text, "Practice code"),
            col("financial_year", Kind::Text, "Financial year (2024/25)"),
            col(
                "extract_date",
                Kind::Date,
                "The extract the year's figures come from: April, else the earliest in the year"
            ),
            opt("total", Kind::Integer, "All registered patients"),
            opt("male", Kind::Integer, "Male registered patients"),
            opt("female", Kind::Integer, "Female registered patients"),
        ],
        []
    ),
    primary_key: &["practice_code", "financial_year"],
    indexes: &[],
};

pub static POPULATION_ENDPOINT: Endpoint = Endpoint {
    path: "practices/{ods_code}/population/",
    view_name: "Practice Population",
    component: "PracticePopulation",
    description: "Registered patients of one practice by financial year: totals by sex and persons by five-year age band, from the April extract (else the earliest extract in that year).",
    table: &PRACTICE_POPULATIONS,
    fields: &[
        "financial_year",
        "extract_date",
        "total",
        "male",
        "female",
        "age_0_4",
        "age_5_9",
        "age_10_14",
        "age_15_19",
        "age_20_24",
        "age_25_29",
        "age_30_34",
        "age_35_39",
        "age_40_44",
        "age_45_49",
        "age_50_54",
        "age_55_59",
        "age_60_64",
        "age_65_69",
        "age_70_74",
        "age_75_79",
        "age_80_84",
        "age_85_89",
        "age_90_94",
        "age_95_plus",
    ],
    filters: &[],
    core: &[],
    ordering: &[("financial_year", Direction::Asc)],
    shape: Shape::Array,
    lookup: Some(PathLookup {
        param: "ods_code",
        parent_table: "practices",
        parent_column: "ods_code",
        column: "practice_code",
        parent_model: "Practice",
    }),
};

/// Each practice's population per financial year: the earliest extract in the year (April when
/// published), preferring the age-band file over totals for the same extract.
pub static DERIVE: Derivation = Derivation {
    reads: &[&REG_POPULATIONS],
    writes: &[&PRACTICE_POPULATIONS],
    how: Derive::Rows("SELECT org_code, financial_year, extract_date, total, male, female, age_0_4, age_5_9, age_10_14, age_15_19, age_20_24, age_25_29, age_30_34, age_35_39, age_40_44, age_45_49, age_50_54, age_55_59, age_60_64, age_65_69, age_70_74, age_75_79, age_80_84, age_85_89, age_90_94, age_95_plus
     FROM (
        SELECT r.*, ROW_NUMBER() OVER (
            PARTITION BY org_code, financial_year
            ORDER BY extract_date, CASE source WHEN 'quin_age' THEN 0 ELSE 1 END) AS rn
        FROM reg_populations r WHERE org_type = 'practice'
     ) ranked WHERE rn = 1"),
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Patients Registered at a GP Practice",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/patients-registered-at-a-gp-practice",
    cadence: Some(Cadence::Monthly),
};

/// Patients Registered at a GP Practice: monthly extracts, and each practice's population by
/// financial year.
pub static DATASET: Dataset = Dataset {
    name: "registrations",
    scope: SCOPE,
    tables: &[&REG_PRACTICE_MAP, &REG_POPULATIONS, &PRACTICE_POPULATIONS],
    endpoints: &[&POPULATION_ENDPOINT],
    sources: &[&load::REGISTRATIONS],
    derivations: &[&DERIVE],
    publication: &PUBLICATION,
};
