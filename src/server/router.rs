//! Every route Huddle serves.

use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::app::{shell, App};
use crate::server::state::AppState;
use crate::server::{echo, ws};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let mut router = Router::new().route("/ws", get(ws::upgrade));
    if state.config.diagnostic_echo {
        router = router.route("/diagnostic/echo", get(echo::upgrade));
    }
    // Components and server functions reach the hub through Leptos context.
    let hub = state.hub.clone();
    let provide_hub = move || provide_context(hub.clone());
    let options = state.leptos_options.clone();
    router
        .leptos_routes_with_context(&state, routes, provide_hub, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}
