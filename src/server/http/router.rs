//! Every route Huddle serves.

use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::LeptosRoutes;

use crate::app::shell;
use crate::server::http::{
    assets, echo, form_redirect, health, history_api, language, origin, pages, push_api,
    socket_admission,
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
    router
        // No page routes here (the pages have their own handlers): this registers the
        // server functions.
        .leptos_routes_with_context(&state, Vec::new(), provide_state, move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
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
        .with_state(state)
}
