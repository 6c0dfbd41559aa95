//! General Practice Workforce (NWRS): headcount and FTE by practice, staff group and staff role
//! at monthly snapshots, from the detailed (wide) and high-level (long) practice CSVs. Serves
//! `/nwrs/snapshots/` and `/nwrs/`.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Derivation, Derive, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub const SCOPE: &str = "workforce";

/// The columns a workforce row shares between the loaded and the served table, in order.
macro_rules! staff_columns {
    ([$($extra:expr),* $(,)?]) => {
        &[
            col("snapshot", Kind::Date, "Snapshot date (last day of the month)"),
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
                "staff_group",
                Kind::Text,
                "GP, Nurses, Direct Patient Care or Admin/Non-Clinical",
            ),
            col("staff_role", Kind::Text, "Detailed staff role; Total for the whole group"),
            opt("headcount", Kind::Integer, "Headcount; null where not available (NA/ND)"),
            opt(
                "fte",
                Kind::Decimal(2),
                "Full-time equivalent; null where not available (NA/ND)",
            ),
            $($extra,)*
        ]
    };
}

/// One row per snapshot, practice, group and role. Each file replaces its own rows of its
/// snapshot; where both files have a row, the high-level one is kept (see `load`).
pub static NWRS: Table = Table {
    name: "nwrs",
    columns: staff_columns!([
        internal(
            "source",
            Kind::Text,
            "high_level or detailed: the file the row came from",
        ),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ]),
    primary_key: &["snapshot", "practice_code", "staff_group", "staff_role"],
    // A snapshot is always given, so each geography index narrows to one snapshot too.
    indexes: &[
        &["practice_code", "snapshot"],
        &["pcn_code", "snapshot"],
        &["icb_code", "snapshot"],
        &["region_code", "snapshot"],
    ],
};

pub static NWRS_SNAPSHOTS: Table = Table {
    name: "nwrs_snapshots",
    columns: &[
        col(
            "snapshot",
            Kind::Date,
            "Snapshot date (last day of the month)",
        ),
        col(
            "practice_count",
            Kind::Integer,
            "Practices with workforce rows at the snapshot",
        ),
    ],
    primary_key: &["snapshot"],
    indexes: &[],
};

pub static SNAPSHOTS_ENDPOINT: Endpoint = Endpoint {
    path: "nwrs/snapshots/",
    view_name: "Nwrs Snapshot List",
    component: "NwrsSnapshot",
    description: "General Practice Workforce snapshot dates with data, latest first, with the number of practices in each.",
    table: &NWRS_SNAPSHOTS,
    fields: SERVED_COLUMNS,
    filters: &[],
    core: &[],
    ordering: &[("snapshot", Direction::Desc)],
    shape: Shape::Array,
    lookup: None,
};

pub static NWRS_ENDPOINT: Endpoint = Endpoint {
    path: "nwrs/",
    view_name: "Nwrs List",
    component: "Nwrs",
    description: "General Practice Workforce (NWRS): headcount and FTE by practice, staff group and staff role at a snapshot. The high-level practice file is preferred over the detailed one for the roles it publishes.",
    table: &NWRS,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "snapshot",
            kind: FilterKind::Date("snapshot"),
            description: "Snapshot date (last day of the month, 2025-09-30).",
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
    core: &["snapshot"],
    ordering: &[
        ("practice_code", Direction::Asc),
        ("staff_group", Direction::Asc),
        ("staff_role", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The snapshot list, rebuilt from `nwrs`.
pub static DERIVE: Derivation = Derivation {
    reads: &[&NWRS],
    writes: &[&NWRS_SNAPSHOTS],
    how: Derive::Rows("SELECT snapshot, COUNT(DISTINCT practice_code) FROM nwrs GROUP BY snapshot"),
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "General Practice Workforce",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/general-and-personal-medical-services",
    cadence: Some(Cadence::Monthly),
};

pub static DATASET: Dataset = Dataset {
    name: "nwrs",
    scope: SCOPE,
    tables: &[&NWRS, &NWRS_SNAPSHOTS],
    endpoints: &[&SNAPSHOTS_ENDPOINT, &NWRS_ENDPOINT],
    sources: &[&load::NWRS],
    derivations: &[&DERIVE],
    publication: &PUBLICATION,
};
