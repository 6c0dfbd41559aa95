//! Reading publisher files: opening them (bare, or as members of a zip), the pieces every CSV
//! reader shares, and the value parsers every dataset uses. Below the datasets, above storage.
//!
//! # Text decoding
//! `SourceFile::reader` always yields UTF-8. A leading UTF-8 byte order mark is dropped. The
//! encoding is decided once per file by its first non-ASCII byte (everything before it is ASCII,
//! which reads the same either way, so nothing already read depends on the choice):
//! - if that byte starts a valid UTF-8 sequence, the file is UTF-8, and a later invalid sequence
//!   is a read error (`InvalidData`) rather than a guess;
//! - otherwise the whole file is ISO-8859-1, where every byte is one character (older NHS files
//!   write `£` as the single byte 0xA3).

pub mod csv_reader;
pub mod dates;
pub mod error;
pub mod financial_year;
pub mod named;
pub mod values;

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

pub use csv_reader::CsvReader;
use csv_reader::CsvRecord;
use dates::parse_source_date;
use error::ImportError;

const CHUNK: usize = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One readable table: a bare `.csv` / `.xlsx` file, or one such member of a `.zip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    path: PathBuf,
    /// The file name, or the member's name inside the zip.
    name: String,
    /// Index of the member inside the zip at `path`.
    member: Option<usize>,
}

/// Lists the tables in `path`: the file itself, or every `.csv` / `.xlsx` member of a zip (other
/// members, such as the PDF descriptions that come with ODS files, are skipped).
pub fn open_sources(path: &Path) -> Result<Vec<SourceFile>, ImportError> {
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".zip") {
        return zip_members(path, &file_name);
    }
    if !is_table_name(&lower) {
        return Err(ImportError::unrecognised(
            &file_name,
            "expected a .csv, .xlsx or .zip file",
        ));
    }
    std::fs::metadata(path).map_err(|source| ImportError::Io {
        file: file_name.clone(),
        source,
    })?;
    Ok(vec![SourceFile {
        path: path.to_owned(),
        name: file_name,
        member: None,
    }])
}

fn zip_members(path: &Path, file_name: &str) -> Result<Vec<SourceFile>, ImportError> {
    let archive = open_archive(path, file_name)?;
    let mut sources = Vec::new();
    for index in 0..archive.len() {
        let Some(Ok(name)) = archive.name_for_index(index) else {
            continue;
        };
        if is_table_name(&name.to_ascii_lowercase()) && !is_mac_metadata(&name) {
            sources.push(SourceFile {
                path: path.to_owned(),
                name: name.into_owned(),
                member: Some(index),
            });
        }
    }
    if sources.is_empty() {
        return Err(ImportError::unrecognised(
            file_name,
            "the zip holds no .csv or .xlsx file",
        ));
    }
    Ok(sources)
}

fn is_table_name(lower: &str) -> bool {
    lower.ends_with(".csv") || lower.ends_with(".xlsx")
}

/// Zips made on macOS carry `__MACOSX/._name.csv` resource forks that are not tables.
fn is_mac_metadata(name: &str) -> bool {
    name.starts_with("__MACOSX/") || base_name(name).starts_with("._")
}

fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn open_archive(path: &Path, label: &str) -> Result<ZipArchive<BufReader<File>>, ImportError> {
    let file = File::open(path).map_err(|source| ImportError::Io {
        file: label.to_owned(),
        source,
    })?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| ImportError::Zip {
        file: label.to_owned(),
        message: e.to_string(),
    })
}

/// Shown in error messages: `member.csv (in archive.zip)` for zip members.
impl fmt::Display for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.member {
            None => f.write_str(&self.name),
            Some(_) => write!(f, "{} (in {})", self.name, self.zip_name()),
        }
    }
}

impl SourceFile {
    /// The file name, or the member's name as stored in the zip (which may include folders).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last path component of `name()`, lower-cased, for recognising files by name.
    pub fn base_name_lower(&self) -> String {
        base_name(&self.name).to_ascii_lowercase()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is a member of a zip (its path is the zip's).
    pub fn in_zip(&self) -> bool {
        self.path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    }

    pub fn is_xlsx(&self) -> bool {
        self.name.to_ascii_lowercase().ends_with(".xlsx")
    }

    /// Streams the file as UTF-8 text (see the module docs for how bytes are decoded). Zip members
    /// are decompressed on a helper thread, so memory stays flat whatever the member's size.
    pub fn reader(&self) -> Result<Box<dyn Read + Send>, ImportError> {
        match self.member {
            None => {
                let file = File::open(&self.path).map_err(|e| self.io_error(e))?;
                Ok(Box::new(TextDecoder::new(file)))
            }
            Some(index) => {
                let archive = open_archive(&self.path, &self.to_string())?;
                let member =
                    ZipMemberReader::spawn(archive, index).map_err(|e| self.io_error(e))?;
                Ok(Box::new(TextDecoder::new(member)))
            }
        }
    }

    /// The raw bytes, undecoded (calamine needs a whole xlsx in memory).
    pub fn bytes(&self) -> Result<Vec<u8>, ImportError> {
        match self.member {
            None => std::fs::read(&self.path).map_err(|e| self.io_error(e)),
            Some(index) => {
                let mut archive = open_archive(&self.path, &self.to_string())?;
                let mut member = archive.by_index(index).map_err(|e| ImportError::Zip {
                    file: self.to_string(),
                    message: e.to_string(),
                })?;
                let mut bytes = Vec::new();
                member
                    .read_to_end(&mut bytes)
                    .map_err(|e| self.io_error(e))?;
                Ok(bytes)
            }
        }
    }

    /// A CSV reader over `reader()`, reading records as every source needs (see `CsvReader`).
    pub fn csv_reader(&self) -> Result<CsvReader<Box<dyn Read + Send>>, ImportError> {
        if self.is_xlsx() {
            return Err(ImportError::unrecognised(
                &self.to_string(),
                "expected a CSV file, found an xlsx workbook",
            ));
        }
        Ok(CsvReader::new(self.reader()?))
    }

    /// A CSV reader positioned after the first row, with that row as published; `Empty` for a
    /// file without rows.
    pub fn csv_with_first_row(
        &self,
    ) -> Result<(csv::StringRecord, CsvReader<Box<dyn Read + Send>>), ImportError> {
        let file = self.to_string();
        let mut reader = self.csv_reader()?;
        let mut first = csv::StringRecord::new();
        if !reader
            .read_record(&mut first)
            .map_err(|e| ImportError::from_csv(&file, e))?
        {
            return Err(ImportError::Empty { file });
        }
        Ok((first, reader))
    }

    /// A CSV reader positioned after the header row, with that row as a `Header`.
    pub fn csv_with_header(
        &self,
    ) -> Result<(Header, CsvReader<Box<dyn Read + Send>>), ImportError> {
        let (first, reader) = self.csv_with_first_row()?;
        Ok((Header::new(self.to_string(), first.iter()), reader))
    }

    /// Like `csv_with_header`, for files of millions of rows: records are read as
    /// `csv::ByteRecord`s (see `for_each_byte_record`), so no row is checked as UTF-8 or
    /// allocated; the header is still decoded for lookups by name.
    pub fn byte_csv_with_header(
        &self,
    ) -> Result<(Header, CsvReader<Box<dyn Read + Send>>), ImportError> {
        let file = self.to_string();
        let mut reader = self.csv_reader()?;
        let mut first = csv::ByteRecord::new();
        if !reader
            .read_byte_record(&mut first)
            .map_err(|e| ImportError::from_csv(&file, e))?
        {
            return Err(ImportError::Empty { file });
        }
        let names: Vec<String> = first
            .iter()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect();
        Ok((Header::new(file, names), reader))
    }

    fn zip_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn io_error(&self, source: io::Error) -> ImportError {
        ImportError::Io {
            file: self.to_string(),
            source,
        }
    }
}

/// Hex SHA-256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, ImportError> {
    let io_error = |source| ImportError::Io {
        file: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Streams one zip member from a helper thread that owns the archive, so the reader can be
/// returned without borrowing it. Chunks go through a small bounded channel: memory stays at a
/// few chunks, and dropping the reader makes the thread's next send fail, which ends it.
struct ZipMemberReader {
    chunks: Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
    finished: bool,
}

enum Chunk {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

impl ZipMemberReader {
    fn spawn(archive: ZipArchive<BufReader<File>>, index: usize) -> io::Result<Self> {
        let (sender, chunks) = sync_channel(4);
        thread::Builder::new()
            .name("zip-member".into())
            .spawn(move || pump_member(archive, index, &sender))?;
        Ok(ZipMemberReader {
            chunks,
            current: Vec::new(),
            pos: 0,
            finished: false,
        })
    }
}

fn pump_member(mut archive: ZipArchive<BufReader<File>>, index: usize, sender: &SyncSender<Chunk>) {
    let outcome = (|| -> io::Result<bool> {
        let mut member = archive.by_index(index).map_err(io::Error::other)?;
        loop {
            let mut buf = vec![0; CHUNK];
            let n = match member.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            buf.truncate(n);
            if sender.send(Chunk::Data(buf)).is_err() {
                return Ok(false);
            }
        }
    })();
    let last = match outcome {
        Ok(true) => Chunk::End,
        Ok(false) => return,
        Err(e) => Chunk::Failed(e),
    };
    // A failed send means the reader was dropped: nobody is left to tell.
    let _ = sender.send(last);
}

impl Read for ZipMemberReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.finished {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Chunk::Data(data)) => {
                    self.current = data;
                    self.pos = 0;
                }
                Ok(Chunk::End) => self.finished = true,
                Ok(Chunk::Failed(e)) => {
                    self.finished = true;
                    return Err(e);
                }
                Err(_) => {
                    self.finished = true;
                    return Err(io::Error::other("zip member reader stopped unexpectedly"));
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Only ASCII seen so far.
    Undecided,
    Utf8,
    Latin1,
}

/// Applies the rules in the module docs to a byte stream.
struct TextDecoder<R> {
    inner: R,
    encoding: Encoding,
    /// Raw bytes read but not decoded yet: between fills, at most an incomplete UTF-8 sequence.
    input: Vec<u8>,
    output: Vec<u8>,
    out_pos: usize,
    /// Raw bytes decoded so far, to give the offset of an invalid sequence.
    consumed: u64,
    bom_checked: bool,
    eof: bool,
    /// An error found after some valid output, returned once that output has been read.
    failed: Option<io::Error>,
}

impl<R: Read> TextDecoder<R> {
    fn new(inner: R) -> Self {
        TextDecoder {
            inner,
            encoding: Encoding::Undecided,
            input: Vec::new(),
            output: Vec::new(),
            out_pos: 0,
            consumed: 0,
            bom_checked: false,
            eof: false,
            failed: None,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        self.output.clear();
        self.out_pos = 0;
        if !self.eof {
            let start = self.input.len();
            self.input.resize(start + CHUNK, 0);
            let read = loop {
                match self.inner.read(&mut self.input[start..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    self.input.truncate(start);
                    return Err(e);
                }
            };
            self.input.truncate(start + n);
            self.eof = n == 0;
        }
        if !self.bom_checked {
            if self.input.len() < UTF8_BOM.len() && !self.eof {
                return Ok(());
            }
            if self.input.starts_with(UTF8_BOM) {
                self.input.drain(..UTF8_BOM.len());
                self.consumed += UTF8_BOM.len() as u64;
            }
            self.bom_checked = true;
        }
        self.decode();
        Ok(())
    }

    fn decode(&mut self) {
        if self.input.is_ascii() {
            // ASCII stands for itself in either encoding: handed over without a copy.
            self.consumed += self.input.len() as u64;
            std::mem::swap(&mut self.input, &mut self.output);
            return;
        }
        let mut done = 0;
        if self.encoding == Encoding::Undecided {
            let ascii = self
                .input
                .iter()
                .position(|b| !b.is_ascii())
                .unwrap_or(self.input.len());
            self.output.extend_from_slice(&self.input[..ascii]);
            done = ascii;
            if ascii < self.input.len() {
                self.encoding = match std::str::from_utf8(&self.input[ascii..]) {
                    Ok(_) => Encoding::Utf8,
                    Err(e) if e.valid_up_to() > 0 => Encoding::Utf8,
                    Err(e) if e.error_len().is_none() && !self.eof => Encoding::Undecided,
                    Err(_) => Encoding::Latin1,
                };
            }
        }
        let rest = &self.input[done..];
        match self.encoding {
            Encoding::Undecided => {}
            Encoding::Utf8 => match std::str::from_utf8(rest) {
                Ok(_) => {
                    self.output.extend_from_slice(rest);
                    done = self.input.len();
                }
                Err(e) => {
                    self.output.extend_from_slice(&rest[..e.valid_up_to()]);
                    done += e.valid_up_to();
                    if e.error_len().is_some() || self.eof {
                        self.failed = Some(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "invalid UTF-8 at byte {} in a file that started as UTF-8",
                                self.consumed + done as u64
                            ),
                        ));
                    }
                }
            },
            Encoding::Latin1 => {
                for &b in rest {
                    if b.is_ascii() {
                        self.output.push(b);
                    } else {
                        self.output
                            .extend_from_slice(&[0xC0 | (b >> 6), 0x80 | (b & 0x3F)]);
                    }
                }
                done = self.input.len();
            }
        }
        self.input.drain(..done);
        self.consumed += done as u64;
    }
}

impl<R: Read> Read for TextDecoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.output.len() {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.eof && self.input.is_empty() {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = out.len().min(self.output.len() - self.out_pos);
        out[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Calls `each` with every non-blank record of `reader` and its line number; read failures
/// name `file`. The CSV is parsed on a thread of its own, a batch of records ahead, so that
/// parsing overlaps what `each` does with them; the batches' records are reused, so no row is
/// allocated.
pub fn for_each_record<R: Read + Send>(
    reader: &mut CsvReader<R>,
    file: &str,
    each: impl FnMut(&csv::StringRecord, u64) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    parse_ahead(reader, file, each)
}

/// `for_each_record` over byte records, for files of millions of rows: fields as trimmed
/// bytes, never checked as UTF-8.
pub fn for_each_byte_record<R: Read + Send>(
    reader: &mut CsvReader<R>,
    file: &str,
    each: impl FnMut(&csv::ByteRecord, u64) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    parse_ahead(reader, file, each)
}

/// Records per batch handed from the thread that parses the CSV to the one that uses them.
const RECORD_BATCH: usize = 1024;

fn parse_ahead<R: Read + Send, T: CsvRecord>(
    reader: &mut CsvReader<R>,
    file: &str,
    mut each: impl FnMut(&T, u64) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let (parsed, to_use) = std::sync::mpsc::sync_channel::<Result<(Vec<T>, usize), ImportError>>(2);
    let (used, to_refill) = std::sync::mpsc::channel::<Vec<T>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            loop {
                let mut batch = to_refill.try_recv().unwrap_or_default();
                let mut filled = 0;
                let mut ended = false;
                while filled < RECORD_BATCH {
                    if filled == batch.len() {
                        batch.push(T::default());
                    }
                    match T::read(reader, &mut batch[filled]) {
                        Ok(true) if batch[filled].is_blank() => {}
                        Ok(true) => filled += 1,
                        Ok(false) => {
                            ended = true;
                            break;
                        }
                        Err(e) => {
                            let _ = parsed.send(Err(ImportError::from_csv(file, e)));
                            return;
                        }
                    }
                }
                // A send fails once the user has stopped, on an error of its own.
                if (filled > 0 && parsed.send(Ok((batch, filled))).is_err()) || ended {
                    return;
                }
            }
        });
        for batch in to_use {
            let (batch, filled) = batch?;
            for record in &batch[..filled] {
                each(record, record.line())?;
            }
            let _ = used.send(batch);
        }
        Ok(())
    })
}

/// The 1-based line a record starts on, for messages.
pub fn line_of(record: &csv::StringRecord) -> u64 {
    CsvRecord::line(record)
}

/// A `BadValue` unless `record` has exactly `expected` fields.
pub fn check_field_count(
    file: &str,
    record: &csv::StringRecord,
    expected: usize,
    description: &'static str,
) -> Result<(), ImportError> {
    if record.len() == expected {
        return Ok(());
    }
    Err(ImportError::bad_value(
        file,
        line_of(record),
        "(number of fields)",
        &record.len().to_string(),
        description,
    ))
}

/// True for a row with no content, such as the `,,,,` lines some exports end with.
pub fn is_blank(record: &csv::StringRecord) -> bool {
    CsvRecord::is_blank(record)
}

/// A header row, looked up by column name ignoring case and runs of whitespace (xlsx headers
/// break names over several lines).
#[derive(Debug, Clone)]
pub struct Header {
    file: String,
    names: Vec<String>,
}

impl Header {
    pub fn new<I>(file: impl Into<String>, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Header {
            file: file.into(),
            names: names.into_iter().map(|n| normalise(n.as_ref())).collect(),
        }
    }

    /// The index of the first column with any of `names`.
    pub fn find(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|wanted| {
            let wanted = normalise(wanted);
            self.names.iter().position(|n| *n == wanted)
        })
    }

    /// Finds every wanted column, each given as its accepted names (current name first), or
    /// reports all the missing ones in one `MissingColumns` error.
    pub fn require<const N: usize>(&self, wanted: [&[&str]; N]) -> Result<[usize; N], ImportError> {
        let mut found = [0; N];
        let mut missing = Vec::new();
        for (slot, names) in found.iter_mut().zip(wanted) {
            match self.find(names) {
                Some(index) => *slot = index,
                None => missing.push(names.join(" or ")),
            }
        }
        if missing.is_empty() {
            Ok(found)
        } else {
            Err(ImportError::MissingColumns {
                file: self.file.clone(),
                missing,
            })
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

fn normalise(name: &str) -> String {
    single_spaced(name).to_lowercase()
}

/// The words of `value` joined by single spaces: editions differ in spacing only.
pub fn single_spaced(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A trimmed value, `None` when empty.
pub fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// A code as used for joins: trimmed and upper-cased, `None` when empty.
pub fn code(value: &str) -> Option<String> {
    text(value).map(|v| v.to_ascii_uppercase())
}

/// A postcode upper-cased with single spaces, `None` when empty.
pub fn postcode(value: &str) -> Option<String> {
    code(&single_spaced(value))
}

/// An optional date; anything that is neither empty nor a known date form is a `BadValue`.
pub fn date(
    file: &str,
    line: u64,
    column: &str,
    value: &str,
) -> Result<Option<NaiveDate>, ImportError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse_source_date(value)
        .map(Some)
        .ok_or_else(|| ImportError::bad_value(file, line, column, value, "a date"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rows(count: usize) -> Vec<u8> {
        let mut csv = Vec::new();
        for i in 0..count {
            // A blank line every 100 rows, which is skipped but still counted as a line.
            if i % 100 == 50 {
                csv.extend_from_slice(b" , \n");
            }
            csv.extend_from_slice(format!("{i}, row {i}\n").as_bytes());
        }
        csv
    }

    #[test]
    fn byte_records_arrive_in_order_with_their_lines_across_batches() {
        let csv = rows(3 * RECORD_BATCH + 7);
        let mut reader = CsvReader::new(csv.as_slice());
        let mut seen = Vec::new();
        for_each_byte_record(&mut reader, "f.csv", |record, line| {
            seen.push((String::from_utf8(record[0].to_vec()).unwrap(), line));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 3 * RECORD_BATCH + 7);
        for (i, (value, line)) in seen.iter().enumerate() {
            assert_eq!(value, &i.to_string());
            let blanks_before = (i + 50) / 100;
            assert_eq!(*line, (i + blanks_before + 1) as u64, "row {i}");
        }
    }

    #[test]
    fn an_error_of_the_user_stops_the_reading() {
        let csv = rows(5 * RECORD_BATCH);
        let mut reader = CsvReader::new(csv.as_slice());
        let mut calls = 0;
        let result = for_each_byte_record(&mut reader, "f.csv", |_, line| {
            calls += 1;
            if calls == RECORD_BATCH + 3 {
                return Err(ImportError::bad_value("f.csv", line, "a", "x", "y"));
            }
            Ok(())
        });
        assert!(
            matches!(result, Err(ImportError::BadValue { .. })),
            "{result:?}"
        );
        assert_eq!(calls, RECORD_BATCH + 3);
    }

    #[test]
    fn a_read_failure_names_the_file_after_the_rows_before_it() {
        let mut csv = rows(RECORD_BATCH + 10);
        csv.extend_from_slice(b"1,\xff\xfe");
        let failing = csv.as_slice().chain(FailingRead);
        let mut reader = CsvReader::new(failing);
        let mut calls = 0;
        let result = for_each_byte_record(&mut reader, "f.csv", |_, _| {
            calls += 1;
            Ok(())
        });
        assert!(
            matches!(&result, Err(ImportError::Io { file, .. }) if file == "f.csv"),
            "{result:?}"
        );
        assert!(calls >= RECORD_BATCH, "{calls}");
    }

    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk gone"))
        }
    }

    /// Hands out its bytes a few at a time, to put chunk boundaries inside UTF-8 sequences and
    /// the byte order mark.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn decode_in_steps(bytes: &[u8], step: usize) -> io::Result<String> {
        let mut out = String::new();
        TextDecoder::new(Trickle { bytes, step }).read_to_string(&mut out)?;
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> io::Result<String> {
        decode_in_steps(bytes, CHUNK)
    }

    #[test]
    fn strips_a_leading_bom_only() {
        assert_eq!(decode(b"\xEF\xBB\xBFA,B\r\n").unwrap(), "A,B\r\n");
        assert_eq!(decode(b"A,\xEF\xBB\xBFB").unwrap(), "A,\u{FEFF}B");
        for step in 1..=4 {
            assert_eq!(decode_in_steps(b"\xEF\xBB\xBFxy", step).unwrap(), "xy");
        }
        assert_eq!(decode(b"\xEF\xBB\xBF").unwrap(), "");
        assert_eq!(decode(b"ab").unwrap(), "ab");
        assert_eq!(decode(b"").unwrap(), "");
    }

    #[test]
    fn keeps_valid_utf8_across_chunk_boundaries() {
        let text = "NAME,COST (£)\nA81001,Zoë,€5\n";
        for step in 1..=5 {
            assert_eq!(decode_in_steps(text.as_bytes(), step).unwrap(), text);
        }
    }

    #[test]
    fn decodes_latin1_when_the_first_non_ascii_byte_is_not_utf8() {
        let bytes = b"PRACTICE,AMOUNT (\xA3)\nA81001,Caf\xE9\n";
        for step in [1, 2, 7, CHUNK] {
            assert_eq!(
                decode_in_steps(bytes, step).unwrap(),
                "PRACTICE,AMOUNT (£)\nA81001,Café\n"
            );
        }
    }

    #[test]
    fn a_lone_lead_byte_at_the_end_means_latin1() {
        assert_eq!(decode(b"abc\xC3").unwrap(), "abcÃ");
    }

    #[test]
    fn invalid_utf8_after_valid_utf8_is_an_error_after_the_good_text() {
        let mut decoder = TextDecoder::new(&b"\xC2\xA3 ok\n\xA3 bad"[..]);
        let mut out = Vec::new();
        let err = decoder.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("byte 6"), "{err}");
        assert_eq!(out, "£ ok\n".as_bytes());
    }

    #[test]
    fn truncated_utf8_at_the_end_of_a_utf8_file_is_an_error() {
        let err = decode(b"\xC2\xA3\xE2\x82").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in members {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn a_zip_yields_its_csv_and_xlsx_members_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.zip");
        write_zip(
            &path,
            &[
                ("readme.pdf", b"%PDF-1.4"),
                ("data/Table.CSV", b"a,b\n1,2\n"),
                ("__MACOSX/data/._Table.CSV", b"\0\x05\x16\x07"),
                ("book.xlsx", b"PK"),
                ("notes.txt", b"hi"),
            ],
        );
        let sources = open_sources(&path).unwrap();
        let names: Vec<_> = sources.iter().map(SourceFile::name).collect();
        assert_eq!(names, ["data/Table.CSV", "book.xlsx"]);
        assert!(!sources[0].is_xlsx());
        assert!(sources[1].is_xlsx());
        assert_eq!(sources[0].base_name_lower(), "table.csv");
        assert_eq!(sources[0].to_string(), "data/Table.CSV (in bundle.zip)");
        assert_eq!(sources[1].bytes().unwrap(), b"PK");
    }

    #[test]
    fn a_zip_without_tables_is_unrecognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.zip");
        write_zip(&path, &[("epraccur.pdf", b"%PDF-1.4")]);
        match open_sources(&path).unwrap_err() {
            ImportError::Unrecognised { file, message } => {
                assert_eq!(file, "docs.zip");
                assert!(message.contains("no .csv or .xlsx"), "{message}");
            }
            other => panic!("expected Unrecognised, got {other:?}"),
        }
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_a_zip_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.zip");
        std::fs::write(&path, b"not a zip at all").unwrap();
        assert!(matches!(
            open_sources(&path).unwrap_err(),
            ImportError::Zip { file, .. } if file == "broken.zip"
        ));
    }

    #[test]
    fn other_extensions_and_missing_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            open_sources(&dir.path().join("table.txt")).unwrap_err(),
            ImportError::Unrecognised { file, .. } if file == "table.txt"
        ));
        assert!(matches!(
            open_sources(&dir.path().join("absent.csv")).unwrap_err(),
            ImportError::Io { file, source } if file == "absent.csv"
                && source.kind() == io::ErrorKind::NotFound
        ));
    }

    #[test]
    fn streams_a_large_zip_member_exactly() {
        let mut csv = String::from("\u{FEFF}CODE,COUNT\n");
        for i in 0..60_000 {
            csv.push_str(&format!("P{i:05},{i}\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.zip");
        write_zip(&path, &[("big.csv", csv.as_bytes())]);
        let sources = open_sources(&path).unwrap();
        let mut text = String::new();
        sources[0]
            .reader()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.len() > 4 * CHUNK);
        assert_eq!(text, csv.trim_start_matches('\u{FEFF}'));
    }

    #[test]
    fn dropping_a_zip_reader_early_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.zip");
        write_zip(&path, &[("big.csv", &vec![b'x'; 20 * CHUNK])]);
        let source = &open_sources(&path).unwrap()[0];
        let mut reader = source.reader().unwrap();
        let mut first = [0; 10];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"xxxxxxxxxx");
        drop(reader);
        let mut again = String::new();
        source.reader().unwrap().read_to_string(&mut again).unwrap();
        assert_eq!(again.len(), 20 * CHUNK);
    }

    #[test]
    fn a_bare_latin1_csv_reads_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payments.csv");
        std::fs::write(&path, b"PRACTICE,TOTAL (\xA3)\r\nA81001,10\r\n").unwrap();
        let source = &open_sources(&path).unwrap()[0];
        let (header, mut reader) = source.csv_with_header().unwrap();
        assert_eq!(header.find(&["total (£)"]), Some(1));
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[0], "A81001");
    }

    #[test]
    fn csv_records_of_crlf_files_have_their_own_line_numbers() {
        let data = "\"A\",\"B\"\r\n\"multi\r\nline\",\"\"\r\n\r\nx , y \r\n";
        let records: Vec<csv::StringRecord> = CsvReader::new(data.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
        let summary: Vec<(u64, Vec<&str>)> = records
            .iter()
            .map(|r| (line_of(r), r.iter().collect()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, vec!["A", "B"]),
                (2, vec!["multi\r\nline", ""]),
                (4, vec![""]),
                (5, vec!["x", "y"]),
            ]
        );
        assert!(is_blank(&records[2]));
        assert!(!is_blank(&records[1]));
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.csv");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn header_lookup_ignores_case_and_line_breaks() {
        let header = Header::new(
            "epcn.xlsx",
            [
                "Partner\nOrganisation\r\nCode",
                " PCN  Code ",
                "EXTRACT_DATE",
            ],
        );
        assert_eq!(header.find(&["partner organisation code"]), Some(0));
        assert_eq!(header.find(&["PCN Code"]), Some(1));
        assert_eq!(header.find(&["NOPE", "extract_date"]), Some(2));
        assert_eq!(header.find(&["PCN"]), None);
    }

    #[test]
    fn require_reports_every_missing_column_at_once() {
        let header = Header::new("map.csv", ["PRACTICE_CODE", "CCG_CODE"]);
        assert_eq!(
            header
                .require([&["SUB_ICB_LOCATION_CODE", "CCG_CODE"], &["PRACTICE_CODE"]])
                .unwrap(),
            [1, 0]
        );
        let err = header
            .require([
                &["PRACTICE_CODE"],
                &["ICB_CODE", "STP_CODE"],
                &["COMM_REGION_CODE"],
            ])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "map.csv: missing column(s): ICB_CODE or STP_CODE, COMM_REGION_CODE"
        );
    }

    #[test]
    fn field_helpers_trim_and_normalise() {
        assert_eq!(text("  A B  "), Some("A B".into()));
        assert_eq!(text("   "), None);
        assert_eq!(code(" y63 "), Some("Y63".into()));
        assert_eq!(postcode(" ts18   1hu "), Some("TS18 1HU".into()));
        assert_eq!(postcode(""), None);
        assert_eq!(
            date("f.csv", 3, "Open Date", "19740401").unwrap(),
            NaiveDate::from_ymd_opt(1974, 4, 1)
        );
        assert_eq!(date("f.csv", 3, "Open Date", " ").unwrap(), None);
        assert!(matches!(
            date("f.csv", 3, "Open Date", "1974-04").unwrap_err(),
            ImportError::BadValue { line: 3, ref column, .. } if column == "Open Date"
        ));
    }
}
