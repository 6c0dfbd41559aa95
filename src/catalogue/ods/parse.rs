//! Readers for the ODS practice and PCN files: `epraccur` (legacy or DSE export), the legacy
//! `ePCN.xlsx` workbook and the DSE `epcncorepartnerdetails` CSV.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Range, Reader, Xlsx, XlsxError, open_workbook_from_rs};
use chrono::NaiveDate;

use crate::source::error::ImportError;
use crate::source::{self, Header, SourceFile, check_field_count, code, is_blank, line_of, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PracticeStatus {
    Active,
    Closed,
    Dormant,
    Proposed,
}

impl PracticeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            PracticeStatus::Active => "active",
            PracticeStatus::Closed => "closed",
            PracticeStatus::Dormant => "dormant",
            PracticeStatus::Proposed => "proposed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdsPractice {
    pub code: String,
    pub name: String,
    pub region_code: Option<String>,
    pub icb_code: Option<String>,
    /// Non-empty address lines 1–5, trimmed, joined with ", ".
    pub address: String,
    pub postcode: Option<String>,
    pub open_date: Option<NaiveDate>,
    pub close_date: Option<NaiveDate>,
    pub status: PracticeStatus,
    /// Column 15, the commissioner.
    pub sub_icb_code: Option<String>,
    pub phone: Option<String>,
}

/// epraccur columns, 0-based.
mod epraccur {
    pub const FIELDS: usize = 27;
    pub const CODE: usize = 0;
    pub const NAME: usize = 1;
    pub const REGION: usize = 2;
    pub const ICB: usize = 3;
    pub const ADDRESS: std::ops::Range<usize> = 4..9;
    pub const POSTCODE: usize = 9;
    pub const OPEN_DATE: usize = 10;
    pub const CLOSE_DATE: usize = 11;
    pub const STATUS: usize = 12;
    pub const COMMISSIONER: usize = 14;
    pub const PHONE: usize = 17;
    pub const SETTING: usize = 25;
}

/// Reads GP practices from an `epraccur` file, skipping every other kind of cost centre. Rows
/// are parsed as they are read, so the file is never held in memory.
pub fn read_epraccur(
    src: &SourceFile,
) -> Result<impl Iterator<Item = Result<OdsPractice, ImportError>> + Send + use<>, ImportError> {
    let file = src.to_string();
    let (first, reader) = src.csv_with_first_row()?;
    if looks_like_epraccur_header(&first) {
        return Err(ImportError::unrecognised(
            &file,
            "the first row is a header, but epraccur files have none",
        ));
    }
    let rows = std::iter::once(Ok(first)).chain(reader.into_records());
    Ok(rows.filter_map(move |row| match row {
        Ok(record) => practice_from_record(&file, &record).transpose(),
        Err(e) => Some(Err(ImportError::from_csv(&file, e))),
    }))
}

fn looks_like_epraccur_header(record: &csv::StringRecord) -> bool {
    let first = record.get(0).unwrap_or("").to_ascii_lowercase();
    let first_is_label =
        ["organisation code", "organization code", "org code", "code"].contains(&first.as_str());
    let dates_are_labels = [epraccur::OPEN_DATE, epraccur::CLOSE_DATE]
        .iter()
        .any(|&i| {
            record
                .get(i)
                .is_some_and(|v| v.to_ascii_lowercase().contains("date"))
        });
    first_is_label || dates_are_labels
}

fn practice_from_record(
    file: &str,
    record: &csv::StringRecord,
) -> Result<Option<OdsPractice>, ImportError> {
    use epraccur::*;
    let line = line_of(record);
    if is_blank(record) {
        return Ok(None);
    }
    check_field_count(file, record, FIELDS, "27 fields")?;
    if !is_gp_practice(&record[SETTING]) {
        return Ok(None);
    }
    let code = code(&record[CODE]).ok_or_else(|| {
        ImportError::bad_value(file, line, "Organisation Code (1)", "", "a practice code")
    })?;
    let open_date = source::date(file, line, "Open Date (11)", &record[OPEN_DATE])?;
    let close_date = source::date(file, line, "Close Date (12)", &record[CLOSE_DATE])?;
    let status = practice_status(&record[STATUS], close_date.is_some()).ok_or_else(|| {
        ImportError::bad_value(
            file,
            line,
            "Status Code (13)",
            &record[STATUS],
            "A, C, D, P, ACTIVE, INACTIVE or blank",
        )
    })?;
    let address = record
        .iter()
        .skip(ADDRESS.start)
        .take(ADDRESS.len())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Some(OdsPractice {
        code,
        name: record[NAME].to_owned(),
        region_code: source::code(&record[REGION]),
        icb_code: source::code(&record[ICB]),
        address,
        postcode: source::postcode(&record[POSTCODE]),
        open_date,
        close_date,
        status,
        sub_icb_code: source::code(&record[COMMISSIONER]),
        phone: text(&record[PHONE]),
    }))
}

/// Legacy files give the prescribing setting (`4` = GP practice); DSE exports may give ODS role
/// codes instead, several joined by `|` (`RO76` = GP practice).
fn is_gp_practice(setting: &str) -> bool {
    setting == "4"
        || setting
            .split('|')
            .any(|role| role.trim().eq_ignore_ascii_case("RO76"))
}

/// `None` for an unknown code. A blank status (seen in DSE exports) follows the close date.
fn practice_status(value: &str, has_close_date: bool) -> Option<PracticeStatus> {
    Some(match value.to_ascii_uppercase().as_str() {
        "A" | "ACTIVE" => PracticeStatus::Active,
        "C" | "CLOSED" | "INACTIVE" => PracticeStatus::Closed,
        "D" | "DORMANT" => PracticeStatus::Dormant,
        "P" | "PROPOSED" => PracticeStatus::Proposed,
        "" if has_close_date => PracticeStatus::Closed,
        "" => PracticeStatus::Active,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcnDetail {
    pub code: String,
    pub name: String,
    pub sub_icb_code: Option<String>,
    pub sub_icb_name: Option<String>,
    pub open_date: Option<NaiveDate>,
    pub close_date: Option<NaiveDate>,
}

/// One spell of a practice in a PCN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcnMembership {
    pub practice_code: String,
    pub practice_name: String,
    pub practice_sub_icb_code: Option<String>,
    pub practice_sub_icb_name: Option<String>,
    pub pcn_code: String,
    pub pcn_name: String,
    pub pcn_sub_icb_code: Option<String>,
    pub pcn_sub_icb_name: Option<String>,
    pub start_date: Option<NaiveDate>,
    /// `None` while the practice is still in the PCN.
    pub end_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpcnFile {
    /// Sorted by code.
    pub pcns: Vec<PcnDetail>,
    /// In file order.
    pub memberships: Vec<PcnMembership>,
}

/// Reads PCNs and memberships from the legacy `ePCN.xlsx` (both sheets) or the DSE
/// `epcncorepartnerdetails` CSV (memberships only; PCNs are derived from them, see `derive_pcns`).
pub fn read_epcn(src: &SourceFile) -> Result<EpcnFile, ImportError> {
    if src.is_xlsx() {
        read_epcn_xlsx(src)
    } else {
        let memberships = read_epcn_csv(src)?;
        Ok(EpcnFile {
            pcns: derive_pcns(&memberships),
            memberships,
        })
    }
}

const DSE_PARTNER_FIELDS: usize = 11;

fn read_epcn_csv(src: &SourceFile) -> Result<Vec<PcnMembership>, ImportError> {
    let file = src.to_string();
    let mut memberships = Vec::new();
    for (index, row) in src.csv_reader()?.into_records().enumerate() {
        let record = row.map_err(|e| ImportError::from_csv(&file, e))?;
        if is_blank(&record) {
            continue;
        }
        let line = line_of(&record);
        if index == 0
            && record
                .get(0)
                .is_some_and(|f| f.to_ascii_lowercase().contains("code"))
        {
            return Err(ImportError::unrecognised(
                &file,
                "the first row is a header, but epcncorepartnerdetails files have none",
            ));
        }
        check_field_count(&file, &record, DSE_PARTNER_FIELDS, "11 fields")?;
        let fields: [&str; 8] = std::array::from_fn(|i| &record[i]);
        let start = source::date(&file, line, partner_column(START), &record[START])?;
        let end = source::date(&file, line, partner_column(END), &record[END])?;
        memberships.push(membership(&file, line, fields, start, end)?);
    }
    if memberships.is_empty() {
        return Err(ImportError::Empty { file });
    }
    Ok(memberships)
}

/// The membership columns in the order both formats use, each with its accepted names (the DSE
/// spelling writes "Location" out in full).
const PARTNER_COLUMNS: [&[&str]; 10] = [
    &["Partner Organisation Code"],
    &["Partner Name"],
    &[
        "Practice Parent Sub ICB Loc Code",
        "Practice Parent Sub ICB Location Code",
    ],
    &[
        "Practice Parent Sub ICB Loc Name",
        "Practice Parent Sub ICB Location Name",
    ],
    &["PCN Code"],
    &["PCN Name"],
    &[
        "PCN Parent Sub ICB Loc Code",
        "PCN Parent Sub ICB Location Code",
    ],
    &[
        "PCN Parent Sub ICB Loc Name",
        "PCN Parent Sub ICB Location Name",
    ],
    &["Practice to PCN Relationship Start Date"],
    &["Practice to PCN Relationship End Date"],
];
const START: usize = 8;
const END: usize = 9;

fn partner_column(index: usize) -> &'static str {
    PARTNER_COLUMNS[index][0]
}

/// Builds a membership from its first eight fields as text and its already parsed dates.
fn membership(
    file: &str,
    line: u64,
    f: [&str; 8],
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
) -> Result<PcnMembership, ImportError> {
    let required = |i: usize, expected| {
        code(f[i])
            .ok_or_else(|| ImportError::bad_value(file, line, partner_column(i), f[i], expected))
    };
    Ok(PcnMembership {
        practice_code: required(0, "a practice code")?,
        practice_name: f[1].trim().to_owned(),
        practice_sub_icb_code: code(f[2]),
        practice_sub_icb_name: text(f[3]),
        pcn_code: required(4, "a PCN code")?,
        pcn_name: f[5].trim().to_owned(),
        pcn_sub_icb_code: code(f[6]),
        pcn_sub_icb_name: text(f[7]),
        start_date,
        end_date,
    })
}

/// One PCN per code seen in the memberships: name and sub-ICB from its latest spell (latest
/// start; an open spell beats a closed one starting the same day; then the later row), opened at
/// its earliest start, and closed only when every spell has ended, at the latest end.
fn derive_pcns(memberships: &[PcnMembership]) -> Vec<PcnDetail> {
    let mut by_code: BTreeMap<&str, Vec<&PcnMembership>> = BTreeMap::new();
    for m in memberships {
        by_code.entry(&m.pcn_code).or_default().push(m);
    }
    by_code
        .into_values()
        .map(|spells| {
            let latest = spells
                .iter()
                .max_by_key(|m| (m.start_date, m.end_date.is_none(), m.end_date))
                .expect("every group has a spell");
            let any_open = spells.iter().any(|m| m.end_date.is_none());
            PcnDetail {
                code: latest.pcn_code.clone(),
                name: latest.pcn_name.clone(),
                sub_icb_code: latest.pcn_sub_icb_code.clone(),
                sub_icb_name: latest.pcn_sub_icb_name.clone(),
                open_date: spells.iter().filter_map(|m| m.start_date).min(),
                close_date: if any_open {
                    None
                } else {
                    spells.iter().filter_map(|m| m.end_date).max()
                },
            }
        })
        .collect()
}

const DETAILS_SHEET: &str = "PCNDetails";
const PARTNERS_SHEET: &str = "PCN Core Partner Details";

fn read_epcn_xlsx(src: &SourceFile) -> Result<EpcnFile, ImportError> {
    let file = src.to_string();
    let mut book: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(src.bytes()?)).map_err(|e: XlsxError| {
            ImportError::Xlsx {
                file: file.clone(),
                message: e.to_string(),
            }
        })?;
    let details = sheet(&mut book, &file, DETAILS_SHEET)?;
    let partners = sheet(&mut book, &file, PARTNERS_SHEET)?;
    let mut pcns = pcn_details(&details)?;
    pcns.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(EpcnFile {
        pcns,
        memberships: partner_rows(&partners)?,
    })
}

/// A worksheet with the name its messages go by (`ePCN.xlsx [PCNDetails]`).
struct Sheet {
    label: String,
    range: Range<Data>,
}

impl Sheet {
    /// Data rows (after the header), with their 1-based row numbers in the sheet, skipping empty
    /// rows.
    fn rows(&self) -> impl Iterator<Item = (u64, &[Data])> {
        let first_row = self.range.start().map_or(0, |(row, _)| u64::from(row)) + 1;
        self.range
            .rows()
            .enumerate()
            .skip(1)
            .map(move |(i, row)| (first_row + i as u64, row))
            .filter(|(_, row)| row.iter().any(|c| !cell_text(c).is_empty()))
    }

    fn header(&self) -> Result<Header, ImportError> {
        let row = self.range.rows().next().ok_or_else(|| ImportError::Empty {
            file: self.label.clone(),
        })?;
        Ok(Header::new(self.label.clone(), row.iter().map(cell_text)))
    }
}

/// Finds a sheet ignoring case and spacing (`PCN Details` = `PCNDetails`).
fn sheet<RS: std::io::Read + std::io::Seek>(
    book: &mut Xlsx<RS>,
    file: &str,
    wanted: &str,
) -> Result<Sheet, ImportError> {
    let squash = |s: &str| s.split_whitespace().collect::<String>().to_lowercase();
    let names = book.sheet_names();
    let name = names
        .iter()
        .find(|n| squash(n) == squash(wanted))
        .ok_or_else(|| {
            ImportError::unrecognised(
                file,
                format!("no sheet named {wanted:?} (sheets: {})", names.join(", ")),
            )
        })?;
    let range = book.worksheet_range(name).map_err(|e| ImportError::Xlsx {
        file: file.to_owned(),
        message: format!("sheet {name:?}: {e}"),
    })?;
    Ok(Sheet {
        label: format!("{file} [{name}]"),
        range,
    })
}

fn pcn_details(sheet: &Sheet) -> Result<Vec<PcnDetail>, ImportError> {
    let [code_col, name, sub_icb_code, sub_icb_name, open, close] = sheet.header()?.require([
        &["PCN Code"],
        &["PCN Name"],
        &["Current Sub ICB Loc Code", "Current Sub ICB Location Code"],
        &["Sub ICB Location", "Sub ICB Location Name"],
        &["Open Date"],
        &["Close Date"],
    ])?;
    sheet
        .rows()
        .map(|(line, row)| {
            let cell = |i: usize| row.get(i).unwrap_or(&Data::Empty);
            Ok(PcnDetail {
                code: code(&cell_text(cell(code_col))).ok_or_else(|| {
                    ImportError::bad_value(&sheet.label, line, "PCN Code", "", "a PCN code")
                })?,
                name: cell_text(cell(name)),
                sub_icb_code: code(&cell_text(cell(sub_icb_code))),
                sub_icb_name: text(&cell_text(cell(sub_icb_name))),
                open_date: cell_date(&sheet.label, line, "Open Date", cell(open))?,
                close_date: cell_date(&sheet.label, line, "Close Date", cell(close))?,
            })
        })
        .collect()
}

fn partner_rows(sheet: &Sheet) -> Result<Vec<PcnMembership>, ImportError> {
    let columns = sheet.header()?.require(PARTNER_COLUMNS)?;
    sheet
        .rows()
        .map(|(line, row)| {
            let cell = |i: usize| row.get(columns[i]).unwrap_or(&Data::Empty);
            let texts: [String; 8] = std::array::from_fn(|i| cell_text(cell(i)));
            let start = cell_date(&sheet.label, line, partner_column(START), cell(START))?;
            let end = cell_date(&sheet.label, line, partner_column(END), cell(END))?;
            let fields = std::array::from_fn(|i| texts[i].as_str());
            membership(&sheet.label, line, fields, start, end)
        })
        .collect()
}

/// A cell as trimmed text; whole numbers lose the `.0` a float would print (codes and YYYYMMDD
/// dates are often stored as numbers).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
        Data::Empty => String::new(),
    }
}

/// A date cell: an Excel date, an ISO date-time, or any text or whole number
/// `parse_source_date` accepts (typically YYYYMMDD).
fn cell_date(
    file: &str,
    line: u64,
    column: &str,
    cell: &Data,
) -> Result<Option<NaiveDate>, ImportError> {
    match cell {
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
                .map(Some)
                .ok_or_else(|| {
                    ImportError::bad_value(file, line, column, &cell_text(cell), "a date")
                })
        }
        Data::DateTimeIso(s) => source::date(file, line, column, s.get(..10).unwrap_or(s)),
        other => source::date(file, line, column, &cell_text(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> SourceFile {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ods")
            .join(name);
        let mut sources = source::open_sources(&path).unwrap();
        assert_eq!(sources.len(), 1);
        sources.remove(0)
    }

    /// Writes `contents` to a temporary file called `name`; keep the guard alive while reading.
    fn temp_source(name: &str, contents: &[u8]) -> (tempfile::TempDir, SourceFile) {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let source = source::open_sources(&path).unwrap().remove(0);
        (dir, source)
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    fn practices(src: &SourceFile) -> Vec<OdsPractice> {
        read_epraccur(src)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    /// A 27-field legacy row with the given overrides (0-based column, value).
    fn epraccur_row(overrides: &[(usize, &str)]) -> String {
        let mut fields = vec![String::new(); 27];
        fields[0] = "A81001".into();
        fields[1] = "THE DENSHAM SURGERY".into();
        fields[10] = "19740401".into();
        fields[12] = "A".into();
        fields[25] = "4".into();
        for (i, v) in overrides {
            fields[*i] = (*v).to_owned();
        }
        let quoted: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
        quoted.join(",") + "\r\n"
    }

    #[test]
    fn legacy_epraccur_keeps_gp_practices_only() {
        let codes: Vec<String> = practices(&fixture("epraccur.csv"))
            .into_iter()
            .map(|p| p.code)
            .collect();
        assert_eq!(codes, ["A81001", "A81002", "W00005", "A81004", "Y05555"]);
    }

    #[test]
    fn legacy_epraccur_row_is_read_field_by_field() {
        let first = practices(&fixture("epraccur.csv")).remove(0);
        assert_eq!(
            first,
            OdsPractice {
                code: "A81001".into(),
                name: "THE DENSHAM SURGERY".into(),
                region_code: Some("Y63".into()),
                icb_code: Some("QHM".into()),
                address: "THE HEALTH CENTRE, LAWSON STREET, STOCKTON-ON-TEES, CLEVELAND".into(),
                postcode: Some("TS18 1HU".into()),
                open_date: date(1974, 4, 1),
                close_date: None,
                status: PracticeStatus::Active,
                sub_icb_code: Some("16C".into()),
                phone: Some("01642 672351".into()),
            }
        );
    }

    #[test]
    fn legacy_epraccur_statuses_and_quirks() {
        let all = practices(&fixture("epraccur.csv"));
        let by_code = |c: &str| all.iter().find(|p| p.code == c).unwrap();

        let closed = by_code("A81002");
        assert_eq!(closed.status, PracticeStatus::Closed);
        assert_eq!(closed.close_date, date(2020, 3, 31));

        let welsh = by_code("W00005");
        assert_eq!(welsh.region_code.as_deref(), Some("W00"));
        assert_eq!(welsh.status, PracticeStatus::Active);

        let dormant = by_code("A81004");
        assert_eq!(dormant.name, "DRS SMITH, JONES & PARTNERS");
        assert_eq!(dormant.status, PracticeStatus::Dormant);
        assert_eq!(dormant.address, "1 HIGH STREET, MIDDLESBROUGH");
        assert_eq!(dormant.postcode.as_deref(), Some("TS1 2AB"));
        assert_eq!(dormant.phone, None);

        assert_eq!(by_code("Y05555").status, PracticeStatus::Proposed);
    }

    #[test]
    fn dse_epraccur_with_bom_roles_and_word_statuses() {
        let all = practices(&fixture("epraccur_dse.csv"));
        let summary: Vec<(&str, PracticeStatus, Option<NaiveDate>)> = all
            .iter()
            .map(|p| (p.code.as_str(), p.status, p.close_date))
            .collect();
        assert_eq!(
            summary,
            [
                ("A81001", PracticeStatus::Active, None),
                ("A81002", PracticeStatus::Closed, date(2020, 3, 31)),
                ("B82005", PracticeStatus::Closed, date(2023, 9, 30)),
                ("B82006", PracticeStatus::Active, None),
            ]
        );
        assert_eq!(
            all[0].address,
            "THE HEALTH CENTRE, LAWSON STREET, STOCKTON-ON-TEES"
        );
        assert_eq!(all[3].sub_icb_code.as_deref(), Some("03Q"));
    }

    #[test]
    fn epraccur_with_a_header_row_is_unrecognised() {
        let header = epraccur_row(&[
            (0, "Organisation Code"),
            (1, "Name"),
            (10, "Open Date"),
            (12, "Status Code"),
        ]);
        let (_dir, src) = temp_source("epraccur.csv", header.as_bytes());
        match read_epraccur(&src).err().unwrap() {
            ImportError::Unrecognised { file, message } => {
                assert_eq!(file, "epraccur.csv");
                assert!(message.contains("header"), "{message}");
            }
            other => panic!("expected Unrecognised, got {other:?}"),
        }
    }

    #[test]
    fn epraccur_with_a_short_row_names_file_and_line() {
        let contents = epraccur_row(&[]) + "\"A81002\",\"SHORT ROW\",\"Y63\"\r\n";
        let (_dir, src) = temp_source("epraccur.csv", contents.as_bytes());
        let results: Vec<_> = read_epraccur(&src).unwrap().collect();
        assert!(results[0].is_ok());
        match results[1].as_ref().unwrap_err() {
            ImportError::BadValue {
                file, line, value, ..
            } => {
                assert_eq!(
                    (file.as_str(), *line, value.as_str()),
                    ("epraccur.csv", 2, "3")
                );
            }
            other => panic!("expected BadValue, got {other:?}"),
        }
    }

    #[test]
    fn epraccur_bad_date_and_status_are_bad_values() {
        let contents = epraccur_row(&[(10, "19741301")]) + &epraccur_row(&[(12, "X")]);
        let (_dir, src) = temp_source("epraccur.csv", contents.as_bytes());
        let errors: Vec<ImportError> = read_epraccur(&src)
            .unwrap()
            .map(|r| r.unwrap_err())
            .collect();
        assert!(
            matches!(&errors[0], ImportError::BadValue { line: 1, column, value, .. }
                if column == "Open Date (11)" && value == "19741301"),
            "{:?}",
            errors[0]
        );
        assert!(
            matches!(&errors[1], ImportError::BadValue { line: 2, column, value, .. }
                if column == "Status Code (13)" && value == "X"),
            "{:?}",
            errors[1]
        );
    }

    #[test]
    fn epraccur_bad_date_in_a_skipped_row_is_ignored() {
        let contents = epraccur_row(&[(25, "1"), (10, "garbage")]);
        let (_dir, src) = temp_source("epraccur.csv", contents.as_bytes());
        assert_eq!(read_epraccur(&src).unwrap().count(), 0);
    }

    #[test]
    fn empty_epraccur_is_empty() {
        let (_dir, src) = temp_source("epraccur.csv", b"");
        assert!(matches!(
            read_epraccur(&src).err().unwrap(),
            ImportError::Empty { .. }
        ));
    }

    #[test]
    fn status_codes_map_to_statuses() {
        assert_eq!(practice_status("a", false), Some(PracticeStatus::Active));
        assert_eq!(
            practice_status("INACTIVE", false),
            Some(PracticeStatus::Closed)
        );
        assert_eq!(practice_status("", true), Some(PracticeStatus::Closed));
        assert_eq!(practice_status("", false), Some(PracticeStatus::Active));
        assert_eq!(practice_status("Q", false), None);
        assert_eq!(PracticeStatus::Dormant.as_str(), "dormant");
        assert_eq!(PracticeStatus::Proposed.as_str(), "proposed");
        assert_eq!(PracticeStatus::Closed.as_str(), "closed");
        assert_eq!(PracticeStatus::Active.as_str(), "active");
    }

    #[test]
    fn gp_practice_is_setting_4_or_role_ro76() {
        assert!(is_gp_practice("4"));
        assert!(is_gp_practice("RO76"));
        assert!(is_gp_practice("RO177|RO76"));
        assert!(is_gp_practice("RO177 | ro76"));
        assert!(!is_gp_practice("RO177|RO760"));
        assert!(!is_gp_practice("14"));
        assert!(!is_gp_practice(""));
    }

    #[test]
    fn epcn_xlsx_reads_both_sheets() {
        let epcn = read_epcn(&fixture("ePCN.xlsx")).unwrap();
        assert_eq!(
            epcn.pcns,
            [
                PcnDetail {
                    code: "U12345".into(),
                    name: "ALPHA PCN".into(),
                    sub_icb_code: Some("16C".into()),
                    sub_icb_name: Some("NHS North East and North Cumbria ICB - 16C".into()),
                    open_date: date(2019, 7, 1),
                    close_date: None,
                },
                PcnDetail {
                    code: "U23456".into(),
                    name: "BETA, GAMMA PCN".into(),
                    sub_icb_code: Some("00K".into()),
                    sub_icb_name: Some("NHS North East and North Cumbria ICB - 00K".into()),
                    open_date: date(2019, 7, 1),
                    close_date: date(2023, 3, 31),
                },
                PcnDetail {
                    code: "U34567".into(),
                    name: "DELTA PCN".into(),
                    sub_icb_code: Some("00M".into()),
                    sub_icb_name: Some("NHS North East and North Cumbria ICB - 00M".into()),
                    open_date: date(2020, 4, 1),
                    close_date: date(2024, 3, 31),
                },
            ]
        );
    }

    #[test]
    fn epcn_xlsx_partner_sheet_with_line_broken_headers() {
        let epcn = read_epcn(&fixture("ePCN.xlsx")).unwrap();
        let spells: Vec<(&str, &str, Option<NaiveDate>, Option<NaiveDate>)> = epcn
            .memberships
            .iter()
            .map(|m| {
                (
                    m.practice_code.as_str(),
                    m.pcn_code.as_str(),
                    m.start_date,
                    m.end_date,
                )
            })
            .collect();
        assert_eq!(
            spells,
            [
                ("A81001", "U12345", date(2019, 7, 1), None),
                ("A81002", "U12345", date(2019, 7, 1), date(2020, 3, 31)),
                ("A81004", "U23456", date(2019, 7, 1), None),
            ]
        );
        let cross = &epcn.memberships[2];
        assert_eq!(cross.practice_name, "DRS SMITH, JONES & PARTNERS");
        assert_eq!(cross.practice_sub_icb_code.as_deref(), Some("00M"));
        assert_eq!(cross.pcn_sub_icb_code.as_deref(), Some("00K"));
        assert_eq!(
            cross.pcn_sub_icb_name.as_deref(),
            Some("NHS North East and North Cumbria ICB - 00K")
        );
        assert_eq!(cross.pcn_name, "BETA, GAMMA PCN");
    }

    #[test]
    fn epcn_xlsx_without_the_partner_sheet_says_so() {
        let err = read_epcn(&fixture("ePCN_no_partner_sheet.xlsx")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ePCN_no_partner_sheet.xlsx: unrecognised file: \
             no sheet named \"PCN Core Partner Details\" (sheets: PCNDetails)"
        );
    }

    /// Zips fixtures the way ODS published them (`epraccur.zip` with a PDF description, the
    /// workbook inside `epcn.zip`) and returns the table members.
    fn zipped(zip_name: &str, fixtures: &[&str]) -> (tempfile::TempDir, Vec<SourceFile>) {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(zip_name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("description.pdf", options).unwrap();
        zip.write_all(b"%PDF-1.4").unwrap();
        for name in fixtures {
            let bytes = std::fs::read(fixture(name).path()).unwrap();
            zip.start_file(*name, options).unwrap();
            zip.write_all(&bytes).unwrap();
        }
        zip.finish().unwrap();
        let sources = source::open_sources(&path).unwrap();
        (dir, sources)
    }

    #[test]
    fn zipped_files_read_like_bare_ones() {
        let (_dir, sources) = zipped("epraccur.zip", &["epraccur.csv"]);
        assert_eq!(sources.len(), 1);
        assert_eq!(practices(&sources[0]), practices(&fixture("epraccur.csv")));

        let (_dir, sources) = zipped("epcn.zip", &["ePCN.xlsx"]);
        assert_eq!(
            read_epcn(&sources[0]).unwrap(),
            read_epcn(&fixture("ePCN.xlsx")).unwrap()
        );
    }

    #[test]
    fn broken_xlsx_is_an_xlsx_error() {
        let (_dir, src) = temp_source("ePCN.xlsx", b"PK\x03\x04 not really");
        assert!(matches!(
            read_epcn(&src).unwrap_err(),
            ImportError::Xlsx { file, .. } if file == "ePCN.xlsx"
        ));
    }

    #[test]
    fn dse_partner_csv_keeps_every_spell() {
        let epcn = read_epcn(&fixture("epcncorepartnerdetails.csv")).unwrap();
        assert_eq!(epcn.memberships.len(), 5);
        let moved: Vec<(&str, Option<NaiveDate>, Option<NaiveDate>)> = epcn
            .memberships
            .iter()
            .filter(|m| m.practice_code == "A81001")
            .map(|m| (m.pcn_code.as_str(), m.start_date, m.end_date))
            .collect();
        assert_eq!(
            moved,
            [
                ("U11111", date(2019, 7, 1), date(2021, 3, 31)),
                ("U22222", date(2021, 4, 1), None),
            ]
        );
        assert_eq!(
            epcn.memberships[3].practice_name,
            "DRS SMITH, JONES & PARTNERS"
        );
    }

    #[test]
    fn dse_partner_csv_derives_pcns_from_spells() {
        let epcn = read_epcn(&fixture("epcncorepartnerdetails.csv")).unwrap();
        let n = |c: &str| Some(format!("NHS North East and North Cumbria ICB - {c}"));
        assert_eq!(
            epcn.pcns,
            [
                PcnDetail {
                    code: "U11111".into(),
                    name: "NEW NAME PCN".into(),
                    sub_icb_code: Some("00K".into()),
                    sub_icb_name: n("00K"),
                    open_date: date(2019, 7, 1),
                    close_date: None,
                },
                PcnDetail {
                    code: "U22222".into(),
                    name: "SOUTH PCN".into(),
                    sub_icb_code: Some("16C".into()),
                    sub_icb_name: n("16C"),
                    open_date: date(2021, 4, 1),
                    close_date: None,
                },
                PcnDetail {
                    code: "U33333".into(),
                    name: "CLOSED PCN".into(),
                    sub_icb_code: Some("00M".into()),
                    sub_icb_name: n("00M"),
                    open_date: date(2019, 7, 1),
                    close_date: date(2022, 6, 30),
                },
            ]
        );
    }

    #[test]
    fn dse_partner_csv_checks_field_count_and_dates() {
        let (_dir, src) = temp_source(
            "epcncorepartnerdetails.csv",
            b"A81001,X,16C,N,U1,P,16C,N,20190701,,Y\nA81002,X,16C,N,U1,P,16C,N,20190701\n",
        );
        assert!(matches!(
            read_epcn(&src).unwrap_err(),
            ImportError::BadValue { line: 2, value, .. } if value == "9"
        ));
        let (_dir, src) = temp_source(
            "epcncorepartnerdetails.csv",
            b"A81001,X,16C,N,U1,P,16C,N,2019-07-01,31/13/2020,Y\n",
        );
        assert!(matches!(
            read_epcn(&src).unwrap_err(),
            ImportError::BadValue { line: 1, column, .. }
                if column == "Practice to PCN Relationship End Date"
        ));
        let (_dir, src) = temp_source(
            "epcncorepartnerdetails.csv",
            b"Partner Organisation Code,Partner Name,Practice Parent Sub ICB Location Code\n",
        );
        assert!(matches!(
            read_epcn(&src).unwrap_err(),
            ImportError::Unrecognised { message, .. } if message.contains("header")
        ));
        let (_dir, src) = temp_source("epcncorepartnerdetails.csv", b"\xEF\xBB\xBF");
        assert!(matches!(
            read_epcn(&src).unwrap_err(),
            ImportError::Empty { .. }
        ));
    }

    #[test]
    fn latest_spell_prefers_open_spells_on_the_same_start() {
        let spell = |name: &str, end: Option<NaiveDate>| PcnMembership {
            practice_code: "A1".into(),
            practice_name: String::new(),
            practice_sub_icb_code: None,
            practice_sub_icb_name: None,
            pcn_code: "U1".into(),
            pcn_name: name.into(),
            pcn_sub_icb_code: None,
            pcn_sub_icb_name: None,
            start_date: date(2020, 1, 1),
            end_date: end,
        };
        let pcns = derive_pcns(&[spell("OPEN", None), spell("ENDED", date(2021, 1, 1))]);
        assert_eq!(pcns[0].name, "OPEN");
        assert_eq!(pcns[0].close_date, None);
    }

    #[test]
    fn cells_become_text_and_dates() {
        assert_eq!(cell_text(&Data::Float(20190701.0)), "20190701");
        assert_eq!(cell_text(&Data::Int(7)), "7");
        assert_eq!(cell_text(&Data::String(" U1 \n".into())), "U1");
        assert_eq!(
            cell_date("f", 1, "d", &Data::Float(20190701.0)).unwrap(),
            date(2019, 7, 1)
        );
        assert_eq!(
            cell_date(
                "f",
                1,
                "d",
                &Data::DateTimeIso("2020-04-01T00:00:00".into())
            )
            .unwrap(),
            date(2020, 4, 1)
        );
        assert!(cell_date("f", 1, "d", &Data::Float(43922.0)).is_err());
    }
}
