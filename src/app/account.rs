//! Who you are here, and how to change it: log in or register (name and password), or log
//! out. Plain forms posting to server functions, so they work before hydration too; once
//! hydrated, success reloads the page so that it and its socket use the new session.

use leptos::prelude::*;

use crate::app::api::{Login, Logout, Register};
use crate::app::Chat;
use crate::protocol::MAX_NAME_CHARS;

#[component]
pub fn AccountPanel(account: bool, accounts_allowed: bool) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let login = ServerAction::<Login>::new();
    let register = ServerAction::<Register>::new();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        let done = matches!(login.value().get(), Some(Ok(_)))
            || matches!(register.value().get(), Some(Ok(_)))
            || matches!(logout.value().get(), Some(Ok(_)));
        if done {
            reload();
        }
    });
    let error = move || {
        [
            login.value().get().map(|r| r.map(|_| ())),
            register.value().get().map(|r| r.map(|_| ())),
        ]
        .into_iter()
        .flatten()
        .find_map(|r| r.err())
        .map(|err| {
            err.to_string()
                .replace("error running server function: ", "")
        })
    };
    let who = move || {
        chat.me.with(|me| match me {
            Some(me) if account => format!("Signed in as {}", me.name),
            Some(me) if chat.named.get() => format!("{} (guest)", me.name),
            _ => "Not signed in".to_owned(),
        })
    };
    view! {
        <section class="account" aria-label="Account">
            <p class="who" data-testid="who">{who}</p>
            <Show when=move || chat.named.get()>
                <ActionForm action=logout>
                    <button type="submit">"Log out"</button>
                </ActionForm>
            </Show>
            <Show when=move || accounts_allowed && !account>
                <details class="credentials">
                    <summary>"Log in or register"</summary>
                    <ActionForm action=login attr:class="login">
                        <Fields prefix="Login"/>
                        <button type="submit">"Log in"</button>
                    </ActionForm>
                    <ActionForm action=register attr:class="register">
                        <Fields prefix="Register"/>
                        <button type="submit">"Register"</button>
                    </ActionForm>
                    <p class="notice" role="alert">{error}</p>
                </details>
            </Show>
        </section>
    }
}

fn reload() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Name and password fields, shared by both forms.
#[component]
fn Fields(prefix: &'static str) -> impl IntoView {
    view! {
        <input
            type="text"
            name="name"
            aria-label=format!("{prefix} name")
            required
            maxlength=MAX_NAME_CHARS.to_string()
            autocomplete="username"
        />
        <input
            type="password"
            name="password"
            aria-label=format!("{prefix} password")
            required
            minlength="8"
            autocomplete=if prefix == "Register" { "new-password" } else { "current-password" }
        />
    }
}
