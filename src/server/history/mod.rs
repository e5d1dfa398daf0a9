//! Writing history: group commit ([`committer`]), its pacing under fan-out
//! ([`commit_pacing`]), and the wake-up from the commit thread ([`doorbell`]).

pub mod commit_pacing;
pub mod committer;
pub mod doorbell;
