//! Registered list sizes for every organisation level and every month, derived from the
//! registration extracts already imported (no source of its own). Serves `/list-sizes/`.

use crate::catalogue::registrations::{self, REG_POPULATIONS, REG_PRACTICE_MAP};
use crate::catalogue::{Dataset, Derivation, Derive, ods};
use crate::schema::{
    Direction, Endpoint, Filter, FilterKind, Kind, SERVED_COLUMNS, Shape, Table, col, opt,
};

pub static LIST_SIZES: Table = Table {
    name: "list_sizes",
    columns: &[
        col("month", Kind::Date, "Extract date (the 1st of the month)"),
        col(
            "org_type",
            Kind::Text,
            "practice, pcn, sub_icb, icb, region or national",
        ),
        col("org_code", Kind::Text, "Organisation code"),
        opt("org_name", Kind::Text, "Organisation name"),
        opt(
            "pcn_code",
            Kind::Text,
            "PCN of a practice, or the PCN itself",
        ),
        opt(
            "sub_icb_code",
            Kind::Text,
            "Sub-ICB location of the organisation, or the sub-ICB itself",
        ),
        opt(
            "icb_code",
            Kind::Text,
            "ICB of the organisation, or the ICB itself",
        ),
        opt(
            "region_code",
            Kind::Text,
            "Commissioning region of the organisation, or the region itself",
        ),
        opt("total", Kind::Integer, "All registered patients"),
        opt("male", Kind::Integer, "Male registered patients"),
        opt("female", Kind::Integer, "Female registered patients"),
    ],
    primary_key: &["month", "org_type", "org_code"],
    indexes: &[
        &["org_type", "month"],
        &["org_code", "month"],
        &["pcn_code", "month"],
        &["sub_icb_code", "month"],
        &["icb_code", "month"],
        &["region_code", "month"],
    ],
};

pub static LIST_SIZES_ENDPOINT: Endpoint = Endpoint {
    path: "list-sizes/",
    view_name: "List Size List",
    component: "ListSize",
    description: "Registered patients by month for every practice, PCN, sub-ICB location, ICB, commissioning region and England (the sum of the regions). Each row carries the codes of the levels above it and its own level's code, so a geography filter returns that organisation and everything in it.",
    table: &LIST_SIZES,
    fields: SERVED_COLUMNS,
    filters: &[
        Filter {
            name: "month",
            kind: FilterKind::Month("month"),
            description: "Extract month (2025-04 or any date in the month).",
        },
        Filter {
            name: "org_type",
            kind: FilterKind::LowerCode("org_type"),
            description: "practice, pcn, sub_icb, icb, region or national.",
        },
        Filter {
            name: "org",
            kind: FilterKind::Code("org_code"),
            description: "Organisation code.",
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
    core: &["month", "org", "pcn", "sub_icb", "icb", "region"],
    ordering: &[
        ("month", Direction::Asc),
        ("org_type", Direction::Asc),
        ("org_code", Direction::Asc),
    ],
    shape: Shape::Paginated,
    lookup: None,
};

/// The figures of each organisation and month: the age-band file preferred over practice
/// totals for the same extract. Every age-band row, then the totals rows of organisations and
/// months without one, rather than a window over every row, which sorted the whole table: the
/// derivation's select took 1.8-2.0 s with the window on SQLite here, 1.3-1.5 s without. The
/// two halves stand apart so that PostgreSQL plans the second as an anti-join; under an `OR`
/// it probed the key once per row, slower than the window.
macro_rules! sizes_cte {
    () => {
        "WITH sizes AS (
            SELECT extract_date, org_type, org_code, total, male, female FROM reg_populations
            WHERE source = 'quin_age'
            UNION ALL
            SELECT extract_date, org_type, org_code, total, male, female FROM reg_populations p
            WHERE source <> 'quin_age' AND NOT EXISTS (
                SELECT 1 FROM reg_populations q
                WHERE q.extract_date = p.extract_date AND q.org_type = p.org_type
                    AND q.org_code = p.org_code AND q.source = 'quin_age')
        )"
    };
}

/// `list_sizes`, rebuilt from `reg_populations` and `reg_practice_map`. Parents come from the
/// practice map of the row's month, else the latest map. A PCN that spans sub-ICB locations is
/// placed in the greatest code, so every row has one parent per level. England has no published
/// row: it is the sum of the regions, under the ONS country code.
///
/// Each row is joined to the practice map of its month's map date, as stored, and each level's
/// geography is grouped by map date from the map's distinct geographies (one row per PCN and
/// map: a `MAX` over them is the `MAX` over every practice). A copy of the map for every month,
/// grouped four times, and a month-by-month lookup of the map date, which PostgreSQL planned as
/// a scan of the whole map for each month, made the select for 24 national months take
/// 1.12-1.14 s on PostgreSQL and 1.48-1.50 s on SQLite; it takes 0.67-0.70 s and 1.22-1.25 s.
pub static DERIVE: Derivation = Derivation {
    reads: &[&REG_POPULATIONS, &REG_PRACTICE_MAP, &ods::ODS_PRACTICES],
    writes: &[&LIST_SIZES],
    how: Derive::Rows(concat!(
        sizes_cte!(),
        ",
        map_dates AS (
            SELECT months.month, COALESCE(maps.extract_date,
                (SELECT MAX(m.extract_date) FROM reg_practice_map m)) AS map_date
            FROM (SELECT DISTINCT extract_date AS month FROM reg_populations) months
            LEFT JOIN (SELECT DISTINCT extract_date FROM reg_practice_map) maps
                ON maps.extract_date = months.month
        ),
        geography AS (
            SELECT DISTINCT extract_date AS map_date, pcn_code, pcn_name, sub_icb_code,
                sub_icb_name, icb_code, icb_name, region_code, region_name
            FROM reg_practice_map
        ),
        pcn_geo AS (
            SELECT map_date, pcn_code, MAX(pcn_name) AS name,
                MAX(sub_icb_code) AS sub_icb_code, MAX(icb_code) AS icb_code,
                MAX(region_code) AS region_code
            FROM geography WHERE pcn_code IS NOT NULL GROUP BY map_date, pcn_code
        ),
        sub_icb_geo AS (
            SELECT map_date, sub_icb_code, MAX(sub_icb_name) AS name,
                MAX(icb_code) AS icb_code, MAX(region_code) AS region_code
            FROM geography GROUP BY map_date, sub_icb_code
        ),
        icb_geo AS (
            SELECT map_date, icb_code, MAX(icb_name) AS name, MAX(region_code) AS region_code
            FROM geography GROUP BY map_date, icb_code
        ),
        region_geo AS (
            SELECT map_date, region_code, MAX(region_name) AS name
            FROM geography GROUP BY map_date, region_code
        )
        SELECT s.extract_date, s.org_type, s.org_code,
            CASE s.org_type
                WHEN 'practice' THEN COALESCE(pm.practice_name, op.name)
                WHEN 'pcn' THEN pg.name
                WHEN 'sub_icb' THEN sg.name
                WHEN 'icb' THEN ig.name
                ELSE rg.name END,
            CASE s.org_type
                WHEN 'practice' THEN pm.pcn_code
                WHEN 'pcn' THEN s.org_code END,
            CASE s.org_type
                WHEN 'practice' THEN pm.sub_icb_code
                WHEN 'pcn' THEN pg.sub_icb_code
                WHEN 'sub_icb' THEN s.org_code END,
            CASE s.org_type
                WHEN 'practice' THEN pm.icb_code
                WHEN 'pcn' THEN pg.icb_code
                WHEN 'sub_icb' THEN sg.icb_code
                WHEN 'icb' THEN s.org_code END,
            CASE s.org_type
                WHEN 'practice' THEN pm.region_code
                WHEN 'pcn' THEN pg.region_code
                WHEN 'sub_icb' THEN sg.region_code
                WHEN 'icb' THEN ig.region_code
                ELSE s.org_code END,
            s.total, s.male, s.female
        FROM sizes s
        LEFT JOIN map_dates d ON d.month = s.extract_date
        LEFT JOIN reg_practice_map pm ON s.org_type = 'practice'
            AND pm.extract_date = d.map_date AND pm.practice_code = s.org_code
        LEFT JOIN ods_practices op ON s.org_type = 'practice' AND op.code = s.org_code
        LEFT JOIN pcn_geo pg ON s.org_type = 'pcn' AND pg.map_date = d.map_date
            AND pg.pcn_code = s.org_code
        LEFT JOIN sub_icb_geo sg ON s.org_type = 'sub_icb' AND sg.map_date = d.map_date
            AND sg.sub_icb_code = s.org_code
        LEFT JOIN icb_geo ig ON s.org_type = 'icb' AND ig.map_date = d.map_date
            AND ig.icb_code = s.org_code
        LEFT JOIN region_geo rg ON s.org_type = 'region' AND rg.map_date = d.map_date
            AND rg.region_code = s.org_code
        UNION ALL
        SELECT extract_date, 'national', 'E92000001', 'England', NULL, NULL, NULL, NULL,
            CAST(SUM(total) AS BIGINT), CAST(SUM(male) AS BIGINT), CAST(SUM(female) AS BIGINT)
        FROM sizes WHERE org_type = 'region' GROUP BY extract_date"
    )),
};

/// List sizes at every level, derived from the registration extracts: no publication of its own.
pub static DATASET: Dataset = Dataset {
    name: "list-sizes",
    scope: registrations::SCOPE,
    tables: &[&LIST_SIZES],
    endpoints: &[&LIST_SIZES_ENDPOINT],
    sources: &[],
    derivations: &[&DERIVE],
    publication: &registrations::PUBLICATION,
};
