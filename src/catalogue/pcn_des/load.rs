//! Loading Network Contract DES files. A file is gathered whole in memory (`parse`), then its
//! rows are written in the served order.
//!
//! Replacing: a file claims, for each achievement date and organisation type it holds, the
//! slice of its publication (monthly or iif_annual), with its ruleset as the part ("" for the
//! national extract and the IIF file). So a later import of a month replaces the month's
//! practice rows whole, whichever form held them; the members of one By_Ruleset zip add up to
//! the month; and within one import the same part met again (the same date in two files) is
//! loaded once, from the later file, with a note. The national extract and the By_Ruleset
//! members hold the same values cut two ways, so within one import they are alternatives too:
//! the form given later replaces the other's rows of the date, with a note.
//!
//! PCN and ICB are left to the geography derivation, which fills them from ODS after the import.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sea_query::{Alias, Expr, ExprTrait, Query};

use super::ACHIEVEMENT;
use super::parse::{Layout, OrganisationType, read, ruleset_of};
use crate::catalogue::{Claimed, LoadContext, LoadFuture, Loaded, Source};
use crate::db::{JsonObject, Tx};
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static PCN_DES: Source = Source {
    name: "pcn-des",
    description: "Network Contract DES (MI): the monthly NCDes<Month><YY>.csv extracts \
        (PRACTICE_CODE, PRACTICE_NAME, QUALITY_SERVICE, ACH_DATE, IND_CODE, MEASURE, VALUE), \
        bare or inside a zip; the NCDes<Month><YY>_By_Ruleset.zip zips, one CSV a ruleset, \
        whose ruleset is taken from the member name NCDes<Month><YY>_<RULESET_ID>.csv; and the \
        annual IIF file (IIF_indicators_annual_pub_2023_24.csv: ORGANISATION_TYPE PCN or GP \
        practice, ORGANISATION_CODE, ORGANISATION_NAME, QUALITY_SERVICE, ACH_DATE, IND_CODE, \
        MEASURE, VALUE). Files are told apart by header; ACH_DATE is DD/MM/YYYY, ISO or \
        YYYYMMDD; VALUE * is suppressed (null). A file's lines are gathered into one row per \
        date, organisation and indicator (the file need not be sorted; a file is held in \
        memory while it loads). Each file replaces the dates it holds, per organisation type; \
        the national extract and the By_Ruleset files of a month replace each other",
    writes: &[&ACHIEVEMENT],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct Record {
        date: NaiveDate,
        publication: &'static str,
        organisation_type: &'static str,
        organisation_code: String,
        practice_code: Option<String>,
        practice_name: Option<String>,
        pcn_code: Option<String>,
        pcn_name: Option<String>,
        quality_service: String,
        ruleset: Option<String>,
        ruleset_key: String,
        indicator: String,
        numerator: Option<i64>,
        denominator: Option<i64>,
        pca: Option<i64>,
        achievement: Option<f64>,
        measures: JsonObject,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    if file.is_xlsx() {
        // A publication's zip may carry its data dictionary, which holds no values.
        if file.in_zip() {
            return Ok(Loaded::default());
        }
        return Err(ImportError::unrecognised(
            &file.to_string(),
            "expected a Network Contract DES CSV (or a zip of them), found a workbook",
        ));
    }
    // Monthly extracts come by the dozen, each read whole: the next is read while this one is
    // written.
    let extract = ctx.read_ahead(file, 1, read)?;
    let layout = extract.layout;
    let ruleset = match layout {
        Layout::Monthly => ruleset_of(file.name()),
        Layout::Iif => None,
    };
    let ruleset_key = ruleset.clone().unwrap_or_default();
    let slices: BTreeSet<(NaiveDate, OrganisationType)> = extract
        .rows
        .iter()
        .map(|row| {
            (
                extract.dates[row.date as usize],
                extract.organisations[row.organisation as usize].kind,
            )
        })
        .collect();
    for &(date, kind) in &slices {
        let slice = [
            ("date", date.into()),
            ("publication", layout.publication().into()),
            ("organisation_type", kind.as_str().into()),
        ];
        let claimed = ctx.replace(tx, &ACHIEVEMENT, &slice, &ruleset_key).await?;
        if claimed != Claimed::New && layout == Layout::Monthly {
            let replaced = drop_other_form(tx, date, ruleset.is_some()).await?;
            if replaced > 0 {
                ctx.note(format!(
                    "pcn_des date {date}: {file} replaced the {} rows an earlier file of this \
                     import loaded ({replaced} rows)",
                    if ruleset.is_some() {
                        "national extract's"
                    } else {
                        "By_Ruleset files'"
                    }
                ));
            }
        }
    }

    let mut loader = ctx.loader::<Record>(tx, &ACHIEVEMENT)?;
    for row in &extract.rows {
        let organisation = &extract.organisations[row.organisation as usize];
        let summary = extract.summarise(row);
        let (practice_code, practice_name, pcn_code, pcn_name) = match organisation.kind {
            OrganisationType::Practice => (
                Some(organisation.code.clone()),
                organisation.name.clone(),
                None,
                None,
            ),
            OrganisationType::Pcn => (
                None,
                None,
                Some(organisation.code.clone()),
                organisation.name.clone(),
            ),
        };
        loader
            .push(Record {
                date: extract.dates[row.date as usize],
                publication: layout.publication(),
                organisation_type: organisation.kind.as_str(),
                organisation_code: organisation.code.clone(),
                practice_code,
                practice_name,
                pcn_code,
                pcn_name,
                quality_service: extract.quality_services[row.quality_service as usize].clone(),
                ruleset: ruleset.clone(),
                ruleset_key: ruleset_key.clone(),
                indicator: extract.indicators[row.indicator as usize].clone(),
                numerator: summary.numerator,
                denominator: summary.denominator,
                pca: summary.pca,
                achievement: summary.achievement,
                measures: summary.measures,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: slices.iter().map(|(date, _)| date.to_string()).collect(),
    })
}

/// Deletes the monthly practice rows of `date` loaded in the other form: the national
/// extract's when `by_ruleset`, else the By_Ruleset files'. Earlier imports' rows of the date
/// are already gone (the date's first file this import emptied it), so these are this import's.
async fn drop_other_form(
    tx: &mut Tx,
    date: NaiveDate,
    by_ruleset: bool,
) -> Result<u64, sqlx::Error> {
    let column = |name: &str| Expr::col(Alias::new(name));
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(ACHIEVEMENT.name))
        .and_where(column("date").eq(date))
        .and_where(column("publication").eq(Layout::Monthly.publication()))
        .and_where(column("organisation_type").eq(OrganisationType::Practice.as_str()))
        .and_where(if by_ruleset {
            column("ruleset_key").eq("")
        } else {
            column("ruleset_key").ne("")
        });
    tx.delete(&delete).await
}
