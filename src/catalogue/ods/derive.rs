//! Served tables rebuilt from the ODS and registration source tables whenever one of them
//! changes. Plain SQL that both SQLite and PostgreSQL accept.

use super::{ODS_PCN_MEMBERSHIPS, ODS_PCNS, ODS_PRACTICES};
use crate::catalogue::registrations::{REG_POPULATIONS, REG_PRACTICE_MAP};
use crate::catalogue::{Derivation, Derive};

/// Shared common table expressions: the latest practice map, geography names from it, each
/// practice's current PCN spell and its latest list size.
macro_rules! organisation_ctes {
    () => {
        "WITH latest_map AS (
            SELECT * FROM reg_practice_map
            WHERE extract_date = (SELECT MAX(extract_date) FROM reg_practice_map)
        ),
        sub_icb_geo AS (
            SELECT sub_icb_code, MAX(sub_icb_name) AS sub_icb_name, MAX(icb_code) AS icb_code,
                   MAX(region_code) AS region_code
            FROM latest_map GROUP BY sub_icb_code
        ),
        icb_geo AS (
            SELECT icb_code, MAX(icb_name) AS icb_name, MAX(region_code) AS region_code
            FROM latest_map GROUP BY icb_code
        ),
        region_geo AS (
            SELECT region_code, MAX(region_name) AS region_name
            FROM latest_map GROUP BY region_code
        ),
        membership AS (
            SELECT practice_code, pcn_code FROM (
                SELECT practice_code, pcn_code, ROW_NUMBER() OVER (
                    PARTITION BY practice_code ORDER BY start_date DESC, pcn_code) AS rn
                FROM ods_pcn_memberships WHERE end_date IS NULL
            ) spells WHERE rn = 1
        ),
        list_size AS (
            SELECT org_code, total, extract_date FROM (
                SELECT org_code, total, extract_date, ROW_NUMBER() OVER (
                    PARTITION BY org_code
                    ORDER BY extract_date DESC, CASE source WHEN 'quin_age' THEN 0 ELSE 1 END) AS rn
                FROM reg_populations WHERE org_type = 'practice' AND total IS NOT NULL
            ) sizes WHERE rn = 1
        )"
    };
}

pub static PRACTICES: Derivation = Derivation {
    reads: &[&ODS_PRACTICES, &ODS_PCNS, &ODS_PCN_MEMBERSHIPS, &REG_PRACTICE_MAP, &REG_POPULATIONS],
    writes: &[&super::PRACTICES],
    how: Derive::Rows(concat!(
        organisation_ctes!(),
        ",
        -- ePCN is authoritative once imported; until then the registration map names the PCN.
        practice_pcn AS (
            SELECT p.code AS practice_code,
                CASE WHEN EXISTS (SELECT 1 FROM ods_pcn_memberships) THEN m.pcn_code
                     ELSE lm.pcn_code END AS pcn_code
            FROM ods_practices p
            LEFT JOIN membership m ON m.practice_code = p.code
            LEFT JOIN latest_map lm ON lm.practice_code = p.code
        ),
        map_pcn AS (
            SELECT pcn_code, MAX(pcn_name) AS pcn_name FROM latest_map GROUP BY pcn_code
        )
        SELECT p.code, p.name, p.address, p.postcode, p.status, p.open_date, p.close_date,
            pp.pcn_code, COALESCE(pc.name, mp.pcn_name),
            COALESCE(p.sub_icb_code, lm.sub_icb_code), sg.sub_icb_name,
            COALESCE(sg.icb_code, p.icb_code), ig.icb_name,
            COALESCE(sg.region_code, ig.region_code, p.region_code), rg.region_name,
            ls.total, ls.extract_date,
            LOWER(p.code || ' ' || p.name || ' ' || COALESCE(p.postcode, ''))
        FROM ods_practices p
        JOIN practice_pcn pp ON pp.practice_code = p.code
        LEFT JOIN latest_map lm ON lm.practice_code = p.code
        LEFT JOIN ods_pcns pc ON pc.code = pp.pcn_code
        LEFT JOIN map_pcn mp ON mp.pcn_code = pp.pcn_code
        LEFT JOIN sub_icb_geo sg ON sg.sub_icb_code = COALESCE(p.sub_icb_code, lm.sub_icb_code)
        LEFT JOIN icb_geo ig ON ig.icb_code = COALESCE(sg.icb_code, p.icb_code)
        LEFT JOIN region_geo rg ON rg.region_code = COALESCE(sg.region_code, ig.region_code, p.region_code)
        LEFT JOIN list_size ls ON ls.org_code = p.code"
    )),
};

pub static PCNS: Derivation = Derivation {
    reads: &[
        &ODS_PCNS,
        &ODS_PCN_MEMBERSHIPS,
        &REG_PRACTICE_MAP,
        &REG_POPULATIONS,
    ],
    writes: &[&super::PCNS],
    how: Derive::Rows(concat!(
        organisation_ctes!(),
        ",
        -- Aggregated once and joined: as correlated subqueries PostgreSQL re-ran the list-size
        -- window for every PCN.
        members AS (
            SELECT m.pcn_code, COUNT(*) AS practice_count,
                   CAST(SUM(ls.total) AS BIGINT) AS list_size
            FROM membership m LEFT JOIN list_size ls ON ls.org_code = m.practice_code
            GROUP BY m.pcn_code
        )
        SELECT c.code, c.name, c.sub_icb_code, sg.icb_code, ig.icb_name,
            COALESCE(sg.region_code, ig.region_code),
            c.open_date, c.close_date,
            COALESCE(mb.practice_count, 0), mb.list_size,
            LOWER(c.code || ' ' || c.name)
        FROM ods_pcns c
        LEFT JOIN sub_icb_geo sg ON sg.sub_icb_code = c.sub_icb_code
        LEFT JOIN icb_geo ig ON ig.icb_code = sg.icb_code
        LEFT JOIN members mb ON mb.pcn_code = c.code"
    )),
};
