//! Browser sessions: a row per signed-in browser (guest or account).
//!
//! Every page render and socket upgrade of a person with a cookie looks the session up in the
//! table (an indexed read, well under a millisecond). Nothing is cached: a cache would keep a
//! logged-out session alive on every other node sharing the database, and a lookup racing the
//! logout could put it back.

use std::sync::Arc;

use super::signing::random_token;
use super::{Identity, IdentityKind};
use crate::protocol::User;
use crate::server::store::{IdentityStore, StoreError};

pub struct Sessions {
    identities: Arc<dyn IdentityStore>,
}

impl Sessions {
    pub fn new(identities: Arc<dyn IdentityStore>) -> Self {
        Sessions { identities }
    }

    /// Starts a session for `user`; returns its id (for the cookie).
    pub async fn create(&self, user: &User, kind: IdentityKind) -> Result<String, StoreError> {
        let id = random_token();
        self.identities.insert_session(&id, user, kind).await?;
        Ok(id)
    }

    /// The identity of session `id`, if it exists.
    pub async fn resolve(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        let Some((user, kind)) = self.identities.session(id).await? else {
            return Ok(None);
        };
        Ok(Some(Identity {
            user,
            kind,
            session: Some(id.to_owned()),
        }))
    }

    /// A guest picked another display name.
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), StoreError> {
        self.identities.rename_session(id, name).await
    }

    /// Ends session `id`: its cookie no longer works, here or on any node.
    pub async fn revoke(&self, id: &str) -> Result<(), StoreError> {
        self.identities.delete_session(id).await
    }
}
