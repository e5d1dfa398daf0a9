//! Every route Huddle serves.

use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::app::{shell, App};
use crate::server::state::AppState;
use crate::server::{echo, history_api, origin, push_api, ws};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let mut router = Router::new()
        .route("/ws", get(ws::upgrade))
        .route(
            "/api/rooms/{room}/messages",
            get(history_api::messages).post(push_api::post_message),
        )
        .route("/api/notify", post(push_api::notify));
    if state.config.diagnostic_echo {
        router = router.route("/diagnostic/echo", get(echo::upgrade));
    }
    // Components and server functions reach the server's state through Leptos context.
    let context = state.clone();
    let provide_state = move || provide_context(context.clone());
    let options = state.leptos_options.clone();
    let allowed_origins = state.config.allowed_origins.clone();
    router
        .leptos_routes_with_context(&state, routes, provide_state, move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(move |request, next| {
            origin::refuse_cross_site_posts(allowed_origins.clone(), request, next)
        }))
        .with_state(state)
}
