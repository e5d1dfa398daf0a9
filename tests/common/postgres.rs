//! A real PostgreSQL server for the tests, and a database of its own for each test.
//!
//! The server is `HUDDLE_TEST_POSTGRES` (an administrator's URL) if set, else the throwaway
//! cluster `scripts/postgres.sh start` runs on loopback (started here if it is not running;
//! `scripts/setup.sh --test` installs PostgreSQL). Each test gets a fresh schema, named in its
//! URL's `search_path`: as separate as a database, and created in a millisecond.

use std::sync::OnceLock;

use huddle::server::store::Database;
use sqlx::{Connection, Executor, PgConnection};

/// Which engine the shared test harness gives servers: `HUDDLE_TEST_STORE=postgres` runs the
/// suite against PostgreSQL (scripts/test.sh runs it both ways); anything else, SQLite.
pub fn suite_uses_postgres() -> bool {
    std::env::var("HUDDLE_TEST_STORE").is_ok_and(|store| store == "postgres")
}

/// The URL of the test server's administrator, starting the server if it is not running.
pub fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("HUDDLE_TEST_POSTGRES") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres.sh");
        let output = std::process::Command::new(script)
            .arg("start")
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            output.status.success(),
            "scripts/postgres.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    })
}

/// A schema of its own on the test server, dropped with this value.
pub struct TestDatabase {
    pub url: String,
    schema: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(admin_url())
            .await
            .expect("the test PostgreSQL server answers");
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        let separator = if admin_url().contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{separator}options=-c%20search_path%3D{schema}",
            admin_url()
        );
        TestDatabase { url, schema }
    }

    pub fn database(&self) -> Database {
        Database::Postgres(self.url.clone())
    }

    /// Runs `sql` on this database, beside the server using it.
    pub async fn execute(&self, sql: &str) {
        let mut connection = PgConnection::connect(&self.url).await.unwrap();
        connection.execute(sql).await.unwrap();
        connection.close().await.unwrap();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which must not block on itself: a thread of its
        // own, joined so the schema is gone before the test ends.
        let schema = self.schema.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let mut admin = PgConnection::connect(admin_url()).await?;
                    admin
                        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                        .await?;
                    admin.close().await
                })
        });
        if let Err(err) = dropped.join().expect("dropping a test schema") {
            eprintln!("could not drop test schema {}: {err}", self.schema);
        }
    }
}

/// A PostgreSQL server of one test's own (scripts/postgres.sh on a port of its own), for a
/// test that stops the server under its nodes; removed when dropped.
pub struct OwnServer {
    port: u16,
    pub url: String,
}

impl OwnServer {
    pub fn start() -> OwnServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Self::script(port, "start");
        OwnServer { port, url }
    }

    /// Stops the server (fast shutdown: every connection is cut), keeping its data.
    pub fn halt(&self) {
        Self::script(self.port, "halt");
    }

    /// Starts it again after [`OwnServer::halt`].
    pub fn resume(&self) {
        Self::script(self.port, "start");
    }

    fn script(port: u16, command: &str) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres.sh");
        let output = std::process::Command::new(script)
            .arg(command)
            .env("HUDDLE_TEST_PG_PORT", port.to_string())
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            output.status.success(),
            "scripts/postgres.sh {command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        Self::script(self.port, "stop");
    }
}
