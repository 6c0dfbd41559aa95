//! Appointments in General Practice (GPAD): appointments by month, practice, HCP type, mode,
//! national category, booking lead time and status, from the practice-level crosstab CSVs of
//! the `Practice_Level_Crosstab_<Mon>_<YY>.zip` releases. Serves `/gp-appointments/`.

pub mod load;
pub mod parse;
pub mod sample;

use crate::catalogue::{Cadence, Dataset, Publication};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, internal, opt,
};

pub const SCOPE: &str = "appointments";

/// One row per month, practice and published dimension combination. A month is replaced as a
/// whole by the latest import that holds it (see `load`).
pub static GP_APPOINTMENTS: Table = Table {
    name: "gp_appointments",
    columns: &[
        col(
            "month",
            Kind::Date,
            "First day of the month the appointments were in",
        ),
        col("practice_code", Kind::Text, "Practice code (GP_CODE)"),
        opt("practice_name", Kind::Text, "Practice name (GP_NAME)"),
        opt(
            "supplier",
            Kind::Text,
            "Clinical system supplier (EMIS, TPP), upper-cased",
        ),
        opt("pcn_code", Kind::Text, "PCN code, as the release gives it"),
        opt(
            "sub_icb_code",
            Kind::Text,
            "Sub-ICB location code, as the release gives it",
        ),
        opt(
            "icb_code",
            Kind::Text,
            "ICB code: from the release's Mapping.csv where it lists the practice (it wins where ODS differs), else from the ODS practice record at import",
        ),
        opt(
            "region_code",
            Kind::Text,
            "Commissioning region code, from Mapping.csv or ODS as icb_code",
        ),
        col(
            "hcp_type",
            Kind::Text,
            "Healthcare professional type (GP, Other Practice staff, Unknown)",
        ),
        col(
            "appt_mode",
            Kind::Text,
            "Appointment mode (Face-to-Face, Telephone, Home Visit, Video Conference/Online, Unknown)",
        ),
        col(
            "national_category",
            Kind::Text,
            "National appointment category, as published",
        ),
        col(
            "time_between_book_and_appt",
            Kind::Text,
            "Booking lead time band, in the current release's spelling whatever the edition it came from: Same Day, 1 Day, 2 to 7 Days, 8  to 14 Days, 15  to 21 Days, 22  to 28 Days (two spaces, as published), More than 28 Days, Unknown / Data Quality (older releases' Unknown / Data Issue)",
        ),
        col(
            "appt_status",
            Kind::Text,
            "Attended, DNA or Unknown; Unknown for every row of the releases that published no APPT_STATUS (December 2022, January 2023)",
        ),
        col("count", Kind::Integer, "Number of appointments"),
        internal("import_id", Kind::Integer, "Import that loaded the row"),
    ],
    // The key is the served order, so a month's pages are read straight from it.
    primary_key: &[
        "month",
        "practice_code",
        "hcp_type",
        "appt_mode",
        "national_category",
        "time_between_book_and_appt",
        "appt_status",
    ],
    indexes: &[
        &["practice_code", "month"],
        &["pcn_code", "month"],
        &["sub_icb_code", "month"],
        &["supplier", "month"],
    ],
};

pub static ENDPOINT: Endpoint = Endpoint {
    path: "gp-appointments/",
    view_name: "Gp Appointment List",
    component: "GpAppointment",
    description: "Appointments in General Practice: appointments by month, practice, healthcare professional type, mode, national category, booking lead time and status. Labels are served as the current release spells them: older editions' spellings (single or double spaces, Unknown / Data Issue) are folded into them at import, so a month never holds one band twice.",
    table: &GP_APPOINTMENTS,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "month",
            kind: FilterKind::Month("month"),
            description: "Month of the appointments (2025-10).",
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
            name: "supplier",
            kind: FilterKind::Code("supplier"),
            description: "Clinical system supplier (EMIS, TPP).",
        },
    ],
    core: &["month", "practice", "pcn", "sub_icb"],
    ordering: &[
        ("month", Direction::Asc),
        ("practice_code", Direction::Asc),
        ("hcp_type", Direction::Asc),
        ("appt_mode", Direction::Asc),
        ("national_category", Direction::Asc),
        ("time_between_book_and_appt", Direction::Asc),
        ("appt_status", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The publication `datasets/` names as this dataset's source.
pub static PUBLICATION: Publication = Publication {
    name: "Appointments in General Practice",
    url: "https://digital.nhs.uk/data-and-information/publications/statistical/appointments-in-general-practice",
    cadence: Some(Cadence::Monthly),
};

pub static DATASET: Dataset = Dataset {
    name: "appointments",
    scope: SCOPE,
    tables: &[&GP_APPOINTMENTS],
    endpoints: &[&ENDPOINT],
    sources: &[&load::APPOINTMENTS],
    derivations: &[],
    publication: &PUBLICATION,
};
