//! Loading ODS files: each import replaces the whole snapshot (ODS files are complete extracts).

use chrono::NaiveDate;

use super::parse::{read_epcn, read_epraccur};
use super::{ODS_PCN_MEMBERSHIPS, ODS_PCNS, ODS_PRACTICES};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::Tx;
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static EPRACCUR: Source = Source {
    name: "epraccur",
    description: "ODS GP practices: epraccur.csv (legacy or DSE export), bare or zipped",
    writes: &[&ODS_PRACTICES],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load_epraccur(tx, file, ctx)) },
    sample: super::sample::epraccur_demo,
};

pub static EPCN: Source = Source {
    name: "epcn",
    description: "ODS PCNs and member practices: ePCN.xlsx or the DSE epcncorepartnerdetails.csv, bare or zipped",
    writes: &[&ODS_PCNS, &ODS_PCN_MEMBERSHIPS],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load_epcn(tx, file, ctx)) },
    sample: super::sample::epcn_demo,
};

crate::table_row! {
    struct PracticeRow {
        code: String,
        name: String,
        region_code: Option<String>,
        icb_code: Option<String>,
        address: String,
        postcode: Option<String>,
        open_date: Option<NaiveDate>,
        close_date: Option<NaiveDate>,
        status: &'static str,
        sub_icb_code: Option<String>,
        phone: Option<String>,
        import_id: i64,
    }
}

crate::table_row! {
    struct PcnRow {
        code: String,
        name: String,
        sub_icb_code: Option<String>,
        sub_icb_name: Option<String>,
        open_date: Option<NaiveDate>,
        close_date: Option<NaiveDate>,
        import_id: i64,
    }
}

crate::table_row! {
    struct MembershipRow {
        practice_code: String,
        pcn_code: String,
        start_date: Option<NaiveDate>,
        end_date: Option<NaiveDate>,
        import_id: i64,
    }
}

async fn load_epraccur(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let practices = read_epraccur(file)?;
    ctx.replace(tx, &ODS_PRACTICES, &[], "").await?;
    let mut loader = ctx.loader::<PracticeRow>(tx, &ODS_PRACTICES)?;
    for practice in practices {
        let p = practice?;
        loader
            .push(PracticeRow {
                code: p.code,
                name: p.name,
                region_code: p.region_code,
                icb_code: p.icb_code,
                address: p.address,
                postcode: p.postcode,
                open_date: p.open_date,
                close_date: p.close_date,
                status: p.status.as_str(),
                sub_icb_code: p.sub_icb_code,
                phone: p.phone,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        ..Loaded::default()
    })
}

async fn load_epcn(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let epcn = read_epcn(file)?;
    ctx.replace(tx, &ODS_PCNS, &[], "").await?;
    ctx.replace(tx, &ODS_PCN_MEMBERSHIPS, &[], "").await?;
    let mut pcns = ctx.loader::<PcnRow>(tx, &ODS_PCNS)?;
    for pcn in epcn.pcns {
        pcns.push(PcnRow {
            code: pcn.code,
            name: pcn.name,
            sub_icb_code: pcn.sub_icb_code,
            sub_icb_name: pcn.sub_icb_name,
            open_date: pcn.open_date,
            close_date: pcn.close_date,
            import_id: ctx.import_id,
        })
        .await?;
    }
    let mut rows = pcns.finish().await?;
    let mut members = ctx.loader::<MembershipRow>(tx, &ODS_PCN_MEMBERSHIPS)?;
    for m in epcn.memberships {
        members
            .push(MembershipRow {
                practice_code: m.practice_code,
                pcn_code: m.pcn_code,
                start_date: m.start_date,
                end_date: m.end_date,
                import_id: ctx.import_id,
            })
            .await?;
    }
    rows += members.finish().await?;
    Ok(Loaded {
        rows,
        ..Loaded::default()
    })
}
