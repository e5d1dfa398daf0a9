//! Whose request this is, by network address: the TCP peer's, or the one a trusted proxy
//! forwards in `X-Forwarded-For`.
//!
//! Per-address limits count by this address. Behind nginx every request comes from nginx, so
//! without the forwarded address all clients would share one count; but any client can write
//! an `X-Forwarded-For` header, so it is believed only when the peer that sent it is one of
//! the configured `--trusted-proxies`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use ipnet::IpNet;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// One `--trusted-proxies` entry: an address (`10.0.0.5`, `::1`) or a network
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(network) = text.parse::<IpNet>() {
            return Ok(TrustedProxy(network.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|address| TrustedProxy(IpNet::from(address)))
            .map_err(|_| {
                format!("{text:?} is not an IP address or network (such as 10.0.0.5 or 10.0.0.0/8)")
            })
    }
}

impl TrustedProxy {
    fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&canonical(address))
    }
}

/// The client a request is from: the peer, unless the peer is a trusted proxy, in which case
/// `X-Forwarded-For` is read from its right end — each proxy appends the address it got the
/// request from — past every trusted proxy, to the first address that is not one. A
/// malformed entry ends the walk: what lies left of it cannot be told apart from a forgery.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        if trusted.is_empty() && headers.contains_key(FORWARDED_FOR) {
            warn_once_about_untrusted_forwarding(client);
        }
        return client;
    }
    let hops = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Some(address) = parse_hop(hop) else {
            break;
        };
        client = address;
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// What per-address limits count by: the address itself for IPv4, its /64 network for IPv6,
/// since one subscriber is routinely given a whole /64 and could otherwise take a fresh
/// address for every socket.
pub fn quota_key(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

/// An IPv4 client seen through a dual-stack socket (`::ffff:1.2.3.4`) is the IPv4 client.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[::1]:5678`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(canonical)
}

/// With no `--trusted-proxies` set, a forwarded header most likely means Huddle runs behind a
/// proxy that was not named, and every client is counted as that proxy. Said once, not per
/// request.
fn warn_once_about_untrusted_forwarding(peer: IpAddr) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "a request came with X-Forwarded-For, but no --trusted-proxies are set: per-address \
             limits count it as {peer}; if this is your reverse proxy, name it in --trusted-proxies"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|entry| entry.parse().unwrap()).collect()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &[]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
        let headers = forwarded(&["203.0.113.9"]);
        let trusted = proxies(&["10.0.0.5"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &trusted),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_and_the_rightmost_untrusted_hop_is_the_client() {
        // The client forged the first entry; nginx appended the address it really came from.
        let headers = forwarded(&["6.6.6.6, 203.0.113.9"]);
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_past_in_one_header_or_several() {
        let trusted = proxies(&["10.0.0.0/8", "::1"]);
        let one = forwarded(&["203.0.113.9, 10.1.1.1, 10.2.2.2"]);
        assert_eq!(client_address(ip("::1"), &one, &trusted), ip("203.0.113.9"));
        let several = forwarded(&["203.0.113.9", "10.1.1.1"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &several, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_without_the_header_or_with_only_proxies_in_it() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &HeaderMap::new(), &trusted),
            ip("10.0.0.5")
        );
        let only_proxies = forwarded(&["10.9.9.9"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &only_proxies, &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn a_malformed_entry_stops_the_walk_at_the_last_address_that_could_be_trusted() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["203.0.113.9, not-an-address, 10.1.1.1"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers, &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn entries_with_ports_and_mapped_ipv4_addresses_are_understood() {
        let trusted = proxies(&["127.0.0.1"]);
        let headers = forwarded(&["[2001:db8::7]:4711"]);
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &headers, &trusted),
            ip("2001:db8::7")
        );
        let headers = forwarded(&["203.0.113.9:4711"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks_and_refuse_the_rest() {
        assert!(proxies(&["10.0.0.0/8"])[0].contains(ip("10.200.1.1")));
        assert!(
            proxies(&["10.0.0.1/8"])[0].contains(ip("10.200.1.1")),
            "host bits dropped"
        );
        assert!(!proxies(&["10.0.0.5"])[0].contains(ip("10.0.0.6")));
        assert!(proxies(&["fd00::/8"])[0].contains(ip("fd12::1")));
        let err = "nginx".parse::<TrustedProxy>().unwrap_err();
        assert!(err.contains("not an IP address or network"), "{err}");
        assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network_and_ipv4_ones_by_address() {
        assert_eq!(quota_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(quota_key(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_ne!(quota_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(quota_key(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(quota_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
    }
}
