//! `--redis`: the URL of the Redis server several nodes share (src/server/broker).

use crate::server::store::mask_password;

/// A Redis server's URL, as `--redis` takes it: `redis://[[user]:password@]host[:port][/db]`.
/// Shown (logs, errors, `Debug`) with its password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL itself, password included: for connecting, never for showing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(value)
            .map_err(|err| format!("not a Redis URL ({err}): {}", mask_password(value)))?;
        match parsed.scheme() {
            "redis" if parsed.host_str().is_some_and(|host| !host.is_empty()) => {
                Ok(RedisUrl(value.to_owned()))
            }
            "redis" => Err(format!("a Redis URL names a host: {}", mask_password(value))),
            "rediss" => Err("rediss:// (TLS) is not supported: reach Redis over a private network or a TLS tunnel, with redis://".into()),
            other => Err(format!("a Redis URL starts with redis://, not {other}://")),
        }
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&mask_password(&self.0))
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_url_is_checked_and_shown_without_its_password() {
        let url: RedisUrl = "redis://:hunter2@10.0.0.5:6380/1".parse().unwrap();
        assert_eq!(url.to_string(), "redis://:***@10.0.0.5:6380/1");
        assert!(!format!("{url:?}").contains("hunter2"));
        let err = "http://cache:6379".parse::<RedisUrl>().unwrap_err();
        assert!(err.contains("redis://"), "{err}");
        let err = "rediss://cache:6379".parse::<RedisUrl>().unwrap_err();
        assert!(err.contains("not supported"), "{err}");
        let err = "redis://:pw@".parse::<RedisUrl>().unwrap_err();
        assert!(!err.contains("pw"), "{err}");
        assert!("cache:6379".parse::<RedisUrl>().is_err());
    }
}
