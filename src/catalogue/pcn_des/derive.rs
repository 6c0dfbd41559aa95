//! The PCN and ICB of every row, from the ODS practices and PCNs as they stand: filled after
//! each PCN DES import (the loader writes none) and corrected after each import that changes
//! ODS. Only rows whose geography differs are written. Plain SQL that both SQLite (3.39+, for
//! `UPDATE … FROM` and `IS DISTINCT FROM`) and PostgreSQL accept.

use super::ACHIEVEMENT;
use crate::catalogue::ods;
use crate::catalogue::{Derivation, Derive};

pub static GEOGRAPHY: Derivation = Derivation {
    reads: &[&ACHIEVEMENT, &ods::PRACTICES, &ods::PCNS],
    writes: &[&ACHIEVEMENT],
    how: Derive::Statements(&[
        "UPDATE pcn_des SET pcn_code = p.pcn_code, pcn_name = p.pcn_name, icb_code = p.icb_code
         FROM practices p
         WHERE pcn_des.organisation_type = 'practice' AND p.ods_code = pcn_des.practice_code
             AND (pcn_des.pcn_code IS DISTINCT FROM p.pcn_code
                 OR pcn_des.pcn_name IS DISTINCT FROM p.pcn_name
                 OR pcn_des.icb_code IS DISTINCT FROM p.icb_code)",
        "UPDATE pcn_des SET pcn_code = NULL, pcn_name = NULL, icb_code = NULL
         WHERE organisation_type = 'practice'
             AND (pcn_code IS NOT NULL OR pcn_name IS NOT NULL OR icb_code IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM practices p WHERE p.ods_code = pcn_des.practice_code)",
        // A PCN row keeps the PCN it was published for; only its ICB comes from ODS.
        "UPDATE pcn_des SET icb_code = c.icb_code
         FROM pcns c
         WHERE pcn_des.organisation_type = 'pcn' AND c.pcn_code = pcn_des.pcn_code
             AND pcn_des.icb_code IS DISTINCT FROM c.icb_code",
        "UPDATE pcn_des SET icb_code = NULL
         WHERE organisation_type = 'pcn' AND icb_code IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM pcns c WHERE c.pcn_code = pcn_des.pcn_code)",
    ]),
};
