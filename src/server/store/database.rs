//! Which database a server keeps everything in, as `--database` names it: a SQLite file (a
//! plain path, or `sqlite:path`), the zero-configuration default, or a PostgreSQL server
//! (`postgres://` or `postgresql://`), which several nodes can share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created on first run.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (it may carry a password: see [`Database::fmt`]).
    Postgres(String),
}

impl FromStr for Database {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            // Checked now, so a typo is a flag error rather than a failure to connect.
            url::Url::parse(value)
                .map_err(|err| format!("not a PostgreSQL URL ({err}): {}", mask_password(value)))?;
            return Ok(Database::Postgres(value.to_owned()));
        }
        let path = match value.strip_prefix("sqlite:") {
            Some(path) => path.strip_prefix("//").unwrap_or(path),
            None => {
                if let Some((scheme, _)) = value.split_once("://") {
                    return Err(format!(
                        "unknown database scheme {scheme:?}: use a file path, sqlite:PATH or \
                         postgres://…"
                    ));
                }
                value
            }
        };
        if path.is_empty() {
            return Err("the database path is empty".into());
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    }
}

/// A URL as logs and errors may show it: its password, if any, replaced by `***`.
pub fn mask_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Cannot fail: the URL has a host, since it has a password.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Unparsable: hide whatever stands between "://" and the last '@'.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(start), Some(end)) if start + 3 < end => {
                format!("{}***{}", &url[..start + 3], &url[end..])
            }
            _ => url.to_owned(),
        },
    }
}

/// How the database is named in logs and errors: a file by its path, a server by its URL with
/// the password masked.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&mask_password(url)),
        }
    }
}

/// As [`fmt::Display`]: a `Config` printed with `{:?}` must not show a password either.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Self {
        Database::Sqlite(path.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Database {
        value.parse().unwrap()
    }

    #[test]
    fn a_plain_path_or_sqlite_url_is_a_sqlite_file() {
        assert_eq!(parse("huddle.db"), Database::Sqlite("huddle.db".into()));
        assert_eq!(
            parse("sqlite:data/h.db"),
            Database::Sqlite("data/h.db".into())
        );
        assert_eq!(
            parse("sqlite:///var/h.db"),
            Database::Sqlite("/var/h.db".into())
        );
        assert_eq!(parse(":memory:"), Database::Sqlite(":memory:".into()));
    }

    #[test]
    fn postgres_urls_of_either_spelling_are_postgres() {
        for url in ["postgres://h@db:5432/huddle", "postgresql://h@db/huddle"] {
            assert_eq!(parse(url), Database::Postgres(url.into()));
        }
    }

    #[test]
    fn a_password_is_never_shown() {
        let database = parse("postgres://huddle:s3cret@db:5432/huddle");
        assert_eq!(database.to_string(), "postgres://huddle:***@db:5432/huddle");
        assert!(!format!("{database:?}").contains("s3cret"));
        assert_eq!(
            parse("postgres://huddle@db/huddle").to_string(),
            "postgres://huddle@db/huddle"
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_reason_and_no_password() {
        let err = "postgres://huddle:s3cret@db:notaport/x"
            .parse::<Database>()
            .unwrap_err();
        assert!(err.contains("not a PostgreSQL URL"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err = "mysql://db/huddle".parse::<Database>().unwrap_err();
        assert!(err.contains("unknown database scheme \"mysql\""), "{err}");
        assert!("sqlite:".parse::<Database>().is_err());
        assert!("".parse::<Database>().is_err());
    }
}
