//! One browser WebSocket and the handlers it calls.
//!
//! A [`Link`] owns its handlers, and dropping it detaches them: a socket given up on (a
//! reconnect, a dead network) can still fire `close` or `message` in the browser, but
//! nothing of the page hears it. That is what lets the connection keep at most one link and
//! never ask whose event it is.

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// What a link's socket tells the connection. Each handler gets the link's number.
pub struct Handlers {
    pub on_open: Box<dyn Fn(u64)>,
    pub on_message: Box<dyn Fn(u64, String)>,
    pub on_close: Box<dyn Fn(u64, u16, String)>,
}

/// An opening or open socket, numbered so that timers set for it can tell whether it is
/// still the page's socket when they fire.
pub struct Link {
    pub id: u64,
    pub socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Link {
    /// Opens a socket to `url`. Text frames reach `on_message`; the page sends no binary.
    pub fn open(id: u64, url: &str, handlers: Handlers) -> Result<Link, JsValue> {
        let socket = WebSocket::new(url)?;
        let Handlers {
            on_open,
            on_message,
            on_close,
        } = handlers;
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_| on_open(id));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                on_message(id, text);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            on_close(id, event.code(), event.reason());
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Link {
            id,
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The socket object may outlive us in the browser; it must not call freed handlers.
        // A link may be dropped from inside its own handler (its close event ends it):
        // wasm-bindgen frees a closure that is running only once it returns.
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
    }
}

/// `ws://host/ws` or `wss://host/ws`, following the page's scheme.
pub fn socket_url() -> Result<String, JsValue> {
    let location = web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .location();
    let scheme = if location.protocol()? == "https:" {
        "wss:"
    } else {
        "ws:"
    };
    Ok(format!("{scheme}//{}/ws", location.host()?))
}
