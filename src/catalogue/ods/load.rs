//! Loading ODS files: each import replaces the whole snapshot (ODS files are complete extracts).

use sea_query::{Alias, Query, Value};

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

async fn clear(tx: &mut Tx, table: &str) -> Result<(), ImportError> {
    tx.delete(Query::delete().from_table(Alias::new(table)))
        .await?;
    Ok(())
}

async fn load_epraccur(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let practices = read_epraccur(file)?;
    clear(tx, ODS_PRACTICES.name).await?;
    const COLUMNS: &[&str] = &[
        "code",
        "name",
        "region_code",
        "icb_code",
        "address",
        "postcode",
        "open_date",
        "close_date",
        "status",
        "sub_icb_code",
        "phone",
        "import_id",
    ];
    let mut loader = tx.loader(&ODS_PRACTICES, COLUMNS);
    for practice in practices {
        let p = practice?;
        loader
            .push(vec![
                p.code.into(),
                p.name.into(),
                p.region_code.into(),
                p.icb_code.into(),
                p.address.into(),
                p.postcode.into(),
                p.open_date.into(),
                p.close_date.into(),
                p.status.as_str().into(),
                p.sub_icb_code.into(),
                p.phone.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: Default::default(),
    })
}

async fn load_epcn(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let epcn = read_epcn(file)?;
    clear(tx, ODS_PCNS.name).await?;
    clear(tx, ODS_PCN_MEMBERSHIPS.name).await?;
    let mut pcns = tx.loader(
        &ODS_PCNS,
        &[
            "code",
            "name",
            "sub_icb_code",
            "sub_icb_name",
            "open_date",
            "close_date",
            "import_id",
        ],
    );
    for pcn in epcn.pcns {
        let row: Vec<Value> = vec![
            pcn.code.into(),
            pcn.name.into(),
            pcn.sub_icb_code.into(),
            pcn.sub_icb_name.into(),
            pcn.open_date.into(),
            pcn.close_date.into(),
            ctx.import_id.into(),
        ];
        pcns.push(row).await?;
        ctx.progress.inc(1);
    }
    let mut rows = pcns.finish().await?;
    let mut members = tx.loader(
        &ODS_PCN_MEMBERSHIPS,
        &[
            "practice_code",
            "pcn_code",
            "start_date",
            "end_date",
            "import_id",
        ],
    );
    for m in epcn.memberships {
        members
            .push(vec![
                m.practice_code.into(),
                m.pcn_code.into(),
                m.start_date.into(),
                m.end_date.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    rows += members.finish().await?;
    Ok(Loaded {
        rows,
        periods: Default::default(),
    })
}
