//! The store's promises, held by both engines: a SQLite file and a real PostgreSQL server
//! (tests/common/postgres.rs). Then what only a shared database has to hold: several nodes
//! writing the same room at once, and a retry reaching another node.

mod common;

use std::collections::HashSet;

use common::postgres::TestDatabase;
use huddle::protocol::{RoomKind, User};
use huddle::server::store::identities::IdentityKind;
use huddle::server::store::{self, Appended, Database, NewMessage, Stores};

/// One engine's stores on a fresh database, and what keeps that database alive.
struct Engine {
    name: &'static str,
    stores: Stores,
    database: Database,
    _keep: Box<dyn std::any::Any>,
}

async fn sqlite() -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::Sqlite(dir.path().join("huddle.db"));
    Engine {
        name: "sqlite",
        stores: store::open(&database).await.unwrap(),
        database,
        _keep: Box::new(dir),
    }
}

async fn postgres() -> Engine {
    let test_database = TestDatabase::create().await;
    let database = test_database.database();
    Engine {
        name: "postgres",
        stores: store::open(&database).await.unwrap(),
        database,
        _keep: Box::new(test_database),
    }
}

async fn engines() -> Vec<Engine> {
    vec![sqlite().await, postgres().await]
}

fn user(id: &str) -> User {
    User {
        id: id.into(),
        name: id.to_uppercase(),
    }
}

fn new_message(room: &str, author: &str, client_id: &str, text: &str) -> NewMessage {
    NewMessage {
        room: room.into(),
        id: uuid::Uuid::now_v7().to_string(),
        client_id: client_id.into(),
        user: user(author),
        text: text.into(),
        ts: 1_700_000_000_000,
    }
}

fn seqs(outcomes: &[Appended]) -> Vec<u64> {
    outcomes.iter().map(|o| o.message().seq).collect()
}

#[tokio::test]
async fn seqs_grow_per_room_from_one() {
    for engine in engines().await {
        let store = &engine.stores.messages;
        let first = store
            .append(vec![
                new_message("a", "u", "1", "x"),
                new_message("b", "u", "2", "x"),
                new_message("a", "u", "3", "x"),
            ])
            .await
            .unwrap();
        assert_eq!(seqs(&first), [1, 1, 2], "{}", engine.name);
        let second = store
            .append(vec![new_message("a", "u", "4", "x")])
            .await
            .unwrap();
        assert_eq!(seqs(&second), [3], "{}", engine.name);
        let mut heads = store.heads().await.unwrap();
        heads.sort();
        assert_eq!(
            heads,
            [("a".to_owned(), 3), ("b".to_owned(), 1)],
            "{}",
            engine.name
        );
    }
}

#[tokio::test]
async fn a_repeated_client_id_is_stored_once_and_answered_with_the_first_copy() {
    for engine in engines().await {
        let store = &engine.stores.messages;
        let first = store
            .append(vec![new_message("a", "u", "c1", "hello")])
            .await
            .unwrap();
        let again = store
            .append(vec![
                new_message("a", "u", "c1", "hello"),
                new_message("a", "u", "c2", "next"),
                new_message("a", "u", "c2", "next"),
            ])
            .await
            .unwrap();
        assert_eq!(again[0], Appended::Duplicate(first[0].message().clone()));
        assert!(matches!(again[1], Appended::Stored(_)), "{}", engine.name);
        assert_eq!(again[2], Appended::Duplicate(again[1].message().clone()));
        assert_eq!(seqs(&again), [1, 2, 2], "{}", engine.name);
        assert_eq!(store.range("a", 0, 100).await.unwrap().len(), 2);
        // Another author's client id is theirs: a different message.
        let other = store
            .append(vec![new_message("a", "v", "c1", "mine")])
            .await
            .unwrap();
        assert!(matches!(other[0], Appended::Stored(_)), "{}", engine.name);
    }
}

#[tokio::test]
async fn a_failed_batch_stores_nothing_and_the_next_batch_continues_the_seqs() {
    for engine in engines().await {
        let store = &engine.stores.messages;
        store
            .append(vec![new_message("a", "u", "1", "x")])
            .await
            .unwrap();
        // Two messages with one server id: the UNIQUE index fails the whole transaction.
        let first = new_message("a", "u", "2", "x");
        let mut twin = new_message("a", "u", "3", "x");
        twin.id = first.id.clone();
        let err = store.append(vec![first, twin]).await.unwrap_err();
        assert!(
            err.to_string().contains("database"),
            "{}: {err}",
            engine.name
        );
        let next = store
            .append(vec![new_message("a", "u", "4", "x")])
            .await
            .unwrap();
        assert_eq!(
            seqs(&next),
            [2],
            "{}: the failed batch took no seqs",
            engine.name
        );
        assert_eq!(store.range("a", 0, 10).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn pages_go_backwards_oldest_first() {
    for engine in engines().await {
        let store = &engine.stores.messages;
        let batch = (1..=5)
            .map(|n| new_message("a", "u", &n.to_string(), &n.to_string()))
            .collect();
        store.append(batch).await.unwrap();
        let latest = store.page("a", None, 2).await.unwrap();
        let texts: Vec<_> = latest.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["4", "5"], "{}", engine.name);
        assert!(latest.has_more);
        let older = store.page("a", Some(4), 10).await.unwrap();
        let older: Vec<_> = older.messages.iter().map(|m| m.seq).collect();
        assert_eq!(older, [1, 2, 3], "{}", engine.name);
        let range: Vec<_> = store
            .range("a", 2, 4)
            .await
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(range, [3, 4], "{}", engine.name);
        assert!(store
            .page("empty", None, 10)
            .await
            .unwrap()
            .messages
            .is_empty());
    }
}

#[tokio::test]
async fn text_of_any_script_and_markup_comes_back_as_written() {
    for engine in engines().await {
        let store = &engine.stores.messages;
        let text = "你好 <b>'x'</b> \"; DROP TABLE messages; -- 🎉 \u{200b}";
        store
            .append(vec![new_message("a", "u", "1", text)])
            .await
            .unwrap();
        assert_eq!(
            store.range("a", 0, 1).await.unwrap()[0].text,
            text,
            "{}",
            engine.name
        );
    }
}

#[tokio::test]
async fn history_survives_reopening_the_database() {
    for engine in engines().await {
        engine
            .stores
            .messages
            .append(vec![new_message("a", "u", "1", "kept")])
            .await
            .unwrap();
        engine.stores.close().await;
        let reopened = store::open(&engine.database).await.unwrap();
        let kept = reopened.messages.range("a", 0, 10).await.unwrap();
        assert_eq!(kept[0].text, "kept", "{}", engine.name);
        let next = reopened
            .messages
            .append(vec![new_message("a", "u", "2", "next")])
            .await
            .unwrap();
        assert_eq!(seqs(&next), [2], "{}", engine.name);
    }
}

#[tokio::test]
async fn rooms_members_and_read_positions() {
    for engine in engines().await {
        let rooms = &engine.stores.rooms;
        let (ada, bob) = (user("ada"), user("bob"));
        assert_eq!(rooms.kind("general").await.unwrap(), None);
        rooms.insert_public("general").await.unwrap();
        rooms.insert_public("general").await.unwrap();
        assert_eq!(rooms.kind("general").await.unwrap(), Some(RoomKind::Public));
        rooms.add_member("general", &ada).await.unwrap();
        rooms.add_member("general", &ada).await.unwrap();
        rooms.insert_dm("dm-ada-bob", [&ada, &bob]).await.unwrap();
        let mut members = rooms.member_ids("dm-ada-bob").await.unwrap();
        members.sort();
        assert_eq!(members, ["ada", "bob"], "{}", engine.name);

        rooms.mark_read("general", "ada", 5).await.unwrap();
        rooms.mark_read("general", "ada", 3).await.unwrap();
        let list = rooms.memberships("ada").await.unwrap();
        assert_eq!(list.len(), 2, "{}", engine.name);
        assert_eq!(list[0].room, "dm-ada-bob");
        assert_eq!(list[0].kind, RoomKind::Dm);
        assert_eq!(list[0].with, Some(bob.clone()), "{}", engine.name);
        assert_eq!(list[1].room, "general");
        assert_eq!(
            list[1].last_read, 5,
            "{}: read positions never go back",
            engine.name
        );
        assert_eq!(list[1].with, None);

        rooms.remove_member("general", "ada").await.unwrap();
        assert_eq!(rooms.memberships("ada").await.unwrap().len(), 1);
        assert!(!rooms.has_messages("general").await.unwrap());
        engine
            .stores
            .messages
            .append(vec![new_message("general", "ada", "1", "hi")])
            .await
            .unwrap();
        assert!(
            rooms.has_messages("general").await.unwrap(),
            "{}",
            engine.name
        );
    }
}

#[tokio::test]
async fn accounts_sessions_and_the_cookie_key() {
    for engine in engines().await {
        let identities = &engine.stores.identities;
        let ada = user("ada");
        assert!(identities.insert_account(&ada, "hash").await.unwrap());
        let twin = User {
            id: "other".into(),
            name: "ADA".into(),
        };
        assert!(
            !identities.insert_account(&twin, "hash").await.unwrap(),
            "{}: names are unique regardless of case",
            engine.name
        );
        let (found, hash) = identities.account_by_name("aDa").await.unwrap().unwrap();
        assert_eq!(
            (found, hash.as_str()),
            (ada.clone(), "hash"),
            "{}",
            engine.name
        );
        assert!(identities
            .account_by_name("nobody")
            .await
            .unwrap()
            .is_none());

        identities
            .insert_session("s1", &ada, IdentityKind::Account)
            .await
            .unwrap();
        identities.rename_session("s1", "Ada L").await.unwrap();
        let (who, kind) = identities.session("s1").await.unwrap().unwrap();
        assert_eq!((who.name.as_str(), kind), ("Ada L", IdentityKind::Account));
        identities.delete_session("s1").await.unwrap();
        assert!(
            identities.session("s1").await.unwrap().is_none(),
            "{}",
            engine.name
        );

        let guest = user("g1");
        identities
            .insert_session("s2", &guest, IdentityKind::Guest)
            .await
            .unwrap();
        let rooms = &engine.stores.rooms;
        assert_eq!(
            rooms.find_user("g1").await.unwrap(),
            Some(guest),
            "{}",
            engine.name
        );
        assert_eq!(
            rooms.find_user("ada").await.unwrap(),
            Some(ada),
            "{}",
            engine.name
        );
        assert_eq!(rooms.find_user("nobody").await.unwrap(), None);

        let key = identities.cookie_key(vec![1, 2, 3]).await.unwrap();
        assert_eq!(key, [1, 2, 3], "{}", engine.name);
        let kept = identities.cookie_key(vec![9, 9, 9]).await.unwrap();
        assert_eq!(kept, [1, 2, 3], "{}: the first key is kept", engine.name);
    }
}

#[tokio::test]
async fn api_tokens() {
    for engine in engines().await {
        let tokens = &engine.stores.tokens;
        assert!(tokens.insert_token("deploys", "h1").await.unwrap());
        assert!(!tokens.insert_token("deploys", "h2").await.unwrap());
        assert!(tokens.insert_token("alerts", "h3").await.unwrap());
        assert_eq!(
            tokens.token_names().await.unwrap().len(),
            2,
            "{}",
            engine.name
        );
        assert_eq!(
            tokens.token_name("h3").await.unwrap().as_deref(),
            Some("alerts")
        );
        assert!(tokens.delete_token("alerts").await.unwrap());
        assert!(!tokens.delete_token("alerts").await.unwrap());
        assert_eq!(
            tokens.token_name("h3").await.unwrap(),
            None,
            "{}",
            engine.name
        );
    }
}

/// Three nodes on one PostgreSQL database, each storing batches into the same two rooms as
/// fast as it can: every seq of a room is given once, with none skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_writing_one_room_at_once_share_one_gap_free_sequence() {
    let database = TestDatabase::create().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(store::open(&database.database()).await.unwrap());
    }
    let writers: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(node, stores)| {
            let messages = stores.messages.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for batch in 0..40 {
                    let outcomes = messages
                        .append(
                            (0..5)
                                .map(|n| {
                                    let room = if n % 2 == 0 { "a" } else { "b" };
                                    let id = format!("{node}-{batch}-{n}");
                                    new_message(room, &format!("node{node}"), &id, &id)
                                })
                                .collect(),
                        )
                        .await
                        .expect("a batch racing other nodes is stored");
                    seqs.extend(outcomes.iter().map(|o| {
                        let message = o.stored().expect("nothing here is a retry");
                        (message.room.clone(), message.seq)
                    }));
                }
                seqs
            })
        })
        .collect();
    let mut given = HashSet::new();
    for writer in writers {
        for seq in writer.await.unwrap() {
            assert!(given.insert(seq.clone()), "seq {seq:?} given twice");
        }
    }
    let stored = nodes[0].messages.range("a", 0, u64::MAX).await.unwrap();
    let expected: Vec<u64> = (1..=360).collect();
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), expected);
    let stored = nodes[1].messages.range("b", 0, u64::MAX).await.unwrap();
    assert_eq!(stored.len(), 240);
    assert_eq!(stored.last().unwrap().seq, 240, "no gap in b");
}

/// A retry of one send reaching two nodes at the same moment (the client gave up on the first
/// and reconnected to the second): stored once, and both answer with the same seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_landing_on_another_node_is_stored_once_with_its_first_seq() {
    let database = TestDatabase::create().await;
    let first = store::open(&database.database()).await.unwrap();
    let second = store::open(&database.database()).await.unwrap();
    for attempt in 0..20 {
        let client_id = format!("retry-{attempt}");
        let send = new_message("a", "ada", &client_id, "once");
        let mut resent = send.clone();
        resent.id = uuid::Uuid::now_v7().to_string();
        let (one, two) = tokio::join!(
            first.messages.append(vec![send]),
            second.messages.append(vec![resent])
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one[0].message().seq, two[0].message().seq);
        assert_eq!(one[0].message().id, two[0].message().id);
        let stored_now = [&one[0], &two[0]]
            .iter()
            .filter(|o| o.stored().is_some())
            .count();
        assert_eq!(stored_now, 1, "exactly one node stored attempt {attempt}");
    }
    let stored = first.messages.range("a", 0, u64::MAX).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_a_clear_error_without_its_password() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database: Database = format!("postgres://huddle:s3cret@127.0.0.1:{port}/huddle")
        .parse()
        .unwrap();
    let err = match store::open(&database).await {
        Err(err) => err.to_string(),
        Ok(_) => panic!("nothing listens there"),
    };
    assert!(err.contains("database error"), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
