//! Huddle behind a real nginx running deploy/nginx.conf: one address, three nodes, no sticky
//! sessions. Sockets land on whichever node nginx picks and still share every room; a node
//! going away sends its clients back through nginx to another one, where they resume. The
//! nodes count sockets by the client's address that nginx forwards.

mod common;

use common::cluster::Cluster;
use common::nginx::TestNginx;
use common::{upgrade_from, Client, TestServer};
use futures_util::StreamExt;
use huddle::protocol::ServerFrame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn sockets_through_nginx_spread_over_the_nodes_and_share_one_room() {
    let cluster = Cluster::start(3).await;
    let nodes: Vec<_> = cluster.nodes.iter().map(|node| node.addr).collect();
    let nginx = TestNginx::start(&nodes);
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(Client::connect(&nginx.ws_url(), None).await);
    }
    // Round robin, no stickiness: every node holds some of them.
    let per_node: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|node| node.state.hub.member_count("lobby"))
        .collect();
    assert_eq!(per_node.iter().sum::<usize>(), 6, "{per_node:?}");
    assert!(per_node.iter().all(|&n| n >= 1), "{per_node:?}");
    for (i, client) in clients.iter_mut().enumerate() {
        client.say(&format!("c{i}"), "through nginx").await;
    }
    for client in &mut clients {
        let mut seqs = Vec::new();
        for _ in 0..6 {
            seqs.push(client.next_message().await.seq);
        }
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    }
}

#[tokio::test]
async fn the_page_and_a_browsers_socket_work_through_nginx() {
    let cluster = Cluster::start(2).await;
    let nodes: Vec<_> = cluster.nodes.iter().map(|node| node.addr).collect();
    let nginx = TestNginx::start(&nodes);
    let mut writer = Client::connect(&nginx.ws_url(), None).await;
    writer.say("w1", "rendered by some node").await;
    writer.ack_for("w1").await;
    // Each node renders the history, whichever one nginx picks.
    for _ in 0..2 {
        let page = reqwest::get(nginx.url("/")).await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("rendered by some node"));
    }
    // A browser page's socket carries its Origin: nginx passes the Host (with its port) on,
    // so the same-origin check sees the address the page came from.
    let mut request = nginx.ws_url().into_client_request().unwrap();
    let origin = format!("http://{}", nginx.addr);
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the upgrade is accepted");
    let first = socket.next().await.unwrap().unwrap();
    let frame: ServerFrame = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert!(matches!(frame, ServerFrame::Welcome { .. }), "{frame:?}");
}

#[tokio::test]
async fn clients_of_a_node_that_stops_resume_through_nginx_on_another_without_a_gap() {
    let mut cluster = Cluster::start(2).await;
    let nodes: Vec<_> = cluster.nodes.iter().map(|node| node.addr).collect();
    let nginx = TestNginx::start(&nodes);
    let mut first = Client::connect(&nginx.ws_url(), None).await;
    let mut second = Client::connect(&nginx.ws_url(), None).await;
    let on_node_0 = cluster.nodes[0].state.hub.local_presence()["lobby"].clone();
    assert_eq!(on_node_0.len(), 1, "round robin put one on each node");
    first.say("a", "before").await;
    let seen = second.next_message().await.seq;
    assert_eq!(seen, first.next_message().await.seq);

    // Node 0 goes away (a deploy): its client is told to come back later (1012), and comes
    // back through nginx, which sends it to the node that is left.
    let (mut gone, mut stayed) = if on_node_0[0] == first.me {
        (first, second)
    } else {
        (second, first)
    };
    cluster.nodes[0].shutdown().await.unwrap();
    let close = gone.close_frame().await;
    assert_eq!(u16::from(close.code), 1012);
    for i in 0..5 {
        stayed.say(&format!("while-{i}"), "meanwhile").await;
    }
    let mut gone = Client::connect(&nginx.ws_url(), None).await;
    let missed: Vec<u64> = gone.join(Some(seen)).await.iter().map(|m| m.seq).collect();
    let mut live = Vec::new();
    while missed.len() + live.len() < 5 {
        live.push(gone.next_message().await.seq);
    }
    let all: Vec<u64> = missed.into_iter().chain(live).collect();
    assert_eq!(all, (seen + 1..=seen + 5).collect::<Vec<u64>>());
}

/// Behind nginx every socket comes from nginx's address. With nginx named a trusted proxy,
/// each client is counted by the address nginx appends to `X-Forwarded-For`, and whatever a
/// client writes into that header itself cannot make it someone new.
#[tokio::test]
async fn behind_nginx_each_client_address_has_its_own_socket_cap() {
    let node = TestServer::start_with(|config| {
        config.max_sockets_per_address = 1;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let nginx = TestNginx::start(&[node.addr]);
    let url = nginx.ws_url();
    let _first = upgrade_from("127.0.0.2", &url, &[]).await.unwrap();
    let (status, why) = upgrade_from("127.0.0.2", &url, &[]).await.unwrap_err();
    assert_eq!(status, 429);
    assert!(why.contains("from this address"), "{why}");
    let (status, _) = upgrade_from("127.0.0.2", &url, &[("x-forwarded-for", "203.0.113.7")])
        .await
        .unwrap_err();
    assert_eq!(status, 429, "a forged header does not make a new client");
    let _other = upgrade_from("127.0.0.3", &url, &[]).await.unwrap();
    assert_eq!(node.state.sockets_per_address.holders(), 2);
}
