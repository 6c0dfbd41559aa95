//! GP Patient Survey (Ipsos for NHS England): each survey year's weighted practice-level
//! results, from the annual practice CSV. Serves `/gp-patient-survey/`.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, ObjectValues, SERVED_COLUMNS, Shape, Table, col,
    internal, opt,
};

pub const SCOPE: &str = "gpps";

/// One row per practice and survey year. Each import replaces the year it holds.
pub static GP_PATIENT_SURVEY: Table = Table {
    name: "gp_patient_survey",
    columns: &[
        col(
            "year",
            Kind::Integer,
            "Survey year (2025): fieldwork January to March, published in July",
        ),
        col("practice_code", Kind::Text, "Practice code"),
        opt("practice_name", Kind::Text, "Practice name, as published"),
        opt(
            "pcn_code",
            Kind::Text,
            "PCN code (ad_pcncode), published from 2024",
        ),
        opt(
            "pcn_name",
            Kind::Text,
            "PCN name (ad_pcnname), published from 2024",
        ),
        opt(
            "ics_code",
            Kind::Text,
            "ICS (ICB) code: ad_icscode from 2024, ICS_Code in 2022-2023, STP_Code in earlier \
             files that publish it; null where the year's file has none",
        ),
        opt("ics_name", Kind::Text, "ICS name, where published"),
        opt(
            "region_code",
            Kind::Text,
            "NHS England commissioning region code: ad_commissioningregioncode from 2024, \
             CR_Code in earlier files that publish it",
        ),
        opt(
            "region_name",
            Kind::Text,
            "Commissioning region name, where published",
        ),
        opt(
            "list_band",
            Kind::Text,
            "List size band derived from popsize, each band from its lower edge: under_5k \
             (under 5,000), 5k_10k (5,000-9,999), 10k_15k (10,000-14,999), 15k_20k \
             (15,000-19,999), 20k_plus (20,000 and over); null where popsize is not published",
        ),
        opt(
            "list_size",
            Kind::Integer,
            "Practice population the survey sampled from (popsize), where published",
        ),
        opt(
            "distributed",
            Kind::Integer,
            "Questionnaires sent out (distributed)",
        ),
        opt(
            "received",
            Kind::Integer,
            "Questionnaires returned (received)",
        ),
        opt(
            "response_rate",
            Kind::Float,
            "Response rate as published (resprate): a fraction 0-1",
        ),
        opt(
            "overall_experience",
            Kind::Float,
            "Share describing their overall experience of the practice as very or fairly good, \
             a fraction 0-1 as published: overallexp.pcteval from 2024, Q28_12pct in 2023 and \
             earlier (the same question's wording, but not comparable across the 2024 redesign)",
        ),
        opt(
            "contact_experience",
            Kind::Float,
            "Share describing their overall experience of contacting the practice as good, a \
             fraction 0-1 as published: gpcontactoverall.pcteval from 2024; Q18_12pct (overall \
             experience of making an appointment) in 2023 and earlier, as analysts pair them \
             (not verified, not comparable across the 2024 redesign)",
        ),
        opt(
            "phone_ease",
            Kind::Float,
            "Share finding it easy to contact the practice by phone, a fraction 0-1 as \
             published: localgpservicesphone.pcteval from 2024; Q3_12pct (ease of getting \
             through on the phone) in 2023 and earlier (pairing not verified, not comparable \
             across the 2024 redesign)",
        ),
        col(
            "measures",
            Kind::Object(ObjectValues::Number),
            "Every published question column of the row, keyed by its column name as published \
             (overallexp.pcteval, lastgpapptwhen_1.pct from 2024; Q28_12pct before), in file \
             order; values as published (.pct, .pcteval and _pct shares are fractions 0-1), \
             null where the file has a negative missing marker (-97, -99), / or nothing",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["year", "practice_code"],
    indexes: &[
        &["practice_code", "year"],
        &["pcn_code", "year"],
        &["ics_code", "year"],
        &["region_code", "year"],
        &["list_band", "year"],
    ],
};

pub static GP_PATIENT_SURVEY_ENDPOINT: Endpoint = Endpoint {
    path: "gp-patient-survey/",
    view_name: "Gp Patient Survey List",
    component: "GpPatientSurvey",
    description: "GP Patient Survey: each survey year's weighted results per practice, with \
                  responses, the response rate, headline measures and every published question \
                  column (`measures`). Shares are fractions 0-1 as published. The questionnaire \
                  was redesigned in 2024: results from 2024 on are not comparable with 2023 and \
                  earlier, whose question columns have other names (Q28_12pct rather than \
                  overallexp.pcteval). Geography is as each year's file publishes it.",
    table: &GP_PATIENT_SURVEY,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "year",
            kind: FilterKind::Year("year"),
            description: "Survey year (2025).",
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
            name: "ics",
            kind: FilterKind::Code("ics_code"),
            description: "ICS (ICB) code.",
        },
        Filter {
            name: "region",
            kind: FilterKind::Code("region_code"),
            description: "Commissioning region code.",
        },
        Filter {
            name: "list_band",
            kind: FilterKind::LowerCode("list_band"),
            description: "List size band: under_5k, 5k_10k, 10k_15k, 15k_20k or 20k_plus.",
        },
    ],
    core: &["year", "practice", "pcn", "ics", "region"],
    ordering: &[("year", Direction::Asc), ("practice_code", Direction::Asc)],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "GP Patient Survey",
    url: "https://www.england.nhs.uk/statistics/statistical-work-areas/gp-patient-survey/",
    cadence: Some(Cadence::Annual),
};

pub static DATASET: Dataset = Dataset {
    name: "gpps",
    scope: SCOPE,
    tables: &[&GP_PATIENT_SURVEY],
    endpoints: &[&GP_PATIENT_SURVEY_ENDPOINT],
    sources: &[&load::GP_PATIENT_SURVEY],
    derivations: &[],
    publication: &PUBLICATION,
};
