//! CSVs read by column name from a declared table of columns: each of a file's fields, the
//! header name it is read under and whether the file must have it. The table is the one place
//! to correct when a publisher renames a column, and the reader names the column in every
//! error.

use std::io::Read;

use super::error::ImportError;
use super::{CsvReader, Header, SourceFile, check_field_count, is_blank, line_of};

/// Whether a file must have a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

/// A field a table of columns names: a fieldless enum, numbered from 0.
pub trait FieldIndex: Copy + Eq {
    fn index(self) -> usize;
}

/// A file's columns: each field, its header name and whether the file must have it.
pub type Columns<F> = &'static [(F, &'static str, Need)];

/// The header name of `field` in `columns` ("" when the table does not name it).
pub fn name_in<F: FieldIndex>(columns: Columns<F>, field: F) -> &'static str {
    columns
        .iter()
        .find(|(f, _, _)| *f == field)
        .map_or("", |(_, name, _)| name)
}

/// A file's records, with each field's cell looked up by the column the table names for it.
pub struct NamedRecords {
    file: String,
    reader: CsvReader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    /// Where each field is in the header, by field index, if it is there.
    at: Vec<Option<usize>>,
    names: Vec<&'static str>,
    width: usize,
}

impl NamedRecords {
    /// Reads `file`'s records by `columns` once every required column is in `header` (all the
    /// missing ones are named at once).
    pub fn new<F: FieldIndex>(
        file: &SourceFile,
        header: &Header,
        reader: CsvReader<Box<dyn Read + Send>>,
        columns: Columns<F>,
    ) -> Result<Self, ImportError> {
        let missing: Vec<String> = columns
            .iter()
            .filter(|(_, name, need)| *need == Need::Required && header.find(&[name]).is_none())
            .map(|(_, name, _)| (*name).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns {
                file: file.to_string(),
                missing,
            });
        }
        let fields = columns
            .iter()
            .map(|(f, _, _)| f.index() + 1)
            .max()
            .unwrap_or(0);
        let mut at = vec![None; fields];
        let mut names = vec![""; fields];
        for (field, name, _) in columns {
            at[field.index()] = header.find(&[name]);
            names[field.index()] = *name;
        }
        Ok(NamedRecords {
            file: file.to_string(),
            reader,
            record: csv::StringRecord::new(),
            at,
            names,
            width: header.len(),
        })
    }

    /// Moves to the next record that is not blank, checking it has a field per header column;
    /// `None` at the end of the file.
    pub fn advance(&mut self) -> Option<Result<(), ImportError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Err(e) => return Some(Err(ImportError::from_csv(&self.file, e))),
                Ok(false) => return None,
                Ok(true) if is_blank(&self.record) => continue,
                Ok(true) => {
                    return Some(check_field_count(
                        &self.file,
                        &self.record,
                        self.width,
                        "as many fields as the header",
                    ));
                }
            }
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line the current record starts on.
    pub fn line(&self) -> u64 {
        line_of(&self.record)
    }

    /// The header name `field` is read under.
    pub fn name(&self, field: impl FieldIndex) -> &'static str {
        self.names.get(field.index()).copied().unwrap_or("")
    }

    /// The current record's cell of `field`; "" where the file has no such column.
    pub fn cell(&self, field: impl FieldIndex) -> &str {
        self.at
            .get(field.index())
            .copied()
            .flatten()
            .map_or("", |i| self.record.get(i).unwrap_or(""))
    }

    /// A `BadValue` naming the current record's line and `field`'s column and cell.
    pub fn bad(&self, field: impl FieldIndex, expected: &'static str) -> ImportError {
        ImportError::bad_value(
            &self.file,
            self.line(),
            self.name(field),
            self.cell(field),
            expected,
        )
    }
}
