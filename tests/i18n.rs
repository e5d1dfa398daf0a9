//! Chinese and English: the language a page is rendered in (the picked one from its cookie,
//! else the browser's `Accept-Language`, else English), the switch that picks and remembers
//! one, and the server's refusals said in the reader's language.

mod common;

use common::{browser, TestServer};

/// A page as a browser asking for `accept_language`, with `cookie`: its status and HTML.
async fn page(
    server: &TestServer,
    path: &str,
    accept_language: &str,
    cookie: &str,
) -> (u16, String) {
    let response = browser()
        .get(server.url(path))
        .header("accept-language", accept_language)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_chinese_browser_gets_the_room_in_chinese_and_an_english_one_in_english() {
    let server = TestServer::start().await;
    let (status, html) = page(&server, "/", "zh-CN,zh;q=0.9,en;q=0.8", "").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<html lang="zh-CN""#), "{html}");
    for words in [
        "正在连接…",
        "选择一个显示名称即可聊天：",
        "加入聊天",
        "聊天室",
        "在线",
    ] {
        assert!(html.contains(words), "{words:?} missing from {html}");
    }
    assert!(!html.contains("Join chat"), "{html}");

    let (_, html) = page(&server, "/", "en-GB,en;q=0.9", "").await;
    assert!(html.contains(r#"<html lang="en""#), "{html}");
    assert!(
        html.contains("Join chat") && !html.contains("加入聊天"),
        "{html}"
    );

    // Nothing Huddle speaks asked for: English.
    let (_, html) = page(&server, "/", "de-DE,fr;q=0.8", "").await;
    assert!(html.contains("Join chat"), "{html}");
}

#[tokio::test]
async fn the_switch_remembers_the_choice_and_goes_back_to_the_page() {
    let server = TestServer::start().await;
    let response = browser()
        .get(server.url("/lang/zh-CN?back=/r/rust"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/r/rust");
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.starts_with("huddle_lang=zh-CN;"), "{set_cookie}");
    assert!(set_cookie.contains("Max-Age=31536000"), "{set_cookie}");
    let cookie = common::cookie_pair(&set_cookie);

    // The picked language beats the browser's, on every page, until picked again.
    let (_, html) = page(&server, "/r/rust", "en-US,en", &cookie).await;
    assert!(
        html.contains(r#"<html lang="zh-CN""#) && html.contains("加入聊天"),
        "{html}"
    );
    // The page offers both, marking the one it speaks, each coming back here.
    assert!(html.contains(r#"href="/lang/en?back=/r/rust""#), "{html}");
    assert!(html.contains(r#"aria-current="true""#), "{html}");
    let (_, html) = page(&server, "/", "zh-CN", "huddle_lang=en").await;
    assert!(html.contains("Join chat"), "{html}");
}

#[tokio::test]
async fn the_switch_refuses_unknown_languages_and_never_sends_anyone_to_another_site() {
    let server = TestServer::start().await;
    let unknown = browser()
        .get(server.url("/lang/klingon?back=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.headers().get("set-cookie").is_none());
    let body = unknown.text().await.unwrap();
    assert!(body.contains("en, zh-CN"), "{body}");

    for back in [
        "//evil.example/",
        "https://evil.example/",
        "/%5Cevil.example",
        "",
    ] {
        let response = browser()
            .get(server.url(&format!("/lang/en?back={back}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{back}");
        assert_eq!(response.headers()["location"], "/", "{back}");
    }
}

#[tokio::test]
async fn refusals_are_said_in_the_readers_language() {
    let server = TestServer::start().await;
    let choose = |accept_language: &'static str| {
        reqwest::Client::new()
            .post(server.url("/api/choose_name"))
            .header("accept", "application/json")
            .header("accept-language", accept_language)
            .form(&[("name", "   ")])
            .send()
    };
    let chinese = choose("zh-CN").await.unwrap().text().await.unwrap();
    assert!(chinese.contains("显示名称须为 1 到 32 个字符"), "{chinese}");
    let english = choose("en").await.unwrap().text().await.unwrap();
    assert!(
        english.contains("a display name has 1 to 32 characters"),
        "{english}"
    );

    // A page that cannot be shown says why in Chinese, with the same status.
    let (status, html) = page(&server, "/r/Not%20A%20Room", "zh-CN", "").await;
    assert_eq!(status, 404);
    assert!(
        html.contains("无法加载此聊天室") && html.contains("不是聊天室名称"),
        "{html}"
    );

    // "Open a room" without JavaScript, with a name that breaks the rule.
    let (status, body) = page(&server, "/r?room=dm-x", "zh-CN", "").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("不能以 dm- 开头") && body.contains("“dm-x”"),
        "{body}"
    );

    // A refused plain post: sent back to the room with the reason, in Chinese.
    let cookie = server.guest_cookie("Mei").await;
    let response = browser()
        .post(server.url("/api/post_message"))
        .header("accept", "text/html")
        .header("accept-language", "zh-CN")
        .header("cookie", &cookie)
        .header("origin", format!("http://{}", server.addr))
        .header("referer", server.url("/"))
        .form(&[("room", "lobby"), ("text", "   "), ("client_id", "form-zh")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    let path = back.trim_start_matches(&server.url(""));
    let (_, html) = page(&server, path, "zh-CN", &cookie).await;
    assert!(html.contains("消息为空"), "{back}: {html}");
}
