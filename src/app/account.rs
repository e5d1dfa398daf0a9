//! Who you are here, and how to change it: log in or register (name and password), or log
//! out. Plain forms posting to server functions, so they work before hydration too; once
//! hydrated, success reloads the page so that it and its socket use the new session.

use leptos::prelude::*;

use crate::app::api::{Login, Logout, Register};
use crate::app::Chat;
use crate::protocol::{MAX_NAME_CHARS, MIN_PASSWORD_CHARS};

#[component]
pub fn AccountPanel(account: bool, accounts_allowed: bool) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
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
    // Escape closes the panel from anywhere in it, and gives focus back to what opened it.
    let panel = NodeRef::<leptos::html::Details>::new();
    let opener = NodeRef::<leptos::html::Summary>::new();
    let close_on_escape = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() != "Escape" {
            return;
        }
        if let (Some(panel), Some(opener)) = (panel.get(), opener.get()) {
            if panel.has_attribute("open") {
                ev.prevent_default();
                let _ = panel.remove_attribute("open");
                let _ = opener.focus();
            }
        }
    };
    let who = move || {
        chat.me.with(|me| match me {
            Some(me) if account => (t.signed_in_as)(&me.name),
            Some(me) if chat.named.get() => (t.guest)(&me.name),
            _ => t.not_signed_in.to_owned(),
        })
    };
    view! {
        <section class="account" aria-label=t.account>
            <p class="who" data-testid="who">{who}</p>
            <Show when=move || chat.named.get()>
                <ActionForm action=logout>
                    <button type="submit">{t.log_out}</button>
                </ActionForm>
            </Show>
            <Show when=move || accounts_allowed && !account>
                <details class="credentials" node_ref=panel on:keydown=close_on_escape>
                    <summary node_ref=opener>{t.log_in_or_register}</summary>
                    <ActionForm action=login attr:class="login">
                        <Fields name=t.login_name password=t.login_password new_password=false/>
                        <button type="submit">{t.log_in}</button>
                    </ActionForm>
                    <ActionForm action=register attr:class="register">
                        <Fields
                            name=t.register_name
                            password=t.register_password
                            new_password=true
                        />
                        <button type="submit">{t.register}</button>
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

/// Name and password fields, shared by both forms: their labels, and whether the password is
/// a new one (for password managers).
#[component]
fn Fields(name: &'static str, password: &'static str, new_password: bool) -> impl IntoView {
    view! {
        <input
            type="text"
            name="name"
            aria-label=name
            required
            maxlength=MAX_NAME_CHARS.to_string()
            autocomplete="username"
        />
        <input
            type="password"
            name="password"
            aria-label=password
            required
            minlength=MIN_PASSWORD_CHARS.to_string()
            autocomplete=if new_password { "new-password" } else { "current-password" }
        />
    }
}
