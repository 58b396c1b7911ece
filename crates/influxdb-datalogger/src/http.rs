//! The HTTP client every writer of ours uses: a `ureq` agent whose name resolution does not
//! cost a thread per request.
//!
//! ureq resolves the host of every request, even one that will go over a pooled keep-alive
//! connection, and its default resolver spawns a thread for each lookup when a timeout is set
//! (so that the lookup can be abandoned). Measured with `strace` on `bench/examples/post_loop.rs`:
//! one `clone3` per request. Our writers always set a timeout and post thousands of batches
//! to the same server, so [`ReusingResolver`] answers IP literals without a lookup and keeps a
//! name's addresses for [`NAME_TTL`].
//!
//! The resolver interface is ureq's `unversioned` API (outside its semver promise), which is
//! why all of it is confined to this module.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// How long a looked-up name's addresses are reused. Short, so that a server moved to another
/// address (a restarted container) is found again within a retry or two.
pub(crate) const NAME_TTL: Duration = Duration::from_secs(30);

/// An agent with `config` that resolves through [`ReusingResolver`].
pub(crate) fn agent(config: Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        ReusingResolver::default(),
    )
}

/// Resolves IP literals by parsing them and remembers looked-up names for [`NAME_TTL`];
/// lookups themselves are ureq's (with its timeout).
#[derive(Debug, Default)]
pub(crate) struct ReusingResolver {
    lookup: DefaultResolver,
    looked_up: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for ReusingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host_and_port = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => DefaultResolver::host_and_port(scheme, authority),
            _ => None,
        };
        let Some(host_and_port) = host_and_port else {
            return self.lookup.resolve(uri, config, timeout);
        };
        // An address is used as it is. (ureq would also filter it by the agent's IP family,
        // which our agents leave at "any".)
        if let Ok(address) = host_and_port.parse::<SocketAddr>() {
            let mut addresses = self.empty();
            addresses.push(address);
            return Ok(addresses);
        }
        let now = Instant::now();
        let mut looked_up = self.looked_up.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((when, addresses)) = looked_up.get(&host_and_port) {
            if now.duration_since(*when) < NAME_TTL {
                return Ok(addresses.clone());
            }
        }
        // Lookups are rare (one per name per NAME_TTL) and every request of this agent's writer
        // comes from one thread, so holding the lock through one costs nothing.
        // A name that does not resolve is a server that cannot be reached, as a refused
        // connection is (the system's resolver says so as a bare I/O error).
        let addresses = self
            .lookup
            .resolve(uri, config, timeout)
            .map_err(|e| match e {
                ureq::Error::Io(_) => ureq::Error::HostNotFound,
                other => other,
            })?;
        looked_up.insert(host_and_port, (now, addresses.clone()));
        Ok(addresses)
    }
}

/// An error for a request that got no answer: retriable, classified (no connection, or no
/// answer in time), with ureq's error as its source.
pub(crate) fn transport_error(message: String, error: ureq::Error) -> crate::Error {
    use std::io::ErrorKind as Io;
    let transport = match &error {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            Some(crate::error::Transport::Connect)
        }
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                Io::ConnectionRefused
                    | Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::NotConnected
                    | Io::AddrNotAvailable
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
            ) =>
        {
            Some(crate::error::Transport::Connect)
        }
        ureq::Error::Timeout(_) => Some(crate::error::Transport::Timeout),
        ureq::Error::Io(e) if e.kind() == Io::TimedOut => Some(crate::error::Transport::Timeout),
        _ => None,
    };
    crate::Error::new(crate::ErrorKind::Writer, message)
        .with_retriable(true)
        .with_transport(transport)
        .with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(resolver: &ReusingResolver, url: &str) -> Vec<SocketAddr> {
        let uri: Uri = url.parse().unwrap();
        let config = Config::default();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::from_secs(5),
            reason: ureq::Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        resolver
            .resolve(&uri, &config, timeout)
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn a_name_that_does_not_resolve_is_an_unreachable_server() {
        let resolver = ReusingResolver::default();
        let uri: Uri = "http://no-such-host.invalid:8086/write".parse().unwrap();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::from_secs(5),
            reason: ureq::Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        let error = resolver
            .resolve(&uri, &Config::default(), timeout)
            .unwrap_err();
        assert!(matches!(error, ureq::Error::HostNotFound), "{error:?}");
        assert!(transport_error("cannot write".into(), error).is_connect());
    }

    #[test]
    fn ip_literals_are_parsed_with_the_scheme_default_port_and_not_remembered() {
        let resolver = ReusingResolver::default();
        assert_eq!(
            resolve(&resolver, "http://127.0.0.1:8086/write"),
            vec!["127.0.0.1:8086".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve(&resolver, "https://[::1]/api/v2/write"),
            vec!["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        assert!(resolver.looked_up.lock().unwrap().is_empty());
    }

    #[test]
    fn a_name_is_looked_up_once_and_its_addresses_reused() {
        let resolver = ReusingResolver::default();
        let first = resolve(&resolver, "http://localhost:8086/write");
        assert!(!first.is_empty());
        assert!(first
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8086));
        assert_eq!(resolver.looked_up.lock().unwrap().len(), 1);
        // A planted entry proves the second answer comes from memory, not from a lookup.
        let planted: SocketAddr = "10.9.8.7:8086".parse().unwrap();
        let mut addresses = resolver.empty();
        addresses.push(planted);
        resolver
            .looked_up
            .lock()
            .unwrap()
            .insert("localhost:8086".into(), (Instant::now(), addresses.clone()));
        assert_eq!(resolve(&resolver, "http://localhost:8086/x"), vec![planted]);
        // Once stale, the name is looked up again.
        let stale = Instant::now() - NAME_TTL - Duration::from_secs(1);
        resolver
            .looked_up
            .lock()
            .unwrap()
            .insert("localhost:8086".into(), (stale, addresses));
        assert!(resolve(&resolver, "http://localhost:8086/x")
            .iter()
            .all(|a| a.ip().is_loopback()));
    }
}
