//! ODS organisation reference: GP practices (epraccur) and PCNs with their member practices
//! (ePCN), served as `/practices/` and `/pcns/` together with geography and list sizes from
//! the registration publication.

pub mod derive;
pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Dataset, Publication, registrations};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub static ODS_PRACTICES: Table = Table {
    name: "ods_practices",
    columns: &[
        col("code", Kind::Text, "ODS organisation code"),
        col("name", Kind::Text, "Practice name"),
        opt("region_code", Kind::Text, "National grouping (column 3)"),
        opt(
            "icb_code",
            Kind::Text,
            "High level health geography (column 4)",
        ),
        col("address", Kind::Text, "Address lines joined with \", \""),
        opt("postcode", Kind::Text, "Postcode"),
        opt("open_date", Kind::Date, "Open date"),
        opt("close_date", Kind::Date, "Close date"),
        col("status", Kind::Text, "active, closed, dormant or proposed"),
        opt("sub_icb_code", Kind::Text, "Commissioner (column 15)"),
        opt("phone", Kind::Text, "Contact telephone number"),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["code"],
    indexes: &[],
};

pub static ODS_PCNS: Table = Table {
    name: "ods_pcns",
    columns: &[
        col("code", Kind::Text, "PCN code"),
        col("name", Kind::Text, "PCN name"),
        opt("sub_icb_code", Kind::Text, "Sub-ICB location of the PCN"),
        opt("sub_icb_name", Kind::Text, "Sub-ICB location name"),
        opt("open_date", Kind::Date, "Open date"),
        opt("close_date", Kind::Date, "Close date"),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &["code"],
    indexes: &[],
};

pub static ODS_PCN_MEMBERSHIPS: Table = Table {
    name: "ods_pcn_memberships",
    columns: &[
        col("practice_code", Kind::Text, "Partner organisation code"),
        col("pcn_code", Kind::Text, "PCN code"),
        opt("start_date", Kind::Date, "Relationship start date"),
        opt(
            "end_date",
            Kind::Date,
            "Relationship end date; empty while current",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    primary_key: &[],
    indexes: &[&["practice_code"], &["pcn_code"]],
};

pub static PRACTICES: Table = Table {
    name: "practices",
    columns: &[
        col("ods_code", Kind::Text, "ODS code of the practice"),
        col("name", Kind::Text, "Practice name"),
        col("address", Kind::Text, "Address lines joined with \", \""),
        opt("postcode", Kind::Text, "Postcode"),
        col("status", Kind::Text, "active, closed, dormant or proposed"),
        opt("open_date", Kind::Date, "Date the practice opened"),
        opt("close_date", Kind::Date, "Date the practice closed"),
        opt("pcn_code", Kind::Text, "Current PCN"),
        opt("pcn_name", Kind::Text, "Current PCN name"),
        opt("sub_icb_code", Kind::Text, "Commissioning sub-ICB location"),
        opt("sub_icb_name", Kind::Text, "Sub-ICB location name"),
        opt("icb_code", Kind::Text, "Integrated care board"),
        opt("icb_name", Kind::Text, "Integrated care board name"),
        opt(
            "region_code",
            Kind::Text,
            "NHS England commissioning region",
        ),
        opt("region_name", Kind::Text, "Region name"),
        opt(
            "list_size",
            Kind::Integer,
            "Registered patients in the latest registration extract",
        ),
        opt("list_size_month", Kind::Date, "Extract date of list_size"),
        internal(
            "search_text",
            Kind::Text,
            "ods_code, name and postcode, lower-cased, for search",
        ),
    ],
    primary_key: &["ods_code"],
    indexes: &[&["pcn_code"], &["icb_code"]],
};

pub static PCNS: Table = Table {
    name: "pcns",
    columns: &[
        col("pcn_code", Kind::Text, "PCN code"),
        col("name", Kind::Text, "PCN name"),
        opt("sub_icb_code", Kind::Text, "Sub-ICB location of the PCN"),
        opt("icb_code", Kind::Text, "Integrated care board"),
        opt("icb_name", Kind::Text, "Integrated care board name"),
        opt(
            "region_code",
            Kind::Text,
            "NHS England commissioning region",
        ),
        opt("open_date", Kind::Date, "Date the PCN opened"),
        opt("close_date", Kind::Date, "Date the PCN closed"),
        col("practice_count", Kind::Integer, "Current member practices"),
        opt(
            "list_size",
            Kind::Integer,
            "Sum of the current member practices' list sizes",
        ),
        internal(
            "search_text",
            Kind::Text,
            "pcn_code and name, lower-cased, for search",
        ),
    ],
    primary_key: &["pcn_code"],
    indexes: &[&["icb_code"]],
};

pub static PRACTICES_ENDPOINT: Endpoint = Endpoint {
    path: "practices/",
    view_name: "Practice List",
    component: "Practice",
    description: "GP practices (ODS prescribing setting 4), open and closed, with their current PCN, geography and latest list size.",
    table: &PRACTICES,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "search",
            kind: FilterKind::Search {
                column: "search_text",
                fields: &["ods_code", "name", "postcode"],
            },
            description: "Terms (split on spaces and commas) that must each appear in the ODS code, name or postcode.",
        },
        Filter {
            name: "pcn",
            kind: FilterKind::Code("pcn_code"),
            description: "PCN code.",
        },
        Filter {
            name: "icb",
            kind: FilterKind::Code("icb_code"),
            description: "ICB code.",
        },
    ],
    core: &[],
    ordering: &[("ods_code", Direction::Asc)],
    shape: Shape::Paginated,
    lookup: None,
};

pub static PCNS_ENDPOINT: Endpoint = Endpoint {
    path: "pcns/",
    view_name: "Pcn List",
    component: "Pcn",
    description: "Primary care networks with their geography, member practice count and list size.",
    table: &PCNS,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "search",
            kind: FilterKind::Search {
                column: "search_text",
                fields: &["pcn_code", "name"],
            },
            description: "Terms (split on spaces and commas) that must each appear in the PCN code or name.",
        },
        Filter {
            name: "icb",
            kind: FilterKind::Code("icb_code"),
            description: "ICB code.",
        },
    ],
    core: &[],
    ordering: &[("pcn_code", Direction::Asc)],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Organisation Data Service: GP and GP practice related data",
    url: "https://digital.nhs.uk/services/organisation-data-service/export-data-files/csv-downloads/gp-and-gp-practice-related-data",
    cadence: None,
};

/// GP practices, from epraccur.
pub static PRACTICES_DATASET: Dataset = Dataset {
    name: "practices",
    scope: registrations::SCOPE,
    tables: &[&ODS_PRACTICES, &PRACTICES],
    endpoints: &[&PRACTICES_ENDPOINT],
    sources: &[&load::EPRACCUR],
    derivations: &[&derive::PRACTICES],
    publication: &PUBLICATION,
};

/// Primary care networks and their member practices, from ePCN.
pub static PCNS_DATASET: Dataset = Dataset {
    name: "pcns",
    scope: registrations::SCOPE,
    tables: &[&ODS_PCNS, &ODS_PCN_MEMBERSHIPS, &PCNS],
    endpoints: &[&PCNS_ENDPOINT],
    sources: &[&load::EPCN],
    derivations: &[&derive::PCNS],
    publication: &PUBLICATION,
};
