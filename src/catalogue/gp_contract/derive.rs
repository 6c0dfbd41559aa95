//! The practices and indicators the GP Contract publication holds, rebuilt from its rows (and
//! the ODS practices for geography) whenever they change. Plain SQL that both SQLite (3.44+,
//! for `string_agg … ORDER BY`) and PostgreSQL accept.

use super::{CARERS, INDICATORS, PRACTICES, VALUES};
use crate::catalogue::ods;
use crate::catalogue::{Derivation, Derive};

pub static PRACTICES_DERIVATION: Derivation = Derivation {
    reads: &[&VALUES, &ods::PRACTICES],
    writes: &[&PRACTICES],
    how: Derive::Rows(
        "SELECT v.practice_code, COALESCE(p.name, v.practice_name), p.pcn_code, p.pcn_name,
         p.sub_icb_code, p.sub_icb_name, p.icb_code, p.icb_name, p.region_code, p.region_name,
         v.first_date, v.last_date,
         LOWER(v.practice_code || ' ' || COALESCE(p.name, v.practice_name, ''))
     FROM (
         SELECT practice_code, MIN(date) AS first_date, MAX(date) AS last_date,
             MAX(NULLIF(practice_name, '')) AS practice_name
         FROM gp_contract_values GROUP BY practice_code
     ) v
     LEFT JOIN practices p ON p.ods_code = v.practice_code",
    ),
};

pub static INDICATORS_DERIVATION: Derivation = Derivation {
    reads: &[&VALUES, &CARERS],
    writes: &[&INDICATORS],
    // Each measure once (a DISTINCT aggregate may take one argument only on SQLite), then one
    // row per indicator and quality service. Measures are compared upper-cased first, so that
    // case decides their order on neither backend.
    how: Derive::Rows(
        "SELECT indicator, NULL, quality_service, MAX(quality_service_key),
         string_agg(measure, '; ' ORDER BY UPPER(measure), measure), LOWER(indicator)
     FROM (
         SELECT indicator, quality_service, quality_service_key, measure
         FROM gp_contract_values
         GROUP BY indicator, quality_service, quality_service_key, measure
         UNION
         SELECT indicator, quality_service, quality_service_key, measure
         FROM gp_contract_carers
         GROUP BY indicator, quality_service, quality_service_key, measure
     ) published
     GROUP BY indicator, quality_service",
    ),
};
