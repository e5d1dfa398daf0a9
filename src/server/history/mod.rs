//! Writing history: group commit ([`committer`]), its pacing under fan-out
//! ([`commit_pacing`]), the wake-up from the commit thread ([`doorbell`]), and whether
//! commits are succeeding ([`commit_health`]).

pub mod commit_health;
pub mod commit_pacing;
pub mod committer;
pub mod doorbell;
