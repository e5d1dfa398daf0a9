//! Every route Huddle serves.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::LeptosRoutes;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::map_request_body::MapRequestBodyLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use crate::app::shell;
use crate::server::http::{
    assets, echo, form_redirect, health, history_api, language, origin, pages, push_api,
    security_headers, socket_admission,
};
use crate::server::state::AppState;

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", get(pages::lobby))
        .route("/r", get(pages::open_room))
        .route("/r/{room}", get(pages::room))
        .route("/lang/{tag}", get(language::switch))
        .route("/ws", get(socket_admission::upgrade))
        .route(
            "/api/rooms/{room}/messages",
            get(history_api::messages).post(push_api::post_message),
        )
        .route("/api/notify", post(push_api::notify))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest_service(
            &format!("/{}", state.leptos_options.site_pkg_dir),
            assets::package_files(&state.leptos_options),
        );
    if state.config.diagnostic_echo {
        router = router.route("/diagnostic/echo", get(echo::upgrade));
    }
    // Components and server functions reach the server's state through Leptos context.
    let context = state.clone();
    let provide_state = move || provide_context(context.clone());
    let options = state.leptos_options.clone();
    let allowed_origins = state.config.allowed_origins.clone();
    let hashed = state.leptos_options.hash_files;
    let reload_port = std::env::var("LEPTOS_WATCH").is_ok().then(|| {
        let options = &state.leptos_options;
        options.reload_external_port.unwrap_or(options.reload_port)
    });
    let request_timeout = state.config.request_timeout();
    let max_body_bytes = state.config.max_body_bytes;
    router
        // No page routes here (the pages have their own handlers): this registers the
        // server functions.
        .leptos_routes_with_context(&state, Vec::new(), provide_state, move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(security_headers::provide_request_nonce, shell))
        .layer(axum::middleware::map_response(
            form_redirect::without_empty_query,
        ))
        .layer(axum::middleware::from_fn(move |request, next| {
            assets::cache_headers(hashed, request, next)
        }))
        .layer(assets::compression())
        .layer(axum::middleware::from_fn(move |request, next| {
            origin::refuse_cross_site_posts(allowed_origins.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            security_headers::add(reload_port, request, next)
        }))
        // Bodies and handlers together within the request timeout: a body sent a byte at a
        // time, or a handler stuck on a database, gets 408 instead of holding on. (Heads
        // are bounded before this, by the server's header-read timeout.)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        // A body announced larger than the limit gets 413 unread; one that turns out larger
        // stops being read at the limit. The router wants its own body type back.
        .layer(MapRequestBodyLayer::new(Body::new))
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        // Every answer names its request (`x-request-id`, the caller's own if it sent one),
        // and so do the logs of handling it; spans at debug level, so info costs nothing.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|id| id.to_str().ok())
                        .unwrap_or_default();
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = request.uri().path(),
                        id
                    )
                })
                // Refusals and failures are logged where they happen, with their reason.
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
