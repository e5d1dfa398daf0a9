//! Server-driven heartbeats: notice a dead peer even when its TCP connection looks open.
//!
//! Every `interval` the connection task pings the client (a WebSocket Ping, which browsers and
//! libraries answer by themselves, plus a `{"type":"ping"}` frame the page answers to measure
//! round-trip time). Anything the client sends counts as a sign of life. If nothing has arrived
//! `timeout` after a ping went out, the peer is gone: a laptop lid closed, a proxy dropped the
//! socket, a NAT forgot the mapping.
//!
//! Connections that open together (every client coming back after a restart or a network
//! blip) would ping together for ever after, every interval a burst of thousands of frames and
//! timers. So each connection's first ping comes after a random part of the interval (see
//! [`first_ping_delay`]), and the interval keeps that phase from then on.

use std::time::Duration;

use tokio::time::Instant;

/// Default ping interval: below nginx's 60 s `proxy_read_timeout` and common 60 s idle
/// timeouts of load balancers, so a quiet chat is never cut by a proxy.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(25);
/// Default time a client has to answer: several round trips on a bad mobile link.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much earlier than a full interval a connection's first ping may come, as a share of
/// the interval. Half: the default 25 s interval spreads first pings over 12.5 s, so 1,000
/// connections opened at once ping about 8 per 100 ms instead of 1,000 in one.
pub const FIRST_PING_SPREAD: f64 = 0.5;

/// When a new connection's first ping is due: between `interval × (1 − FIRST_PING_SPREAD)`
/// and `interval`, placed by `random` (uniform in 0..1). Never later than the interval, so the
/// client's silence limit (interval plus timeout, from the welcome frame) still holds.
pub fn first_ping_delay(interval: Duration, random: f64) -> Duration {
    interval.mul_f64(1.0 - FIRST_PING_SPREAD * random.clamp(0.0, 1.0))
}

#[derive(Debug)]
pub struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    /// When the next ping is due.
    next_ping: Instant,
    /// Set when a ping is unanswered: the peer must be heard from by then.
    deadline: Option<Instant>,
}

/// What the connection task must do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Beat {
    /// Send a ping (and keep waiting).
    Ping,
    /// Nothing was heard in time: close the connection.
    Expired,
}

impl Heartbeat {
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        Heartbeat {
            interval,
            timeout,
            next_ping: now + interval,
            deadline: None,
        }
    }

    /// Like [`Heartbeat::new`], with the first ping due `first_ping` from `now` (see
    /// [`first_ping_delay`]) rather than a whole interval.
    pub fn with_first_ping(
        interval: Duration,
        timeout: Duration,
        first_ping: Duration,
        now: Instant,
    ) -> Self {
        Heartbeat {
            next_ping: now + first_ping,
            ..Heartbeat::new(interval, timeout, now)
        }
    }

    /// The next instant at which [`Heartbeat::due`] has something to say.
    pub fn wake_at(&self) -> Instant {
        match self.deadline {
            Some(deadline) => deadline.min(self.next_ping),
            None => self.next_ping,
        }
    }

    /// Called at [`Heartbeat::wake_at`]: whether to ping or to give up.
    pub fn due(&mut self, now: Instant) -> Option<Beat> {
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            return Some(Beat::Expired);
        }
        if now >= self.next_ping {
            self.next_ping = now + self.interval;
            // The first unanswered ping starts the clock; later pings do not extend it.
            self.deadline.get_or_insert(now + self.timeout);
            return Some(Beat::Ping);
        }
        None
    }

    /// The peer sent something: it is alive.
    pub fn heard(&mut self) {
        self.deadline = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(25);
    const T: Duration = Duration::from_secs(10);

    /// Sleeps (in paused time) until the heartbeat's next wake-up and asks it what to do.
    async fn next(heartbeat: &mut Heartbeat) -> (Duration, Option<Beat>) {
        let start = Instant::now();
        tokio::time::sleep_until(heartbeat.wake_at()).await;
        (start.elapsed(), heartbeat.due(Instant::now()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_pinged_after_h_and_expires_t_later() {
        let mut heartbeat = Heartbeat::new(H, T, Instant::now());
        assert_eq!(next(&mut heartbeat).await, (H, Some(Beat::Ping)));
        assert_eq!(next(&mut heartbeat).await, (T, Some(Beat::Expired)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answering_peer_never_expires() {
        let mut heartbeat = Heartbeat::new(H, T, Instant::now());
        for _ in 0..10 {
            assert_eq!(next(&mut heartbeat).await.1, Some(Beat::Ping));
            // It answers within the timeout.
            tokio::time::advance(Duration::from_secs(1)).await;
            heartbeat.heard();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_not_extended_by_later_pings() {
        // A timeout longer than the interval: a second ping goes out, but the clock started
        // at the first one.
        let mut heartbeat = Heartbeat::new(
            Duration::from_secs(5),
            Duration::from_secs(8),
            Instant::now(),
        );
        let start = Instant::now();
        assert_eq!(next(&mut heartbeat).await.1, Some(Beat::Ping)); // t = 5
        assert_eq!(next(&mut heartbeat).await.1, Some(Beat::Ping)); // t = 10
        assert_eq!(next(&mut heartbeat).await.1, Some(Beat::Expired)); // t = 13
        assert_eq!(start.elapsed(), Duration::from_secs(13));
    }

    #[test]
    fn first_pings_of_connections_opened_together_are_spread_over_half_the_interval() {
        let mut random = fastrand::Rng::with_seed(7);
        let mut per_100ms = std::collections::BTreeMap::<u128, usize>::new();
        for _ in 0..1_000 {
            let delay = first_ping_delay(H, random.f64());
            assert!(delay <= H && delay >= H / 2, "{delay:?}");
            *per_100ms.entry(delay.as_millis() / 100).or_default() += 1;
        }
        let busiest = per_100ms.values().max().unwrap();
        // Spread evenly, 1,000 over 125 slots is 8 a slot.
        assert!(*busiest <= 25, "{busiest} first pings fell in one 100 ms");
        assert!(
            per_100ms.len() >= 100,
            "only {} slots used",
            per_100ms.len()
        );
    }

    #[test]
    fn the_first_ping_delay_stays_within_the_interval_for_any_random_value() {
        assert_eq!(first_ping_delay(H, 0.0), H);
        assert_eq!(first_ping_delay(H, 1.0), H / 2);
        assert_eq!(first_ping_delay(H, 7.0), H / 2);
        assert_eq!(first_ping_delay(H, -1.0), H);
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_early_first_ping_the_interval_keeps_its_phase() {
        let first = Duration::from_secs(14);
        let mut heartbeat = Heartbeat::with_first_ping(H, T, first, Instant::now());
        assert_eq!(next(&mut heartbeat).await, (first, Some(Beat::Ping)));
        heartbeat.heard();
        assert_eq!(next(&mut heartbeat).await, (H, Some(Beat::Ping)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_peer_is_closed_within_h_plus_t_of_its_last_sign_of_life() {
        let mut heartbeat = Heartbeat::new(H, T, Instant::now());
        tokio::time::advance(Duration::from_secs(3)).await;
        heartbeat.heard(); // last sign of life, at t = 3
        let last_heard = Instant::now();
        loop {
            let (_, beat) = next(&mut heartbeat).await;
            if beat == Some(Beat::Expired) {
                break;
            }
        }
        assert!(last_heard.elapsed() <= H + T, "{:?}", last_heard.elapsed());
    }
}
