//! Connections of the PostgreSQL store's pool, each with the statements it prepared.
//!
//! Every statement the store runs in a transaction goes through [`Tx`], which prepares
//! it once per connection and runs the prepared statement after: one round trip per
//! statement instead of two (a fresh statement is parsed and described before it runs),
//! and the server plans it from its cache. Search queries compiled from a filter vary;
//! the cache keeps the most recently used [`STATEMENTS`].

use hashlink::LruCache;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2::ManageConnection;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How many prepared statements a connection keeps.
const STATEMENTS: usize = 256;

/// A connection and the statements prepared on it, by their SQL.
pub(super) struct Conn {
    pub(super) client: Client,
    statements: LruCache<String, Statement>,
}

impl Conn {
    /// A transaction on this connection: read-only in `REPEATABLE READ` when `read_only`
    /// (one snapshot for every statement), else the default `READ COMMITTED`.
    pub(super) fn transaction(&mut self, read_only: bool) -> Result<Tx<'_>, postgres::Error> {
        let mut builder = self.client.build_transaction();
        if read_only {
            builder = builder
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true);
        }
        let tx = builder.start()?;
        Ok(Tx {
            tx,
            statements: &mut self.statements,
        })
    }
}

/// The pool's connection manager: r2d2_postgres's, with a statement cache per
/// connection.
pub(super) struct Manager(pub(super) PostgresConnectionManager<MakeRustlsConnect>);

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.0.connect()?,
            statements: LruCache::new(STATEMENTS),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// A transaction whose statements are prepared once per connection.
pub(super) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut LruCache<String, Statement>,
}

/// Parameters of a statement.
type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    /// The statement for `sql`, prepared on this connection before or now.
    fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Runs `sql` and returns its rows.
    pub(super) fn query(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.tx.query(&statement, params)
    }

    /// Runs `sql`, which returns exactly one row.
    pub(super) fn query_one(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Row, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.tx.query_one(&statement, params)
    }

    /// Runs `sql`, which returns at most one row.
    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.tx.query_opt(&statement, params)
    }

    /// Runs `sql` and returns how many rows it changed.
    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.tx.execute(&statement, params)
    }

    /// Commits the transaction.
    pub(super) fn commit(self) -> Result<(), postgres::Error> {
        self.tx.commit()
    }
}
