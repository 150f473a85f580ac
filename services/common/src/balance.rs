//! Client-side load balancing for gRPC channels in Kubernetes.
//!
//! A gRPC channel is one long-lived HTTP/2 connection, so a ClusterIP
//! Service balances connections, not calls: every call of a gateway would
//! go to the pod it first reached, and pods the autoscaler adds would get
//! nothing. With `GRPC_BALANCE=dns` a channel instead resolves its host
//! (a headless Service, one address per ready pod) every
//! `GRPC_BALANCE_REFRESH_SECONDS` and spreads calls over every address,
//! adding and removing endpoints as pods come and go.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

/// How a channel finds its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    /// One connection to the URL's host (a single process, or a ClusterIP).
    Single,
    /// Every address the host resolves to, re-resolved periodically.
    Dns { refresh: Duration },
}

impl Balance {
    pub fn read(env: &mut crate::config::Env) -> Self {
        let refresh = env.seconds("GRPC_BALANCE_REFRESH_SECONDS", 10);
        match env.string("GRPC_BALANCE", "single").trim() {
            "dns" => Balance::Dns { refresh },
            "single" => Balance::Single,
            other => {
                env.reject(format!("GRPC_BALANCE={other:?}: must be single or dns"));
                Balance::Single
            }
        }
    }
}

/// The host and port a channel URL names.
fn host_and_port(url: &str) -> anyhow::Result<(String, u16)> {
    let uri: http::Uri = url.parse()?;
    let host = uri
        .host()
        .ok_or_else(|| anyhow::anyhow!("{url}: no host"))?
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    Ok((host, port))
}

/// What changed between two resolutions: addresses to add, to remove.
fn diff(
    current: &HashSet<SocketAddr>,
    resolved: &HashSet<SocketAddr>,
) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
    let mut added: Vec<_> = resolved.difference(current).copied().collect();
    let mut removed: Vec<_> = current.difference(resolved).copied().collect();
    added.sort();
    removed.sort();
    (added, removed)
}

/// A channel balanced over every address of `url`'s host. `endpoint`
/// builds the endpoint for one address URL (same scheme and port as `url`),
/// with the caller's timeouts and TLS settings. Resolution failures keep
/// the last known addresses (a DNS hiccup must not empty the pool).
pub fn dns_channel(
    url: &str,
    refresh: Duration,
    endpoint: impl Fn(&str) -> anyhow::Result<Endpoint> + Send + 'static,
) -> anyhow::Result<Channel> {
    let (host, port) = host_and_port(url)?;
    let scheme = if url.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    // Fail now on a URL the endpoint builder refuses, not in the task.
    endpoint(url)?;
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    tokio::spawn(async move {
        let mut current = HashSet::new();
        loop {
            match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(found) => {
                    let resolved: HashSet<SocketAddr> = found.collect();
                    let (added, removed) = diff(&current, &resolved);
                    for addr in added {
                        let url = format!("{scheme}://{addr}");
                        match endpoint(&url) {
                            Ok(e) => {
                                if changes.send(Change::Insert(addr, e)).await.is_err() {
                                    return; // the channel is gone
                                }
                                current.insert(addr);
                            }
                            Err(e) => tracing::warn!(%addr, error = %e, "peer endpoint refused"),
                        }
                    }
                    for addr in removed {
                        if changes.send(Change::Remove(addr)).await.is_err() {
                            return;
                        }
                        current.remove(&addr);
                    }
                }
                Err(e) => {
                    tracing::warn!(%host, error = %e, "resolving peers failed; keeping the last known")
                }
            }
            tokio::time::sleep(refresh).await;
            if changes.is_closed() {
                return;
            }
        }
    });
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_and_port() {
        assert_eq!(
            host_and_port("http://intake-pods:50061").unwrap(),
            ("intake-pods".to_string(), 50061)
        );
        assert_eq!(
            host_and_port("https://review").unwrap(),
            ("review".to_string(), 443)
        );
        assert_eq!(
            host_and_port("http://[::1]:7").unwrap(),
            ("::1".to_string(), 7)
        );
        assert!(host_and_port("not a url").is_err());
    }

    #[test]
    fn pods_come_and_go() {
        let a: SocketAddr = "10.0.0.1:50061".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:50061".parse().unwrap();
        let c: SocketAddr = "10.0.0.3:50061".parse().unwrap();
        let (added, removed) = diff(&HashSet::from([a, b]), &HashSet::from([b, c]));
        assert_eq!((added, removed), (vec![c], vec![a]));
        let (added, removed) = diff(&HashSet::from([a]), &HashSet::from([a]));
        assert!(added.is_empty() && removed.is_empty());
    }

    #[tokio::test]
    async fn a_balanced_channel_reaches_its_peer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let channel = dns_channel(&url, Duration::from_millis(50), |u| {
            Ok(Endpoint::from_shared(u.to_string())?)
        })
        .unwrap();
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            client.check(tonic_health::pb::HealthCheckRequest::default()),
        )
        .await
        .expect("answered in time")
        .unwrap();
        assert_eq!(answer.into_inner().status, 1, "SERVING");
    }

    #[test]
    fn the_setting_is_checked() {
        let mut env = crate::config::Env::from_map(
            [("GRPC_BALANCE".to_string(), "round-robin".to_string())].into(),
        );
        assert_eq!(Balance::read(&mut env), Balance::Single);
        assert!(
            env.finish()
                .unwrap_err()
                .to_string()
                .contains("GRPC_BALANCE")
        );
    }
}
