//! `/healthz` and `/readyz` on one node: alive and ready, not ready while draining, not ready
//! when the database does not answer. (Redis and a restarted PostgreSQL under several nodes:
//! tests/cluster.rs.)

mod common;

use common::{health as get, TestServer};

#[tokio::test]
async fn a_running_node_is_alive_and_ready_and_says_what_it_checked() {
    let server = TestServer::start().await;
    let (status, alive) = get(&server, "/healthz").await;
    assert_eq!((status, &alive["status"]), (200, &"alive".into()));
    let (status, ready) = get(&server, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["draining"], false);
    assert_eq!(ready["database"]["ok"], true, "{ready}");
    assert!(ready["database"]["ms"].as_f64().unwrap() >= 0.0);
    assert!(ready.get("redis").is_none(), "no --redis, no Redis check");
}

#[tokio::test]
async fn a_draining_node_is_not_ready_but_still_alive() {
    let mut server = TestServer::start().await;
    // A client that never answers the close keeps the drain going for its close timeout.
    let _stubborn = server.client().await;
    server.signal_shutdown();
    server.state.shutdown.begun().await;
    let (status, ready) = get(&server, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["status"], "not_ready");
    assert_eq!(ready["draining"], true);
    assert_eq!(ready["database"]["ok"], true, "only draining: {ready}");
    let (status, _) = get(&server, "/healthz").await;
    assert_eq!(
        status, 200,
        "a liveness probe must not kill a draining node"
    );
}

#[tokio::test]
async fn a_node_whose_database_does_not_answer_is_not_ready_and_says_why() {
    let server = TestServer::start().await;
    // The pool the server reads through, closed under it: no query gets an answer.
    server.state.store.close().await;
    let (status, ready) = get(&server, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["draining"], false);
    assert_eq!(ready["database"]["ok"], false);
    let error = ready["database"]["error"].as_str().unwrap();
    assert!(error.contains("the database does not answer"), "{error}");
    let (status, _) = get(&server, "/healthz").await;
    assert_eq!(status, 200);
}
