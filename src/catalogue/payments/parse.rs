//! Reading the NHS Payments to General Practice CSVs. A file is a practice file or a PCN file,
//! told by its header (a `Practice Code` column marks the practice file). Headers change from
//! year to year, so every header cell is normalised (`published_name`, then `match_key`) and
//! matched through one alias table, `COLUMNS`:
//! - 2015-16 and 2016-17 write CamelCase with `_£` (`PracticeCode`, `GlobalSum_£`);
//! - later years write spaced names, some with line breaks inside the cell (2024-25), trailing
//!   spaces (`Appraisal Costs `) or footnote digits (`Average number of registered patients1`);
//! - the patient columns were renamed: `Number of Registered Patients (Last Known Figure)`
//!   (2017-18, 2020-21, 2021-22), `Average Number of Registered Patients` (2018-19 on).
//!
//! Every column `COLUMNS` does not name is a payment column, kept in the row's `components` by
//! its published name; its values must be amounts (`money`). The PCN file's headers are
//! assumed, not seen: its aliases below are the one place to correct them.
//!
//! The year is not in the file: it comes from the file name (`nhspaymentsgp-24-25-prac-csv.csv`)
//! or from `--option year=2024-25`.

use std::collections::HashSet;
use std::io::Read;

use crate::db::{JsonObject, format_decimal};
use crate::source::error::ImportError;
use crate::source::financial_year::FinancialYear;
use crate::source::values::hundredths;
use crate::source::{CsvReader, SourceFile, code, is_blank, line_of, single_spaced, text};

/// What a file holds, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Practice,
    Pcn,
}

/// The columns read into a row's own fields; every other column is a payment component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PracticeCode,
    PracticeName,
    RegionCode,
    RegionName,
    IcbCode,
    IcbName,
    SubIcbCode,
    SubIcbName,
    PcnCode,
    PcnName,
    ContractType,
    Dispensing,
    Rurality,
    RegisteredPatients,
    WeightedPatients,
    TotalPayments,
    TotalMinusDeductions,
    PerRegisteredPatient,
    PerWeightedPatient,
    /// A descriptive column that is not a payment and is not served (postcode, address, dates).
    Described,
}

use Field::*;

const TEXT_FIELDS: usize = Rurality as usize + 1;
const AMOUNT_FIELDS: usize = PerWeightedPatient as usize - RegisteredPatients as usize + 1;

/// The one alias table: each field with the match keys (`match_key`) of every header it has
/// been published under. Region, sub-ICB and PCN aliases of 2024-25 and every PCN-file alias
/// beyond `PCN Code` are assumed, not seen.
const COLUMNS: &[(Field, &[&str])] = &[
    (PracticeCode, &["practice code"]),
    (PracticeName, &["practice name"]),
    (
        RegionCode,
        &[
            "nhs england region local office code",
            "nhs england region code",
            "nhs england commissioning region code",
            "commissioning region code",
            "region code",
        ],
    ),
    (
        RegionName,
        &[
            "nhs england region local office name",
            "nhs england region name",
            "nhs england commissioning region name",
            "commissioning region name",
            "region name",
        ],
    ),
    (IcbCode, &["icb code", "integrated care board code"]),
    (IcbName, &["icb name", "integrated care board name"]),
    (
        SubIcbCode,
        &[
            "ccg code",
            "sub icb location code",
            "sub icb code",
            "sub icb location ods code",
        ],
    ),
    (
        SubIcbName,
        &["ccg name", "sub icb location name", "sub icb name"],
    ),
    (PcnCode, &["pcn code", "primary care network code"]),
    (PcnName, &["pcn name", "primary care network name"]),
    (ContractType, &["contract type"]),
    (Dispensing, &["dispensing practice", "dispensing"]),
    (Rurality, &["practice rurality", "rurality"]),
    (
        RegisteredPatients,
        &[
            "average number of registered patients",
            "number of registered patients last known figure",
            "number of registered patients",
            "registered patients",
            "average registered patients",
        ],
    ),
    (
        WeightedPatients,
        &[
            "average number of weighted patients",
            "number of weighted patients last known figure",
            "number of weighted patients",
            "weighted patients",
            "average weighted patients",
        ],
    ),
    (
        TotalPayments,
        &[
            "total nhs payments to general practice",
            "total nhs payments to pcn",
            "total nhs payments to primary care network",
            "total payments to pcn",
            "total nhs payments",
            "total payments",
        ],
    ),
    (
        TotalMinusDeductions,
        &["total nhs payments to general practice minus deductions"],
    ),
    (
        PerRegisteredPatient,
        &[
            "average payments per registered patient",
            "average payment per registered patient",
        ],
    ),
    (
        PerWeightedPatient,
        &[
            "average payments per weighted patient",
            "average payment per weighted patient",
        ],
    ),
    (
        Described,
        &[
            "practice postcode",
            "postcode",
            "practice address",
            "address",
            "practice open date",
            "open date",
            "practice close date",
            "close date",
            "practice type",
            "atypical characteristics",
            "stp code",
            "stp name",
            "region ons code",
            "icb ons code",
            "sub icb location ons code",
            "ccg ons code",
        ],
    ),
];

impl Kind {
    /// The columns a file of this kind cannot do without.
    fn required(self) -> &'static [Field] {
        match self {
            Kind::Practice => &[
                PracticeCode,
                PracticeName,
                RegisteredPatients,
                WeightedPatients,
                TotalPayments,
            ],
            Kind::Pcn => &[PcnCode, RegisteredPatients, WeightedPatients, TotalPayments],
        }
    }

    /// The field holding the row's key code.
    fn key(self) -> Field {
        match self {
            Kind::Practice => PracticeCode,
            Kind::Pcn => PcnCode,
        }
    }
}

/// A header cell as served in `components`: runs of whitespace (line breaks inside the cell
/// included) become one space, `£` and underscores go, a CamelCase name without spaces is split
/// into words (`TotalQOFPayments_£` → `Total QOF Payments`), and footnote digits stuck to the
/// end of a word (`Other Payments1`, `(Last Known Figure)1`) are dropped.
pub fn published_name(raw: &str) -> String {
    let plain = raw.replace("(£)", " ").replace(['£', '_'], " ");
    let camel = !raw.trim().contains(char::is_whitespace);
    let mut words = String::with_capacity(plain.len() + 8);
    let chars: Vec<char> = plain.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if camel && c.is_uppercase() && i > 0 {
            let before = chars[i - 1];
            let after = chars.get(i + 1).copied();
            let ends_acronym = before.is_uppercase() && after.is_some_and(char::is_lowercase);
            if before.is_lowercase() || before.is_ascii_digit() || ends_acronym {
                words.push(' ');
            }
        }
        words.push(c);
    }
    let mut name = single_spaced(&words);
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 {
        let before = name[..name.len() - digits].chars().next_back();
        if before.is_some_and(|c| c.is_lowercase() || c == ')') {
            name.truncate(name.len() - digits);
        }
    }
    name
}

/// What `COLUMNS` compares: the published name lower-cased, with punctuation as spaces.
pub fn match_key(published: &str) -> String {
    let spaced: String = published
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    single_spaced(&spaced)
}

fn field_of(key: &str) -> Option<Field> {
    COLUMNS
        .iter()
        .find(|(_, aliases)| aliases.contains(&key))
        .map(|(field, _)| *field)
}

/// The financial year a file name states (`nhspaymentsgp-24-25-prac-csv.csv`,
/// `nhspaymentsgp-18-19-csv.csv`, `payments-2024-25.csv`): the first two-digit pair of
/// consecutive years joined by `-` or `_`.
pub fn year_in_name(name: &str) -> Option<FinancialYear> {
    let bytes = name.as_bytes();
    bytes.windows(5).enumerate().find_map(|(at, w)| {
        let digit = |i: usize| w[i].is_ascii_digit();
        let bounded = !bytes.get(at + 5).is_some_and(u8::is_ascii_digit);
        if digit(0) && digit(1) && matches!(w[2], b'-' | b'_') && digit(3) && digit(4) && bounded {
            FinancialYear::parse_published(&name[at..at + 5].replace('_', "-"))
        } else {
            None
        }
    })
}

/// The year of a file: `--option year=…` where given (it must agree with a year in the name),
/// else the year the file name states.
pub fn year_of(file: &SourceFile, given: Option<&str>) -> Result<FinancialYear, ImportError> {
    let named = year_in_name(&file.base_name_lower());
    let label = file.to_string();
    match given {
        Some(given) => {
            let year = FinancialYear::parse_given(given)
                .or_else(|| FinancialYear::parse_published(given))
                .ok_or_else(|| {
                    ImportError::unrecognised(
                        &label,
                        format!("--option year={given}: expected a financial year such as 2024-25"),
                    )
                })?;
            match named {
                Some(named) if named != year => Err(ImportError::unrecognised(
                    &label,
                    format!("the file name says {named}, but --option year says {year}"),
                )),
                _ => Ok(year),
            }
        }
        None => named.ok_or_else(|| {
            ImportError::unrecognised(
                &label,
                "the file name does not say its financial year (as in \
                 nhspaymentsgp-24-25-prac-csv.csv): give it with --option year=2024-25",
            )
        }),
    }
}

/// One row of either file kind. Fields the file does not have are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    /// Practice or PCN code (the row's key), trimmed and upper-cased.
    pub key: String,
    text: [Option<String>; TEXT_FIELDS],
    amounts: [Option<i64>; AMOUNT_FIELDS],
    pub components: JsonObject,
}

impl Row {
    /// A descriptive field: codes trimmed and upper-cased, names and labels trimmed.
    pub fn text(&self, field: Field) -> Option<String> {
        self.text.get(field as usize).cloned().flatten()
    }

    /// An amount field in hundredths (pounds or patients).
    pub fn amount(&self, field: Field) -> Option<i64> {
        (field as usize)
            .checked_sub(RegisteredPatients as usize)
            .and_then(|i| self.amounts.get(i).copied().flatten())
    }
}

/// Where each header cell goes.
enum Target {
    Field(Field),
    Component(String),
}

/// The rows of one file, read as they are iterated.
pub struct Rows {
    file: String,
    kind: Kind,
    reader: CsvReader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    targets: Vec<Target>,
    /// The published name of each column, for messages.
    names: Vec<String>,
}

/// Opens `file`, tells its kind from the header and checks that every column the kind needs
/// is there (all missing ones named at once, each by its current name as `match_key` writes it;
/// `COLUMNS` lists the other names each is accepted under).
pub fn read(file: &SourceFile) -> Result<(Kind, Rows), ImportError> {
    let label = file.to_string();
    let (header, reader) = file.csv_with_first_row()?;
    let names: Vec<String> = header.iter().map(published_name).collect();
    let mut targets = Vec::with_capacity(names.len());
    let mut components = HashSet::new();
    for name in &names {
        match field_of(&match_key(name)) {
            Some(field) => targets.push(Target::Field(field)),
            None if name.is_empty() => {
                return Err(ImportError::unrecognised(
                    &label,
                    "a column has no name in the header",
                ));
            }
            None => {
                if !components.insert(match_key(name)) {
                    return Err(ImportError::unrecognised(
                        &label,
                        format!("two payment columns are both named {name:?}"),
                    ));
                }
                targets.push(Target::Component(name.clone()));
            }
        }
    }
    let has = |wanted: Field| {
        targets
            .iter()
            .any(|t| matches!(t, Target::Field(f) if *f == wanted))
    };
    let kind = if has(PracticeCode) {
        Kind::Practice
    } else if has(PcnCode)
        && [RegisteredPatients, WeightedPatients, TotalPayments]
            .into_iter()
            .any(has)
    {
        // Other publications have a PCN code too; a payments file has patients or payments.
        Kind::Pcn
    } else {
        return Err(ImportError::unrecognised(
            &label,
            "expected an NHS Payments to General Practice file: a practice file (Practice \
             Code, Practice Name, …, Total NHS Payments to General Practice) or a PCN file \
             (PCN Code, …)",
        ));
    };
    let missing: Vec<String> = kind
        .required()
        .iter()
        .filter(|field| !has(**field))
        .map(|field| {
            COLUMNS
                .iter()
                .find(|(f, _)| f == field)
                .and_then(|(_, aliases)| aliases.first())
                .map_or_else(|| format!("{field:?}"), |name| (*name).to_owned())
        })
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns {
            file: label,
            missing,
        });
    }
    Ok((
        kind,
        Rows {
            file: label,
            kind,
            reader,
            record: csv::StringRecord::new(),
            targets,
            names,
        },
    ))
}

impl Iterator for Rows {
    type Item = Result<Row, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Err(e) => return Some(Err(ImportError::from_csv(&self.file, e))),
                Ok(false) => return None,
                Ok(true) if is_blank(&self.record) => continue,
                Ok(true) => return Some(self.parse()),
            }
        }
    }
}

impl Rows {
    fn parse(&self) -> Result<Row, ImportError> {
        let record = &self.record;
        let line = line_of(record);
        if record.len() > self.targets.len() {
            return Err(ImportError::bad_value(
                &self.file,
                line,
                "(number of fields)",
                &record.len().to_string(),
                "no more fields than the header has",
            ));
        }
        let mut text_fields: [Option<String>; TEXT_FIELDS] = Default::default();
        let mut amounts = [None; AMOUNT_FIELDS];
        let mut components = JsonObject::builder();
        for (at, target) in self.targets.iter().enumerate() {
            let value = record.get(at).unwrap_or_default();
            let amount = || hundredths(&self.file, line, &self.names[at], value);
            match target {
                Target::Field(Described) => {}
                Target::Field(
                    field @ (PracticeCode | RegionCode | IcbCode | SubIcbCode | PcnCode
                    | ContractType),
                ) => text_fields[*field as usize] = code(value),
                Target::Field(
                    field @ (PracticeName | RegionName | IcbName | SubIcbName | PcnName
                    | Dispensing | Rurality),
                ) => text_fields[*field as usize] = text(value),
                Target::Field(field) => {
                    amounts[*field as usize - RegisteredPatients as usize] = amount()?;
                }
                Target::Component(name) => {
                    let pounds = amount()?.map(|v| format_decimal(v, 2));
                    components.decimal(name, pounds.as_deref());
                }
            }
        }
        let key_field = self.kind.key();
        let key = text_fields[key_field as usize].clone().ok_or_else(|| {
            let at = self
                .targets
                .iter()
                .position(|t| matches!(t, Target::Field(f) if *f == key_field))
                .unwrap_or_default();
            ImportError::bad_value(&self.file, line, &self.names[at], "", "a code")
        })?;
        Ok(Row {
            line,
            key,
            text: text_fields,
            amounts,
            components: components.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_normalised_as_published() {
        for (raw, name) in [
            ("Global Sum", "Global Sum"),
            ("Appraisal Costs ", "Appraisal Costs"),
            ("Other Payments1", "Other Payments"),
            (
                "Average number of registered patients1",
                "Average number of registered patients",
            ),
            (
                "Number of Registered Patients (Last Known Figure)1",
                "Number of Registered Patients (Last Known Figure)",
            ),
            (
                "Total NHS Payments to\nGeneral Practice",
                "Total NHS Payments to General Practice",
            ),
            (
                "Average payments per\r\nregistered  patient",
                "Average payments per registered patient",
            ),
            ("GlobalSum_£", "Global Sum"),
            ("TotalQOFPayments_£", "Total QOF Payments"),
            ("NHSEnglandRegionCode", "NHS England Region Code"),
            ("CCGCode", "CCG Code"),
            ("PracticeCode", "Practice Code"),
            (
                "NumberOfRegisteredPatientsLastKnownFigure",
                "Number Of Registered Patients Last Known Figure",
            ),
            ("Global Sum (£)", "Global Sum"),
            ("COVID19", "COVID19"),
            ("Winter Access Fund 2122", "Winter Access Fund 2122"),
            ("PCN_CODE", "PCN CODE"),
        ] {
            assert_eq!(published_name(raw), name, "{raw:?}");
        }
    }

    #[test]
    fn every_published_spelling_matches_its_field() {
        let field = |raw: &str| field_of(&match_key(&published_name(raw)));
        for (raw, expected) in [
            ("NHS England (Region, local office) Code", RegionCode),
            ("NHSEnglandRegionCode", RegionCode),
            ("CCGCode", SubIcbCode),
            ("Sub-ICB Location Code", SubIcbCode),
            (
                "Number of Registered Patients (Last Known Figure)",
                RegisteredPatients,
            ),
            (
                "NumberOfRegisteredPatientsLastKnownFigure",
                RegisteredPatients,
            ),
            ("Average number of registered patients1", RegisteredPatients),
            ("Average Number of\nWeighted Patients", WeightedPatients),
            ("TotalNHSPaymentsToGeneralPractice_£", TotalPayments),
            (
                "Total NHS Payments to General Practice Minus Deductions",
                TotalMinusDeductions,
            ),
            ("DispensingPractice", Dispensing),
            ("Practice Postcode", Described),
        ] {
            assert_eq!(field(raw), Some(expected), "{raw:?}");
        }
        for component in [
            "Global Sum",
            "GlobalSum_£",
            "Total QOF Payments",
            "Deductions for Pensions, Levies and Prescription Charge Income",
            "Total NHS Payments to General Practice including COVID",
        ] {
            assert_eq!(field(component), None, "{component:?}");
        }
    }

    #[test]
    fn every_alias_is_a_match_key_and_names_one_field() {
        let mut seen = HashSet::new();
        for (_, aliases) in COLUMNS {
            for alias in *aliases {
                assert_eq!(match_key(alias), *alias);
                assert!(seen.insert(*alias), "{alias} is listed twice");
            }
        }
    }

    #[test]
    fn years_come_from_file_names() {
        let year = |name: &str| year_in_name(name).map(|y| y.to_string());
        assert_eq!(
            year("nhspaymentsgp-24-25-prac-csv.csv").as_deref(),
            Some("2024/25")
        );
        assert_eq!(
            year("nhspaymentsgp-21-22-prac-csv-v2.csv").as_deref(),
            Some("2021/22")
        );
        assert_eq!(
            year("nhspaymentsgp-18-19-csv.csv").as_deref(),
            Some("2018/19")
        );
        assert_eq!(
            year("nhspaymentsgp-24-25-pcn-csv.csv").as_deref(),
            Some("2024/25")
        );
        assert_eq!(year("payments_2015_16.csv").as_deref(), Some("2015/16"));
        assert_eq!(year("payments-2024-25.csv").as_deref(), Some("2024/25"));
        assert_eq!(year("payments.csv"), None);
        assert_eq!(year("payments-24-26.csv"), None);
        assert_eq!(year("payments-24-256.csv"), None);
    }
}
