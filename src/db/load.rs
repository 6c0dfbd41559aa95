//! Bulk loading inside an import's transaction, by column name: a row type names its fields as
//! the columns they fill (`table_row!`), and a loader refuses a row type whose names or value
//! types do not fit the table, so a value can never land in another column.
//!
//! Rows are encoded as they are pushed straight into the backend's own bulk form, a chunk of
//! bounded size at a time: on SQLite one prepared `INSERT` stepped once per row
//! ([`sqlite`], on a thread of its own while the next chunk is encoded), on PostgreSQL
//! `COPY … FROM STDIN` in binary format ([`postgres`]). Memory stays at two chunks at most
//! whatever the number of rows.

mod postgres;
mod sqlite;

use std::marker::PhantomData;

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::ProgressBar;
use sea_query::OnConflict;

use super::Tx;
use crate::schema::{Kind, Table};

/// Bytes of encoded rows a loader holds before writing them. Each chunk costs PostgreSQL a
/// `COPY` of its own, whose round trips (and the delayed acknowledgement of its last packet,
/// sqlx's sockets being without `TCP_NODELAY`) are paid once per chunk, so chunks are large.
const CHUNK_BYTES: usize = 8 << 20;

/// The type of value a row field holds, checked against its column's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Integer,
    Float,
    Boolean,
    Date,
    Timestamp,
    Object,
}

impl FieldType {
    fn fits(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (FieldType::Text, Kind::Text)
                | (FieldType::Integer, Kind::Integer | Kind::Decimal(_))
                | (FieldType::Float, Kind::Float)
                | (FieldType::Boolean, Kind::Boolean)
                | (FieldType::Date, Kind::Date)
                | (FieldType::Timestamp, Kind::Timestamp)
                | (FieldType::Object, Kind::Object(_))
        )
    }
}

/// Where a row's values are written: one backend's bulk form.
pub trait Encoder {
    fn null(&mut self);
    fn integer(&mut self, value: i64);
    fn float(&mut self, value: f64);
    fn boolean(&mut self, value: bool);
    fn text(&mut self, value: &str);
    fn date(&mut self, value: NaiveDate);
    fn timestamp(&mut self, value: DateTime<Utc>);
}

/// A value a row field can hold.
pub trait Field {
    const TYPE: FieldType;
    fn encode<E: Encoder>(&self, out: &mut E);
}

impl Field for String {
    const TYPE: FieldType = FieldType::Text;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.text(self);
    }
}

impl Field for &str {
    const TYPE: FieldType = FieldType::Text;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.text(self);
    }
}

impl Field for i64 {
    const TYPE: FieldType = FieldType::Integer;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.integer(*self);
    }
}

impl Field for f64 {
    const TYPE: FieldType = FieldType::Float;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.float(*self);
    }
}

impl Field for bool {
    const TYPE: FieldType = FieldType::Boolean;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.boolean(*self);
    }
}

impl Field for NaiveDate {
    const TYPE: FieldType = FieldType::Date;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.date(*self);
    }
}

impl Field for DateTime<Utc> {
    const TYPE: FieldType = FieldType::Timestamp;
    fn encode<E: Encoder>(&self, out: &mut E) {
        out.timestamp(*self);
    }
}

impl<T: Field> Field for Option<T> {
    const TYPE: FieldType = T::TYPE;
    fn encode<E: Encoder>(&self, out: &mut E) {
        match self {
            Some(value) => value.encode(out),
            None => out.null(),
        }
    }
}

/// A row of some table's columns, named by its fields. Declare one with [`table_row!`].
pub trait TableRow {
    /// The columns the row fills, in the order `encode` writes them.
    const COLUMNS: &'static [&'static str];
    /// The type of each column's value, in the same order.
    const TYPES: &'static [FieldType];
    fn encode<E: Encoder>(&self, out: &mut E);
}

/// Declares a struct whose fields are named as the columns they fill, and its [`TableRow`].
#[macro_export]
macro_rules! table_row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        $vis struct $name {
            $(pub $field: $ty,)*
        }

        impl $crate::db::TableRow for $name {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];
            const TYPES: &'static [$crate::db::FieldType] =
                &[$(<$ty as $crate::db::Field>::TYPE),*];

            fn encode<E: $crate::db::Encoder>(&self, out: &mut E) {
                $($crate::db::Field::encode(&self.$field, out);)*
            }
        }
    };
}

/// The backend's bulk form of the rows pushed and not yet written.
enum Chunk {
    Sqlite(sqlite::Rows),
    Postgres(postgres::CopyData),
}

/// Encodes rows into chunks of the backend's bulk form and writes each chunk when it is full.
pub struct Loader<'t, R: TableRow> {
    /// The transaction, until a SQLite loader's writer takes its connection.
    tx: Option<&'t mut Tx>,
    /// SQLite's insert thread, started with the first full chunk.
    writer: Option<sqlite::Writer<'t>>,
    table: &'static Table,
    chunk: Chunk,
    /// Rows in `chunk`.
    buffered: u64,
    loaded: u64,
    on_conflict: Option<OnConflict>,
    /// Set once a chunk of a PostgreSQL loader with `on_conflict` has met a key, and every
    /// chunk from then on goes to the staging table.
    staging: bool,
    progress: Option<ProgressBar>,
    rows: PhantomData<R>,
}

impl Tx {
    /// Loads rows of type `R` into `table`. Refused, in every build, when `R` names a column
    /// `table` does not have, leaves out one that may not be null (a serial `id` excepted), or
    /// holds a value of another type than its column's.
    pub fn loader<R: TableRow>(
        &mut self,
        table: &'static Table,
    ) -> Result<Loader<'_, R>, sqlx::Error> {
        for (name, field) in R::COLUMNS.iter().zip(R::TYPES) {
            let Some(column) = table.column(name) else {
                return Err(sqlx::Error::ColumnNotFound(format!(
                    "{}.{name}: the table has no such column",
                    table.name
                )));
            };
            if !field.fits(column.kind) {
                return Err(sqlx::Error::ColumnNotFound(format!(
                    "{}.{name}: the column holds {:?} values, not {field:?}",
                    table.name, column.kind
                )));
            }
        }
        let serial = table.numbers_its_rows();
        let filled = |name: &str| R::COLUMNS.contains(&name) || serial && name == "id";
        if let Some(missing) = table
            .columns
            .iter()
            .find(|c| !(c.nullable || filled(c.name)))
        {
            return Err(sqlx::Error::ColumnNotFound(format!(
                "{}.{}: the column may not be null but the row does not fill it",
                table.name, missing.name
            )));
        }
        let chunk = match self {
            Tx::Sqlite(_) => Chunk::Sqlite(sqlite::Rows::default()),
            Tx::Postgres(_) => Chunk::Postgres(postgres::CopyData::new()),
        };
        Ok(Loader {
            tx: Some(self),
            writer: None,
            table,
            chunk,
            buffered: 0,
            loaded: 0,
            on_conflict: None,
            staging: false,
            progress: None,
            rows: PhantomData,
        })
    }
}

impl<R: TableRow> Loader<'_, R> {
    /// What to do with a row whose key is already in the table (portable `ON CONFLICT`); rows
    /// skipped by `DO NOTHING` are not counted as loaded. Rows take effect in the order they
    /// are pushed, on both backends: of two rows with one key, `DO NOTHING` keeps the first
    /// and `DO UPDATE` the later, and each row that inserts or updates counts as loaded.
    pub fn on_conflict(mut self, on_conflict: OnConflict) -> Self {
        self.on_conflict = Some(on_conflict);
        self
    }

    /// Advances `progress` by the rows written.
    pub fn counting(mut self, progress: ProgressBar) -> Self {
        self.progress = Some(progress);
        self
    }

    pub async fn push(&mut self, row: R) -> Result<(), sqlx::Error> {
        let full = match &mut self.chunk {
            Chunk::Sqlite(rows) => {
                row.encode(rows);
                rows.len() >= CHUNK_BYTES
            }
            Chunk::Postgres(data) => {
                data.begin_row(R::COLUMNS.len());
                row.encode(data);
                data.len() >= CHUNK_BYTES
            }
        };
        self.buffered += 1;
        if full {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.buffered == 0 {
            return Ok(());
        }
        // Parsing and encoding never wait, so without this a loader would hold its task until
        // the file ends, and a signal that stops the import would go unnoticed until then.
        tokio::task::yield_now().await;
        match &mut self.chunk {
            Chunk::Sqlite(rows) => {
                if self.writer.is_none() {
                    let Some(Tx::Sqlite(tx)) = self.tx.take() else {
                        unreachable!("a loader's chunk is made for its transaction's backend")
                    };
                    let insert =
                        sqlite::insert_sql(self.table, R::COLUMNS, self.on_conflict.as_ref());
                    let writer =
                        sqlite::Writer::start(tx, insert, R::COLUMNS.len(), self.progress.clone())
                            .await?;
                    self.writer = Some(writer);
                }
                let writer = self.writer.as_mut().expect("started above");
                *rows = writer.write(std::mem::take(rows), self.buffered)?;
            }
            Chunk::Postgres(data) => {
                let Some(Tx::Postgres(tx)) = self.tx.as_deref_mut() else {
                    unreachable!("a loader's chunk is made for its transaction's backend")
                };
                if self.on_conflict.is_none() {
                    self.loaded += postgres::copy(tx, self.table.name, R::COLUMNS, data).await?;
                } else if !self.staging
                    && let Some(copied) =
                        postgres::copy_unless_conflict(tx, self.table, R::COLUMNS, data).await?
                {
                    self.loaded += copied;
                } else {
                    if !self.staging {
                        postgres::create_staging(tx, self.table, R::COLUMNS).await?;
                        self.staging = true;
                    }
                    let staging = postgres::staging_name(self.table);
                    postgres::copy(tx, &staging, R::COLUMNS, data).await?;
                }
                if let Some(progress) = &self.progress {
                    progress.inc(self.buffered);
                }
            }
        }
        self.buffered = 0;
        Ok(())
    }

    /// Writes what is buffered and returns the number of rows loaded.
    pub async fn finish(mut self) -> Result<u64, sqlx::Error> {
        self.flush().await?;
        if let Some(writer) = &mut self.writer {
            self.loaded += writer.finish()?;
        }
        if let (Some(Tx::Postgres(tx)), Some(on_conflict), true) =
            (self.tx.as_deref_mut(), &self.on_conflict, self.staging)
        {
            self.loaded += postgres::merge_staging(tx, self.table, R::COLUMNS, on_conflict).await?;
        }
        Ok(self.loaded)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use sea_query::{Alias, OnConflict, Order, Query};

    use super::*;
    use crate::db::{Cell, Db, JsonObject};
    use crate::schema::{Kind, ObjectValues, col, opt};

    static PEOPLE: Table = Table {
        name: "people",
        columns: &[
            col("name", Kind::Text, "Name"),
            opt("age", Kind::Integer, "Age"),
        ],
        primary_key: &["name"],
        indexes: &[],
    };

    crate::table_row! {
        struct Person {
            age: Option<i64>,
            name: String,
        }
    }

    crate::table_row! {
        struct Misnamed {
            name: String,
            years: Option<i64>,
        }
    }

    crate::table_row! {
        struct Nameless {
            age: Option<i64>,
        }
    }

    crate::table_row! {
        struct Mistyped {
            name: String,
            age: Option<String>,
        }
    }

    crate::table_row! {
        struct MaybeNamed {
            name: Option<String>,
        }
    }

    static KINDS: Table = Table {
        name: "kinds",
        columns: &[
            col("id", Kind::Integer, "Key"),
            opt("text", Kind::Text, "Text"),
            opt("integer", Kind::Integer, "Integer"),
            opt("decimal", Kind::Decimal(2), "Decimal"),
            opt("float", Kind::Float, "Float"),
            opt("date", Kind::Date, "Date"),
            opt("boolean", Kind::Boolean, "Boolean"),
            opt("timestamp", Kind::Timestamp, "Timestamp"),
            opt("object", Kind::Object(ObjectValues::Number), "Object"),
            col("label", Kind::Text, "Label"),
        ],
        primary_key: &["id"],
        indexes: &[&["label"]],
    };

    crate::table_row! {
        struct Kinds {
            id: i64,
            text: Option<String>,
            integer: Option<i64>,
            decimal: Option<i64>,
            float: Option<f64>,
            date: Option<NaiveDate>,
            boolean: Option<bool>,
            timestamp: Option<DateTime<Utc>>,
            object: Option<JsonObject>,
            label: &'static str,
        }
    }

    /// A test database on SQLite, and on PostgreSQL in a schema of its own when
    /// `HARESIGN_TEST_DATABASE_URL` is set; the schema is dropped by `Backends::finish`.
    struct Backends {
        dbs: Vec<(Db, Option<String>)>,
        admin: Option<Db>,
        _dir: tempfile::TempDir,
    }

    impl Backends {
        async fn new(tables: &[&'static Table]) -> Backends {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("load.db").display());
            let mut dbs = vec![(Db::connect(&url).await.unwrap(), None)];
            let mut admin = None;
            if let Ok(url) = std::env::var("HARESIGN_TEST_DATABASE_URL") {
                static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let schema = format!(
                    "load_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                    Utc::now().timestamp_micros()
                );
                let db = Db::connect(&url).await.unwrap();
                crate::db::create_test_schema(&db, &schema).await;
                admin = Some(db);
                dbs.push((
                    Db::connect_in_schema(&url, Some(&schema)).await.unwrap(),
                    Some(schema),
                ));
            }
            for (db, _) in &dbs {
                db.migrate(tables, &[], 1).await.unwrap();
            }
            Backends {
                dbs,
                admin,
                _dir: dir,
            }
        }

        async fn finish(self) {
            for (db, schema) in self.dbs {
                db.close().await;
                if let (Some(admin), Some(schema)) = (&self.admin, schema) {
                    crate::db::drop_test_schema(admin, &schema).await;
                }
            }
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Text that escaping, quoting or encoding could get wrong.
    const AWKWARD: &[&str] = &[
        "",
        " ",
        "tab\there",
        "line\nbreak",
        "carriage\rreturn\r\n",
        "back\\slash\\",
        "\\N",
        "\\.",
        "NULL",
        "'single' \"double\"",
        ",comma;semicolon|pipe",
        "ünïcødé – 中文 – 🦀 – e\u{301}",
        "\u{feff}bom",
        "\u{7f}\u{1}\u{1f}",
    ];

    /// A row with only its key and label.
    fn nulls(id: i64, label: &'static str) -> Kinds {
        Kinds {
            id,
            text: None,
            integer: None,
            decimal: None,
            float: None,
            date: None,
            boolean: None,
            timestamp: None,
            object: None,
            label,
        }
    }

    fn awkward_rows() -> Vec<Kinds> {
        let mut rows: Vec<Kinds> = AWKWARD
            .iter()
            .enumerate()
            .map(|(i, text)| Kinds {
                id: i as i64,
                text: Some((*text).to_owned()),
                integer: Some([i64::MIN, i64::MAX, 0, -1][i % 4]),
                decimal: Some([12_345, -1, 0, 999_999_999_999][i % 4]),
                float: Some([0.1, -2.5e-300, 1.7976931348623157e308, 5e-324, 1.0 / 3.0][i % 5]),
                date: Some([date(1900, 1, 1), date(2000, 2, 29), date(9999, 12, 31)][i % 3]),
                boolean: Some(i % 2 == 0),
                timestamp: Some(
                    DateTime::from_timestamp_micros(
                        [0, 1_700_000_000_123_456, -2_208_988_800_000_001][i % 3],
                    )
                    .unwrap(),
                ),
                object: Some({
                    let mut object = JsonObject::builder();
                    object
                        .number(text, Some(i as f64 / 4.0))
                        .number("none", None);
                    object.finish()
                }),
                label: "awkward",
            })
            .collect();
        rows.push(nulls(1000, "nulls"));
        // Longer than a chunk on its own.
        rows.push(Kinds {
            id: 1001,
            text: Some("\t\\\n€".repeat(CHUNK_BYTES / 3)),
            integer: Some(1),
            decimal: None,
            float: Some(-0.0),
            date: None,
            boolean: Some(false),
            timestamp: None,
            object: Some(JsonObject::builder().finish()),
            label: "long",
        });
        rows
    }

    fn cells(row: &Kinds) -> Vec<Cell> {
        let or_null = |cell: Option<Cell>| cell.unwrap_or(Cell::Null);
        vec![
            Cell::Int(row.id),
            or_null(row.text.clone().map(Cell::Text)),
            or_null(row.integer.map(Cell::Int)),
            or_null(row.decimal.map(|d| Cell::Decimal(d, 2))),
            or_null(row.float.map(Cell::Float)),
            or_null(row.date.map(Cell::Date)),
            or_null(row.boolean.map(Cell::Bool)),
            or_null(row.timestamp.map(Cell::Timestamp)),
            or_null(
                row.object
                    .as_ref()
                    .map(|o| Cell::Object(o.as_str().to_owned())),
            ),
            Cell::Text(row.label.to_owned()),
        ]
    }

    async fn read_kinds(db: &Db) -> Vec<Vec<Cell>> {
        let mut select = Query::select();
        select
            .columns(KINDS.columns.iter().map(|c| Alias::new(c.name)))
            .from(Alias::new(KINDS.name))
            .order_by(Alias::new("id"), Order::Asc);
        let kinds: Vec<Kind> = KINDS.columns.iter().map(|c| c.kind).collect();
        db.fetch_cells(&select, &kinds).await.unwrap()
    }

    #[tokio::test]
    async fn every_kind_round_trips_exactly_on_both_backends() {
        let backends = Backends::new(&[&KINDS]).await;
        for (db, _) in &backends.dbs {
            let rows = awkward_rows();
            let mut tx = db.begin().await.unwrap();
            let mut loader = tx.loader::<Kinds>(&KINDS).unwrap();
            // Enough plain rows after the awkward ones that they span several chunks.
            let plain = (2000..40_000).map(|id| Kinds {
                id,
                text: Some(format!("row {id}")),
                integer: Some(id),
                decimal: Some(id * 100),
                float: Some(id as f64 / 8.0),
                date: Some(date(2020, 1, 1) + chrono::Days::new(id as u64 % 3000)),
                boolean: Some(id % 3 == 0),
                timestamp: None,
                object: None,
                label: "plain",
            });
            let expected: Vec<Vec<Cell>> = rows.iter().map(cells).collect();
            for row in rows {
                loader.push(row).await.unwrap();
            }
            for row in plain {
                loader.push(row).await.unwrap();
            }
            assert_eq!(
                loader.finish().await.unwrap(),
                16 + 38_000,
                "{:?}",
                db.backend()
            );
            tx.commit().await.unwrap();
            let read = read_kinds(db).await;
            assert_eq!(read.len(), 16 + 38_000);
            for (read, expected) in read.iter().zip(&expected) {
                assert_eq!(read, expected, "{:?}", db.backend());
            }
            assert_eq!(
                read[16 + 37_999],
                vec![
                    Cell::Int(39_999),
                    Cell::Text("row 39999".to_owned()),
                    Cell::Int(39_999),
                    Cell::Decimal(3_999_900, 2),
                    Cell::Float(39_999.0 / 8.0),
                    Cell::Date(date(2020, 1, 1) + chrono::Days::new(39_999 % 3000)),
                    Cell::Bool(39_999 % 3 == 0),
                    Cell::Null,
                    Cell::Null,
                    Cell::Text("plain".to_owned()),
                ],
                "{:?}",
                db.backend()
            );
        }
        backends.finish().await;
    }

    async fn people(db: &Db) -> Vec<(String, Option<i64>)> {
        let mut select = Query::select();
        select
            .columns([Alias::new("name"), Alias::new("age")])
            .from(Alias::new("people"))
            .order_by(Alias::new("name"), Order::Asc);
        db.fetch_cells(&select, &[Kind::Text, Kind::Integer])
            .await
            .unwrap()
            .into_iter()
            .map(|row| match &row[..] {
                [Cell::Text(name), Cell::Int(age)] => (name.clone(), Some(*age)),
                [Cell::Text(name), Cell::Null] => (name.clone(), None),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn person(name: &str, age: i64) -> Person {
        Person {
            name: name.to_owned(),
            age: Some(age),
        }
    }

    /// Loads `rows` with `on_conflict` over a table holding Ada (36); returns the count.
    async fn load_over_ada(db: &Db, on_conflict: OnConflict, rows: Vec<Person>) -> u64 {
        let mut tx = db.begin().await.unwrap();
        tx.delete_where(&PEOPLE, &[]).await.unwrap();
        let mut loader = tx.loader::<Person>(&PEOPLE).unwrap();
        loader.push(person("Ada", 36)).await.unwrap();
        assert_eq!(loader.finish().await.unwrap(), 1);
        let mut loader = tx
            .loader::<Person>(&PEOPLE)
            .unwrap()
            .on_conflict(on_conflict);
        for row in rows {
            loader.push(row).await.unwrap();
        }
        let loaded = loader.finish().await.unwrap();
        tx.commit().await.unwrap();
        loaded
    }

    fn on_name() -> OnConflict {
        OnConflict::column(Alias::new("name"))
    }

    #[tokio::test]
    async fn do_nothing_keeps_the_first_row_of_a_key_and_counts_the_rows_inserted() {
        let backends = Backends::new(&[&PEOPLE]).await;
        for (db, _) in &backends.dbs {
            let rows = vec![person("Ada", 1), person("Alan", 41), person("Alan", 2)];
            let loaded = load_over_ada(db, on_name().do_nothing().to_owned(), rows).await;
            assert_eq!(loaded, 1, "{:?}", db.backend());
            let expected = vec![("Ada".to_owned(), Some(36)), ("Alan".to_owned(), Some(41))];
            assert_eq!(people(db).await, expected, "{:?}", db.backend());
        }
        backends.finish().await;
    }

    #[tokio::test]
    async fn do_update_keeps_the_last_row_of_a_key_and_counts_every_row() {
        let backends = Backends::new(&[&PEOPLE]).await;
        let update = || on_name().update_column(Alias::new("age")).to_owned();
        for (db, _) in &backends.dbs {
            // Each key once: one statement on PostgreSQL.
            let rows = vec![person("Ada", 37), person("Alan", 41)];
            assert_eq!(load_over_ada(db, update(), rows).await, 2);
            let expected = vec![("Ada".to_owned(), Some(37)), ("Alan".to_owned(), Some(41))];
            assert_eq!(people(db).await, expected, "{:?}", db.backend());
            // A key pushed twice, and enough rows to stage several chunks.
            let mut rows = vec![person("Alan", 41), person("Ada", 38), person("Alan", 42)];
            rows.extend((0..100_000).map(|i| person(&format!("p{i:06}"), i)));
            rows.push(person("p000007", -7));
            assert_eq!(load_over_ada(db, update(), rows).await, 100_004);
            let read = people(db).await;
            assert_eq!(read.len(), 100_002, "{:?}", db.backend());
            assert_eq!(
                read[..3],
                [
                    ("Ada".to_owned(), Some(38)),
                    ("Alan".to_owned(), Some(42)),
                    ("p000000".to_owned(), Some(0))
                ],
                "{:?}",
                db.backend()
            );
            assert_eq!(read[9], ("p000007".to_owned(), Some(-7)));
        }
        backends.finish().await;
    }

    /// Rows over several chunks: the first chunk meets no key, a later one meets a key from
    /// before the load and one from the first chunk, and a key first pushed after that comes
    /// again in a later chunk.
    fn colliding_later() -> (Vec<Person>, String) {
        let long = "x".repeat(2_000);
        let name = |i: i64| format!("{long}{i:05}");
        let mut rows: Vec<Person> = (0..6_000).map(|i| person(&name(i), i)).collect();
        rows.extend([person("Ada", 1), person(&name(0), -1), person("Mid", 5)]);
        rows.extend((6_000..12_000).map(|i| person(&name(i), i)));
        rows.push(person("Mid", 6));
        (rows, name(0))
    }

    fn age_of(people: &[(String, Option<i64>)], name: &str) -> Option<i64> {
        people
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, age)| *age)
    }

    #[tokio::test]
    async fn a_key_met_after_the_first_chunks_keeps_the_push_order() {
        let backends = Backends::new(&[&PEOPLE]).await;
        for (db, _) in &backends.dbs {
            let (rows, first) = colliding_later();
            let loaded = load_over_ada(db, on_name().do_nothing().to_owned(), rows).await;
            assert_eq!(loaded, 12_001, "{:?}", db.backend());
            let read = people(db).await;
            assert_eq!(read.len(), 12_002, "{:?}", db.backend());
            assert_eq!(age_of(&read, "Ada"), Some(36), "{:?}", db.backend());
            assert_eq!(age_of(&read, &first), Some(0), "{:?}", db.backend());
            assert_eq!(age_of(&read, "Mid"), Some(5), "{:?}", db.backend());

            let (rows, first) = colliding_later();
            let update = on_name().update_column(Alias::new("age")).to_owned();
            assert_eq!(load_over_ada(db, update, rows).await, 12_004);
            let read = people(db).await;
            assert_eq!(read.len(), 12_002, "{:?}", db.backend());
            assert_eq!(age_of(&read, "Ada"), Some(1), "{:?}", db.backend());
            assert_eq!(age_of(&read, &first), Some(-1), "{:?}", db.backend());
            assert_eq!(age_of(&read, "Mid"), Some(6), "{:?}", db.backend());
        }
        backends.finish().await;
    }

    #[tokio::test]
    async fn analyze_gives_the_rest_of_the_transaction_the_rows_just_loaded() {
        let backends = Backends::new(&[&KINDS]).await;
        for (db, _) in &backends.dbs {
            let mut tx = db.begin().await.unwrap();
            let mut loader = tx.loader::<Kinds>(&KINDS).unwrap();
            for id in 0..2_000 {
                loader
                    .push(nulls(id, ["a", "b"][id as usize % 2]))
                    .await
                    .unwrap();
            }
            loader.finish().await.unwrap();
            tx.analyze(&[&KINDS]).await.unwrap();
            // The planner's row count of the table, as the statements after it will see it.
            let estimate = match tx.backend() {
                crate::db::Backend::Sqlite => {
                    "CAST(substr(stat, 1, instr(stat, ' ') - 1) AS INTEGER) FROM sqlite_stat1 \
                     WHERE tbl = 'kinds' AND idx = 'kinds_label_idx'"
                }
                crate::db::Backend::Postgres => {
                    "CAST(reltuples AS BIGINT) FROM pg_class \
                     WHERE relname = 'kinds' AND relnamespace = current_schema()::regnamespace"
                }
            };
            let mut select = Query::select();
            select.expr(sea_query::Expr::cust(estimate));
            let rows = tx.fetch_cells(&select, &[Kind::Integer]).await.unwrap();
            assert_eq!(rows, [[Cell::Int(2_000)]], "{:?}", db.backend());
            tx.rollback().await.unwrap();
        }
        backends.finish().await;
    }

    #[tokio::test]
    async fn fields_fill_the_columns_they_are_named_after() {
        let backends = Backends::new(&[&PEOPLE]).await;
        for (db, _) in &backends.dbs {
            let mut tx = db.begin().await.unwrap();
            let mut loader = tx.loader::<Person>(&PEOPLE).unwrap();
            for (name, age) in [("Ada", Some(36)), ("Alan", None)] {
                let name = name.to_owned();
                loader.push(Person { age, name }).await.unwrap();
            }
            assert_eq!(loader.finish().await.unwrap(), 2);
            tx.commit().await.unwrap();
            let expected = vec![("Ada".to_owned(), Some(36)), ("Alan".to_owned(), None)];
            assert_eq!(people(db).await, expected, "{:?}", db.backend());
        }
        backends.finish().await;
    }

    #[tokio::test]
    async fn a_row_type_that_does_not_fit_the_table_is_refused() {
        let backends = Backends::new(&[&PEOPLE]).await;
        for (db, _) in &backends.dbs {
            let mut tx = db.begin().await.unwrap();
            let unknown = tx.loader::<Misnamed>(&PEOPLE).err().unwrap().to_string();
            assert!(unknown.contains("people.years"), "{unknown}");
            let missing = tx.loader::<Nameless>(&PEOPLE).err().unwrap().to_string();
            assert!(missing.contains("people.name"), "{missing}");
            let mistyped = tx.loader::<Mistyped>(&PEOPLE).err().unwrap().to_string();
            assert!(
                mistyped.contains("people.age: the column holds Integer values, not Text"),
                "{mistyped}"
            );
        }
        backends.finish().await;
    }

    #[tokio::test]
    async fn a_row_the_database_refuses_fails_the_load_as_a_database_error() {
        let backends = Backends::new(&[&PEOPLE]).await;
        for (db, _) in &backends.dbs {
            let mut tx = db.begin().await.unwrap();
            let mut loader = tx.loader::<MaybeNamed>(&PEOPLE).unwrap();
            loader.push(MaybeNamed { name: None }).await.unwrap();
            let error = loader.finish().await.err().unwrap();
            let sqlx::Error::Database(error) = error else {
                panic!("{error:?}")
            };
            assert_eq!(
                error.kind(),
                sqlx::error::ErrorKind::NotNullViolation,
                "{:?}: {error}",
                db.backend()
            );
        }
        backends.finish().await;
    }

    #[tokio::test]
    async fn a_refused_row_followed_by_more_chunks_fails_the_load_as_that_database_error() {
        let backends = Backends::new(&[&PEOPLE]).await;
        for (db, _) in &backends.dbs {
            let mut tx = db.begin().await.unwrap();
            let mut loader = tx.loader::<MaybeNamed>(&PEOPLE).unwrap();
            let long = "x".repeat(1000);
            let rows = std::iter::once(None)
                .chain((0..3 * CHUNK_BYTES / 1000).map(|i| Some(format!("{long}{i}"))));
            let mut error = None;
            for name in rows {
                if let Err(refused) = loader.push(MaybeNamed { name }).await {
                    error = Some(refused);
                    break;
                }
            }
            let error = match error {
                Some(error) => {
                    drop(loader);
                    error
                }
                None => loader.finish().await.err().unwrap(),
            };
            let sqlx::Error::Database(error) = error else {
                panic!("{error:?}")
            };
            assert_eq!(
                error.kind(),
                sqlx::error::ErrorKind::NotNullViolation,
                "{:?}: {error}",
                db.backend()
            );
            tx.rollback().await.unwrap();
        }
        backends.finish().await;
    }

    /// Any text PostgreSQL can hold (every char but NUL) comes back as it went in.
    #[test]
    fn any_text_round_trips() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let backends = runtime.block_on(Backends::new(&[&PEOPLE]));
        let text = proptest::collection::vec("[^\u{0}]{0,40}", 1..40);
        let mut runner = TestRunner::new(Config::with_cases(48));
        runner
            .run(&text, |names| {
                for (db, _) in &backends.dbs {
                    let read = runtime.block_on(async {
                        let mut tx = db.begin().await.unwrap();
                        tx.delete_where(&PEOPLE, &[]).await.unwrap();
                        let mut loader = tx
                            .loader::<Person>(&PEOPLE)
                            .unwrap()
                            .on_conflict(on_name().do_nothing().to_owned());
                        for name in &names {
                            let name = name.clone();
                            loader.push(Person { name, age: None }).await.unwrap();
                        }
                        loader.finish().await.unwrap();
                        tx.commit().await.unwrap();
                        people(db).await
                    });
                    let mut expected: Vec<String> = names.clone();
                    expected.sort();
                    expected.dedup();
                    let mut read: Vec<String> = read.into_iter().map(|(name, _)| name).collect();
                    read.sort();
                    prop_assert_eq!(read, expected, "{:?}", db.backend());
                }
                Ok(())
            })
            .unwrap();
        runtime.block_on(backends.finish());
    }
}
