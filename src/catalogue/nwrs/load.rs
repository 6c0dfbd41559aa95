//! Loading workforce files: each file replaces its own layout's rows for its snapshot, so the
//! detailed and the high-level file of one snapshot can be imported together or apart. Where
//! both have a row for the same practice, group and role, the high-level row is kept: it
//! overwrites a detailed row, and a detailed row never overwrites it. A high-level file
//! re-imported alone does not bring back detailed rows it once replaced for roles it no longer
//! lists; importing the whole zip again does.

use std::collections::BTreeSet;

use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use super::NWRS as NWRS_TABLE;
use super::parse::{Layout, PracticeStaff, detect, read_detailed, read_high_level, snapshot_of};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::Tx;
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static NWRS: Source = Source {
    name: "nwrs",
    description: "General Practice Workforce practice-level CSVs: GPWPracticeCSV.MMYYYY.zip, or the detailed and high-level CSVs inside it",
    writes: &[&NWRS_TABLE],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

const COLUMNS: [&str; 17] = [
    "snapshot",
    "practice_code",
    "practice_name",
    "pcn_code",
    "pcn_name",
    "sub_icb_code",
    "sub_icb_name",
    "icb_code",
    "icb_name",
    "region_code",
    "region_name",
    "staff_group",
    "staff_role",
    "headcount",
    "fte",
    "source",
    "import_id",
];

fn is_zip_member(file: &SourceFile) -> bool {
    file.path()
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    // The publication's zip also holds the definitions workbooks, which carry no data.
    if file.is_xlsx() && is_zip_member(file) {
        return Ok(Loaded::default());
    }
    let snapshot = snapshot_of(file)?;
    let layout = detect(file)?;
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(NWRS_TABLE.name))
        .and_where(Expr::col(Alias::new("snapshot")).eq(snapshot))
        .and_where(Expr::col(Alias::new("source")).eq(layout.as_str()));
    tx.delete(&delete).await?;
    let practices: Box<dyn Iterator<Item = Result<PracticeStaff, ImportError>> + Send> =
        match layout {
            Layout::Detailed => Box::new(read_detailed(file)?),
            Layout::HighLevel => Box::new(read_high_level(file)?.into_iter().map(Ok)),
        };
    let mut on_conflict =
        OnConflict::columns(NWRS_TABLE.primary_key.iter().map(|c| Alias::new(*c)));
    match layout {
        Layout::Detailed => on_conflict.do_nothing(),
        Layout::HighLevel => on_conflict.update_columns(
            COLUMNS
                .iter()
                .filter(|c| !NWRS_TABLE.primary_key.contains(c))
                .map(|c| Alias::new(*c)),
        ),
    };
    let mut loader = tx.loader(&NWRS_TABLE, &COLUMNS).on_conflict(on_conflict);
    let mut seen = BTreeSet::new();
    for practice in practices {
        let practice = practice?;
        let place = practice.geography;
        if !seen.insert(place.practice_code.clone()) {
            return Err(ImportError::unrecognised(
                &file.to_string(),
                format!(
                    "practice {} appears on more than one row",
                    place.practice_code
                ),
            ));
        }
        for staff in practice.staff {
            loader
                .push(vec![
                    snapshot.into(),
                    place.practice_code.clone().into(),
                    place.practice_name.clone().into(),
                    place.pcn_code.clone().into(),
                    place.pcn_name.clone().into(),
                    place.sub_icb_code.clone().into(),
                    place.sub_icb_name.clone().into(),
                    place.icb_code.clone().into(),
                    place.icb_name.clone().into(),
                    place.region_code.clone().into(),
                    place.region_name.clone().into(),
                    staff.staff_group.as_ref().into(),
                    staff.staff_role.as_ref().into(),
                    staff.headcount.into(),
                    staff.fte.into(),
                    layout.as_str().into(),
                    ctx.import_id.into(),
                ])
                .await?;
            ctx.progress.inc(1);
        }
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: BTreeSet::from([snapshot.to_string()]),
    })
}
