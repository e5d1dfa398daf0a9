//! Several test nodes sharing rooms through a Redis of their own and history in one
//! PostgreSQL schema. Presence keys live 900 ms here (15 s by default), so a sweep of the
//! store for missed messages runs every 300 ms.

use std::sync::Arc;

use super::postgres::TestDatabase;
use super::redis::TestRedis;
use super::TestServer;

pub const PRESENCE_TTL_MS: u64 = 900;

pub struct Cluster {
    pub redis: TestRedis,
    pub database: Arc<TestDatabase>,
    pub nodes: Vec<TestServer>,
}

impl Cluster {
    pub async fn start(nodes: usize) -> Cluster {
        let redis = TestRedis::start();
        let database = Arc::new(TestDatabase::create().await);
        let mut cluster = Cluster {
            redis,
            database,
            nodes: Vec::new(),
        };
        for _ in 0..nodes {
            cluster.add_node().await;
        }
        cluster
    }

    pub async fn add_node(&mut self) -> &TestServer {
        let node = TestServer::start_node(&self.database, &self.redis.url(), |config| {
            config.redis_presence_ttl_ms = PRESENCE_TTL_MS;
            config.rate_limit_per_sec = 0;
        })
        .await;
        self.nodes.push(node);
        self.nodes.last().unwrap()
    }
}
