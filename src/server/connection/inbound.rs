//! Turning a client's text frame into a request the hub understands, or a clear refusal.

use crate::i18n::Problem;
use crate::protocol::{
    check_client_id, check_room_name, check_text, ClientFrame, ErrorCode, ServerFrame, LOBBY,
};

/// A validated client frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Send(SendRequest),
    Join {
        room: String,
        since: Option<u64>,
    },
    Ping {
        t: i64,
    },
    /// An answer to our ping: a sign of life and nothing more.
    Pong,
    Leave {
        room: String,
    },
    Typing {
        room: String,
    },
    Read {
        room: String,
        seq: u64,
    },
    OpenDm {
        user: String,
    },
}

/// A validated request to post a message.
#[derive(Debug, PartialEq, Eq)]
pub struct SendRequest {
    pub room: String,
    /// `None` for plain-text frames: the server then picks one.
    pub client_id: Option<String>,
    pub text: String,
}

/// A refused frame: what to tell the client.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_frame_json(&self) -> String {
        ServerFrame::Error {
            code: self.code,
            message: self.message.clone(),
        }
        .to_json()
    }
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Self {
        Refusal::new(code, Problem::Refused(code).to_string())
    }
}

/// Parses one text frame.
///
/// A frame whose first non-blank character is `{` is JSON and must be a valid protocol frame;
/// anything else is plain text posted to the lobby, so `ws.send("hi")` or websocat can chat.
pub fn parse_text_frame(frame: &str) -> Result<Request, Refusal> {
    if !frame.trim_start().starts_with('{') {
        check_text(frame)?;
        return Ok(Request::Send(SendRequest {
            room: LOBBY.to_owned(),
            client_id: None,
            text: frame.to_owned(),
        }));
    }
    // The happy path parses once; only a refused frame is parsed again to say why.
    match serde_json::from_str::<ClientFrame>(frame).map_err(|_| diagnose(frame))? {
        ClientFrame::Send {
            room,
            client_id,
            text,
        } => {
            check_room_name(&room)?;
            check_client_id(&client_id)?;
            check_text(&text)?;
            Ok(Request::Send(SendRequest {
                room,
                client_id: Some(client_id),
                text,
            }))
        }
        ClientFrame::Join { room, since } => {
            check_room_name(&room)?;
            Ok(Request::Join { room, since })
        }
        ClientFrame::Ping { t } => Ok(Request::Ping { t }),
        ClientFrame::Pong { .. } => Ok(Request::Pong),
        ClientFrame::Leave { room } => {
            check_room_name(&room)?;
            Ok(Request::Leave { room })
        }
        ClientFrame::Typing { room } => {
            check_room_name(&room)?;
            Ok(Request::Typing { room })
        }
        ClientFrame::Read { room, seq } => {
            check_room_name(&room)?;
            Ok(Request::Read { room, seq })
        }
        ClientFrame::OpenDm { user } => {
            // No user id holds a NUL, and PostgreSQL could not even look one up.
            if user.is_empty() || user.len() > 64 || user.contains('\0') {
                return Err(Refusal::new(
                    ErrorCode::UnknownUser,
                    "\"user\" must be a user id (1 to 64 bytes, without U+0000)",
                ));
            }
            Ok(Request::OpenDm { user })
        }
    }
}

/// Says precisely why `frame` is not a valid [`ClientFrame`].
fn diagnose(frame: &str) -> Refusal {
    let value: serde_json::Value = match serde_json::from_str(frame) {
        Ok(value) => value,
        Err(err) => {
            return Refusal::new(ErrorCode::MalformedJson, format!("malformed JSON: {err}"))
        }
    };
    let kind = match value.get("type").and_then(|t| t.as_str()) {
        Some(
            kind @ ("send" | "join" | "ping" | "pong" | "leave" | "typing" | "read" | "open_dm"),
        ) => kind.to_owned(),
        Some(other) => {
            return Refusal::new(
                ErrorCode::UnknownType,
                format!("unknown frame type {other:?}"),
            )
        }
        None => return Refusal::new(ErrorCode::UnknownType, "frame has no string \"type\" field"),
    };
    if kind == "join" || kind == "read" {
        let field = if kind == "join" { "since" } else { "seq" };
        if let Some(seq) = value.get(field).filter(|s| !s.is_null()) {
            if seq.as_u64().is_none() {
                return Refusal::new(
                    ErrorCode::InvalidSeq,
                    format!("\"{field}\" must be a non-negative integer seq, got {seq}"),
                );
            }
        }
    }
    let detail = serde_json::from_value::<ClientFrame>(value)
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default();
    Refusal::new(
        ErrorCode::InvalidFrame,
        format!("invalid {kind:?} frame: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(frame: &str) -> ErrorCode {
        parse_text_frame(frame).unwrap_err().code
    }

    #[test]
    fn plain_text_goes_to_the_lobby() {
        let Request::Send(req) = parse_text_frame("hi there").unwrap() else {
            panic!("expected a send")
        };
        assert_eq!(req.room, LOBBY);
        assert_eq!(req.client_id, None);
        assert_eq!(req.text, "hi there");
    }

    #[test]
    fn json_send_is_accepted() {
        let Request::Send(req) =
            parse_text_frame(r#" {"type":"send","room":"r","client_id":"c","text":"x"}"#).unwrap()
        else {
            panic!("expected a send")
        };
        assert_eq!(req.client_id.as_deref(), Some("c"));
        assert_eq!(req.room, "r");
    }

    #[test]
    fn join_is_accepted_with_or_without_since() {
        assert_eq!(
            parse_text_frame(r#"{"type":"join","room":"lobby","since":4}"#).unwrap(),
            Request::Join {
                room: "lobby".into(),
                since: Some(4)
            }
        );
        assert_eq!(
            parse_text_frame(r#"{"type":"join","room":"lobby"}"#).unwrap(),
            Request::Join {
                room: "lobby".into(),
                since: None
            }
        );
    }

    #[test]
    fn a_bad_since_is_an_invalid_seq() {
        for since in ["-1", "\"7\"", "1.5", "[]"] {
            let frame = format!(r#"{{"type":"join","room":"lobby","since":{since}}}"#);
            assert_eq!(code(&frame), ErrorCode::InvalidSeq, "{frame}");
        }
        assert_eq!(code(r#"{"type":"join"}"#), ErrorCode::InvalidFrame);
    }

    #[test]
    fn each_bad_frame_gets_its_own_code() {
        assert_eq!(code("{oops"), ErrorCode::MalformedJson);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"room":"lobby"}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"send","room":"lobby","text":"x"}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"send","room":"lobby","client_id":"c","text":7}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"send","room":"lobby","client_id":"","text":"x"}"#),
            ErrorCode::InvalidClientId
        );
        assert_eq!(
            code(r#"{"type":"send","room":"lobby","client_id":"c","text":"  "}"#),
            ErrorCode::EmptyText
        );
        assert_eq!(code("   "), ErrorCode::EmptyText);
        assert_eq!(code(&"a".repeat(5_000)), ErrorCode::TextTooLong);
        assert_eq!(code("a\0b"), ErrorCode::NulInText);
        assert_eq!(
            code(r#"{"type":"send","room":"lobby","client_id":"c\u0000","text":"x"}"#),
            ErrorCode::InvalidClientId
        );
        assert_eq!(
            code(r#"{"type":"open_dm","user":"u\u0000"}"#),
            ErrorCode::UnknownUser
        );
    }

    #[test]
    fn room_names_are_checked_on_join_and_send() {
        let long = "r".repeat(65);
        for room in ["", "Lobby", "a b", "../x", "caf\u{e9}", long.as_str()] {
            let join = format!(r#"{{"type":"join","room":"{room}"}}"#);
            assert_eq!(code(&join), ErrorCode::InvalidRoom, "{join}");
            let send = format!(r#"{{"type":"send","room":"{room}","client_id":"c","text":"x"}}"#);
            assert_eq!(code(&send), ErrorCode::InvalidRoom, "{send}");
        }
        let longest = "r".repeat(64);
        for room in ["a", "team-42_x", longest.as_str()] {
            let join = format!(r#"{{"type":"join","room":"{room}"}}"#);
            assert!(parse_text_frame(&join).is_ok(), "{join}");
        }
    }

    #[test]
    fn refusal_frame_is_protocol_json() {
        let json = Refusal::from(ErrorCode::EmptyText).to_frame_json();
        assert!(
            json.starts_with(r#"{"type":"error","code":"empty_text""#),
            "{json}"
        );
    }
}
