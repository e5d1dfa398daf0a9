//! A [`Store`] that counts what passes through it: committed batches (how many messages,
//! how long), messages stored, history read. The server wraps its message store in one, so
//! every caller is counted without any of them doing it.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::protocol::{ChatMessage, HistoryPage};
use crate::server::metrics::{HistoryQuery, Metrics};
use crate::server::store::{Appended, NewMessage, Store, StoreError};

pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        MeteredStore { inner, metrics }
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        let messages = batch.len();
        let started = Instant::now();
        let outcome = self.inner.append(batch).await;
        if let Ok(appended) = &outcome {
            self.metrics
                .commit_seconds
                .observe(started.elapsed().as_secs_f64());
            self.metrics.commit_batch_messages.observe(messages as f64);
            let stored = appended.iter().filter(|a| a.stored().is_some()).count();
            self.metrics.messages_stored.inc_by(stored as u64);
        }
        outcome
    }

    async fn heads(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.heads().await
    }

    async fn head(&self, room: &str) -> Result<u64, StoreError> {
        self.inner.head(room).await
    }

    async fn range(
        &self,
        room: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        self.metrics.history_query(HistoryQuery::Range);
        self.inner.range(room, after, up_to).await
    }

    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<HistoryPage, StoreError> {
        self.metrics.history_query(HistoryQuery::Page);
        self.inner.page(room, before, limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn probe_write(&self) -> Result<(), StoreError> {
        self.inner.probe_write().await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}
