//! Errors raised while reading source files. Every variant names the file it is about, so a
//! message read on its own (in a log line or an HTTP error) says where to look.

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: missing column(s): {}", missing.join(", "))]
    MissingColumns { file: String, missing: Vec<String> },

    #[error("{file}, line {line}: column {column}: invalid value {value:?} (expected {expected})")]
    BadValue {
        file: String,
        line: u64,
        column: String,
        value: String,
        expected: &'static str,
    },

    #[error("{file}: CSV error: {message}")]
    Csv { file: String, message: String },

    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },

    #[error("{file}: zip error: {message}")]
    Zip { file: String, message: String },

    #[error("{file}: xlsx error: {message}")]
    Xlsx { file: String, message: String },

    #[error("{file}: unrecognised file: {message}")]
    Unrecognised { file: String, message: String },

    #[error("{file}: file is empty")]
    Empty { file: String },

    #[error("{source_name}: no file used the option(s) {}", options.join(", "))]
    UnusedOptions {
        source_name: &'static str,
        options: Vec<String>,
    },
    #[error("interrupted before it finished (Ctrl-C or SIGTERM); nothing it loaded was kept")]
    Interrupted,

    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl ImportError {
    pub fn bad_value(
        file: &str,
        line: u64,
        column: &str,
        value: &str,
        expected: &'static str,
    ) -> Self {
        ImportError::BadValue {
            file: file.to_owned(),
            line,
            column: column.to_owned(),
            value: value.to_owned(),
            expected,
        }
    }

    pub fn unrecognised(file: &str, message: impl Into<String>) -> Self {
        ImportError::Unrecognised {
            file: file.to_owned(),
            message: message.into(),
        }
    }

    /// Keeps I/O failures (including undecodable text, see `source`) as `Io` so the cause survives;
    /// everything else the CSV parser reports becomes `Csv`.
    pub fn from_csv(file: &str, err: csv::Error) -> Self {
        let message = err.to_string();
        match err.into_kind() {
            csv::ErrorKind::Io(source) => ImportError::Io {
                file: file.to_owned(),
                source,
            },
            _ => ImportError::Csv {
                file: file.to_owned(),
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_columns_lists_every_column() {
        let err = ImportError::MissingColumns {
            file: "map.csv".into(),
            missing: vec!["ICB_NAME".into(), "COMM_REGION_CODE".into()],
        };
        assert_eq!(
            err.to_string(),
            "map.csv: missing column(s): ICB_NAME, COMM_REGION_CODE"
        );
    }

    #[test]
    fn bad_value_names_file_line_and_column() {
        let err = ImportError::bad_value("epraccur.csv", 7, "Open Date", "2019-13-01", "a date");
        assert_eq!(
            err.to_string(),
            "epraccur.csv, line 7: column Open Date: invalid value \"2019-13-01\" (expected a date)"
        );
    }

    #[test]
    fn csv_io_errors_stay_io_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad bytes");
        let err = ImportError::from_csv("x.csv", csv::Error::from(io));
        match err {
            ImportError::Io { file, source } => {
                assert_eq!(file, "x.csv");
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidData);
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }
}
