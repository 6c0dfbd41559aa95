//! CSV records as every source reads them: quote-aware, fields trimmed of surrounding
//! whitespace, rows of any length (readers check lengths themselves, to report them with the
//! file and line), and no header handling (the readers look at the first row themselves, since
//! some files have no header).
//!
//! The csv crate's own trimming copies every record into a new allocation (a text record
//! twice). Here a record is copied only when one of its fields has whitespace at either end,
//! into a record kept for the next time: a CRLF file's rows, whose last field ends in `\r`,
//! cost one copy and no allocation, and most other rows nothing.

use std::io::Read;

use csv::{ByteRecord, StringRecord};

pub struct CsvReader<R> {
    inner: csv::Reader<R>,
    spare_bytes: ByteRecord,
    spare_text: StringRecord,
}

impl<R: Read> CsvReader<R> {
    pub fn new(reader: R) -> Self {
        let inner = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            // Records end at `\n` only: with the default CRLF terminator the csv crate reports
            // every record of a CRLF file one line too early. Trimming removes the `\r` left at
            // the end of the last field.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(reader);
        CsvReader {
            inner,
            spare_bytes: ByteRecord::new(),
            spare_text: StringRecord::new(),
        }
    }

    /// The next record with its fields trimmed of ASCII whitespace; `false` at the end.
    pub fn read_byte_record(&mut self, record: &mut ByteRecord) -> csv::Result<bool> {
        if !self.inner.read_byte_record(record)? {
            return Ok(false);
        }
        let padded = |field: &[u8]| {
            field.first().is_some_and(u8::is_ascii_whitespace)
                || field.last().is_some_and(u8::is_ascii_whitespace)
        };
        if record.iter().any(padded) {
            let spare = &mut self.spare_bytes;
            spare.clear();
            for field in record.iter() {
                spare.push_field(field.trim_ascii());
            }
            spare.set_position(record.position().cloned());
            std::mem::swap(record, spare);
        }
        Ok(true)
    }

    /// The next record, checked as UTF-8, with its fields trimmed of Unicode whitespace;
    /// `false` at the end.
    pub fn read_record(&mut self, record: &mut StringRecord) -> csv::Result<bool> {
        if !self.inner.read_record(record)? {
            return Ok(false);
        }
        let padded = |field: &str| {
            field.starts_with(char::is_whitespace) || field.ends_with(char::is_whitespace)
        };
        if record.iter().any(padded) {
            let spare = &mut self.spare_text;
            spare.clear();
            for field in record.iter() {
                spare.push_field(field.trim());
            }
            spare.set_position(record.position().cloned());
            std::mem::swap(record, spare);
        }
        Ok(true)
    }

    /// Every remaining record as `read_record` gives it, each a record of its own.
    pub fn records(&mut self) -> impl Iterator<Item = csv::Result<StringRecord>> + '_ {
        std::iter::from_fn(move || self.next_record())
    }

    /// `records`, owning the reader.
    pub fn into_records(mut self) -> impl Iterator<Item = csv::Result<StringRecord>> {
        std::iter::from_fn(move || self.next_record())
    }

    fn next_record(&mut self) -> Option<csv::Result<StringRecord>> {
        let mut record = StringRecord::new();
        match self.read_record(&mut record) {
            Ok(true) => Some(Ok(record)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A record `CsvReader` fills: text or bytes.
pub trait CsvRecord: Default + Send {
    fn read<R: Read>(reader: &mut CsvReader<R>, into: &mut Self) -> csv::Result<bool>;
    /// True for a row with no content, such as the `,,,,` lines some exports end with.
    fn is_blank(&self) -> bool;
    /// The 1-based line the record starts on.
    fn line(&self) -> u64;
}

impl CsvRecord for StringRecord {
    fn read<R: Read>(reader: &mut CsvReader<R>, into: &mut Self) -> csv::Result<bool> {
        reader.read_record(into)
    }

    fn is_blank(&self) -> bool {
        self.iter().all(str::is_empty)
    }

    fn line(&self) -> u64 {
        self.position().map_or(0, csv::Position::line)
    }
}

impl CsvRecord for ByteRecord {
    fn read<R: Read>(reader: &mut CsvReader<R>, into: &mut Self) -> csv::Result<bool> {
        reader.read_byte_record(into)
    }

    fn is_blank(&self) -> bool {
        self.iter().all(<[u8]>::is_empty)
    }

    fn line(&self) -> u64 {
        self.position().map_or(0, csv::Position::line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the csv crate's own trimming gives, to compare against.
    fn trimmed_by_csv(data: &[u8]) -> (Vec<StringRecord>, Vec<ByteRecord>) {
        let builder = || {
            let mut builder = csv::ReaderBuilder::new();
            builder
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .terminator(csv::Terminator::Any(b'\n'));
            builder
        };
        let text = builder()
            .from_reader(data)
            .into_records()
            .map_while(Result::ok)
            .collect();
        let bytes = builder()
            .from_reader(data)
            .into_byte_records()
            .map_while(Result::ok)
            .collect();
        (text, bytes)
    }

    fn read_both(data: &[u8]) -> (Vec<StringRecord>, Vec<ByteRecord>) {
        let text = CsvReader::new(data)
            .records()
            .map_while(Result::ok)
            .collect();
        let mut reader = CsvReader::new(data);
        let mut bytes = Vec::new();
        let mut record = ByteRecord::new();
        while let Ok(true) = reader.read_byte_record(&mut record) {
            bytes.push(record.clone());
        }
        (text, bytes)
    }

    fn lines(records: &[StringRecord]) -> Vec<u64> {
        records
            .iter()
            .map(|r| r.position().map_or(0, csv::Position::line))
            .collect()
    }

    #[test]
    fn fields_are_trimmed_and_lines_kept() {
        let data = "\"A\" ,\u{a0}B\u{a0}\r\n x,\"y \" \r\n\r\nplain,row\n\u{b} tab\t,\"\"\r\n";
        let (text, bytes) = read_both(data.as_bytes());
        let fields: Vec<Vec<&str>> = text.iter().map(|r| r.iter().collect()).collect();
        assert_eq!(
            fields,
            [
                vec!["A", "B"],
                vec!["x", "y"],
                vec![""],
                vec!["plain", "row"],
                vec!["tab", ""]
            ]
        );
        assert_eq!(lines(&text), [1, 2, 3, 4, 5]);
        // Bytes are trimmed of ASCII whitespace only: the no-break spaces and the vertical tab stay.
        assert_eq!(&bytes[0][1], "\u{a0}B\u{a0}".as_bytes());
        assert_eq!(&bytes[4][0], b"\x0b tab");
        assert_eq!(&bytes[1][1], b"y");
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_record() {
        let mut reader = CsvReader::new(&b"ok\n\xff\xfe\n"[..]);
        let mut record = StringRecord::new();
        assert!(reader.read_record(&mut record).unwrap());
        let error = reader.read_record(&mut record).unwrap_err();
        assert!(error.to_string().contains("invalid utf-8"), "{error}");
    }

    proptest! {
        #[test]
        fn records_are_what_the_csv_crate_trims_them_to(
            cells in proptest::collection::vec(
                proptest::collection::vec("[ \t\r\u{a0}\u{b}a,\"é]{0,6}", 1..5), 0..6),
        ) {
            let data: String = cells
                .iter()
                .map(|row| format!("{}\r\n", row.join(",")))
                .collect();
            let (text, bytes) = read_both(data.as_bytes());
            let (want_text, want_bytes) = trimmed_by_csv(data.as_bytes());
            prop_assert_eq!(&text, &want_text);
            prop_assert_eq!(lines(&text), lines(&want_text));
            prop_assert_eq!(bytes, want_bytes);
        }
    }
}
