//! Configuration from environment variables, with defaults that work on one
//! machine. Every setting is parsed and every problem reported at once, so an
//! operator fixes a broken deployment in one round.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Where settings come from: a variable's name to its value, if set.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send>;

/// Reads settings from a lookup function (the process environment in
/// `main`, a map in tests) and collects the problems it meets.
pub struct Env {
    lookup: Lookup,
    errors: Vec<String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self::new(|k| std::env::var(k).ok())
    }

    pub fn from_map(map: HashMap<String, String>) -> Self {
        Self::new(move |k| map.get(k).cloned())
    }

    pub fn new(lookup: impl Fn(&str) -> Option<String> + Send + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
            errors: Vec::new(),
        }
    }

    fn raw(&self, key: &str) -> Option<String> {
        (self.lookup)(key).filter(|v| !v.trim().is_empty())
    }

    pub fn string(&mut self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or_else(|| default.to_string())
    }

    pub fn optional(&mut self, key: &str) -> Option<String> {
        self.raw(key)
    }

    pub fn parse<T>(&mut self, key: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(key) {
            None => default,
            Some(v) => v.trim().parse().unwrap_or_else(|e| {
                self.errors.push(format!("{key}={v:?}: {e}"));
                default
            }),
        }
    }

    pub fn seconds(&mut self, key: &str, default: u64) -> Duration {
        Duration::from_secs(self.parse(key, default))
    }

    pub fn path(&mut self, key: &str, default: &str) -> PathBuf {
        PathBuf::from(self.string(key, default))
    }

    /// Records a problem found by a rule across settings.
    pub fn reject(&mut self, problem: String) {
        self.errors.push(problem);
    }

    /// Ok when every setting parsed, else all the problems in one error.
    pub fn finish(self) -> anyhow::Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  {}", self.errors.join("\n  "))
        }
    }
}

/// Settings every service shares.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    pub name: &'static str,
    /// What `serve` connects as: the app role, which owns no table and is
    /// under row-level security.
    pub database_url: String,
    /// What the `migrate` command connects as: the owner role.
    pub migration_database_url: String,
    pub database_pool_size: u32,
    pub nats_url: String,
    /// JetStream replicas per stream (3 in a production NATS cluster).
    pub nats_replicas: usize,
    pub grpc_addr: String,
    pub calendar_dir: PathBuf,
    pub outbox_retention: Duration,
    /// How long processed event ids are remembered; at least as long as
    /// any way an event can come back (see `retention::PROCESSED_INBOX`).
    pub inbox_retention: Duration,
    /// Events a consumer applies in one transaction at most (1 = one by one).
    pub inbox_max_batch: usize,
    /// How long a stopping service keeps answering (NOT_SERVING) before it
    /// stops accepting, so load balancers see it leave first.
    pub shutdown_drain: Duration,
    /// Whose tokens to accept and where their keys are.
    pub auth: crate::auth::token::AuthSettings,
    /// Where notifications go: `log` (default) or `webhook`
    /// (`NOTIFY_SENDER`, `NOTIFY_WEBHOOK_URL`; see `notify`).
    pub notify_sender: Option<String>,
    pub notify_webhook_url: Option<String>,
    /// Where `/metrics` is served (`METRICS_ADDR`; default the gRPC port
    /// plus 1000 on loopback; `off`: not served). See [`crate::metrics`].
    pub metrics_addr: Option<String>,
}

impl ServiceSettings {
    pub fn read(env: &mut Env, name: &'static str, default_grpc_port: u16) -> Self {
        Self {
            name,
            database_url: env.string(
                "DATABASE_URL",
                &format!("postgres://bianmin_app:bianmin_app@127.0.0.1:5432/bianmin_{name}"),
            ),
            migration_database_url: env.string(
                "MIGRATION_DATABASE_URL",
                &format!("postgres://bianmin_owner:bianmin_owner@127.0.0.1:5432/bianmin_{name}"),
            ),
            database_pool_size: env.parse("DATABASE_POOL_SIZE", 8),
            nats_url: env.string("NATS_URL", "nats://127.0.0.1:4222"),
            nats_replicas: env.parse("NATS_STREAM_REPLICAS", 1),
            grpc_addr: env.string("GRPC_ADDR", &format!("127.0.0.1:{default_grpc_port}")),
            calendar_dir: env.path("CALENDAR_DIR", "deploy/calendars"),
            outbox_retention: Duration::from_secs(
                3600 * env.parse::<u64>("OUTBOX_RETENTION_HOURS", 168),
            ),
            inbox_retention: Duration::from_secs(
                3600 * env.parse::<u64>("INBOX_RETENTION_HOURS", 720),
            ),
            shutdown_drain: env.seconds("SHUTDOWN_DRAIN_SECONDS", 0),
            inbox_max_batch: env.parse::<usize>("INBOX_MAX_BATCH", 64).clamp(1, 1000),
            auth: crate::auth::token::AuthSettings::read(env),
            notify_sender: env.optional("NOTIFY_SENDER"),
            notify_webhook_url: env.optional("NOTIFY_WEBHOOK_URL"),
            metrics_addr: crate::metrics::admin_addr(env, default_grpc_port),
        }
        .checked(env)
    }

    fn checked(self, env: &mut Env) -> Self {
        // An event can come back for as long as the stream or the outbox
        // keeps it; forgetting its id sooner would apply it twice.
        let floor = self.outbox_retention.max(crate::nats::EVENT_MAX_AGE);
        if self.inbox_retention < floor {
            env.reject(format!(
                "INBOX_RETENTION_HOURS={}: must be at least {} (the outbox retention and the event stream's max age)",
                self.inbox_retention.as_secs() / 3600,
                floor.as_secs() / 3600
            ));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_locally() {
        let mut env = Env::from_map(HashMap::new());
        let s = ServiceSettings::read(&mut env, "intake", 50061);
        env.finish().unwrap();
        assert_eq!(s.grpc_addr, "127.0.0.1:50061");
        assert!(s.database_url.ends_with("/bianmin_intake"));
        assert_eq!(s.outbox_retention, Duration::from_secs(168 * 3600));
    }

    #[test]
    fn every_bad_setting_is_reported_together() {
        let map = HashMap::from([
            ("DATABASE_POOL_SIZE".to_string(), "many".to_string()),
            ("OUTBOX_RETENTION_HOURS".to_string(), "-1".to_string()),
        ]);
        let mut env = Env::from_map(map);
        ServiceSettings::read(&mut env, "review", 50062);
        let message = env.finish().unwrap_err().to_string();
        assert!(message.contains("DATABASE_POOL_SIZE"), "{message}");
        assert!(message.contains("OUTBOX_RETENTION_HOURS"), "{message}");
    }

    #[test]
    fn the_inbox_outlives_every_way_an_event_comes_back() {
        let map = HashMap::from([
            ("OUTBOX_RETENTION_HOURS".to_string(), "400".to_string()),
            ("INBOX_RETENTION_HOURS".to_string(), "300".to_string()),
        ]);
        let mut env = Env::from_map(map);
        ServiceSettings::read(&mut env, "review", 50062);
        let message = env.finish().unwrap_err().to_string();
        assert!(
            message.contains("INBOX_RETENTION_HOURS=300: must be at least 400"),
            "{message}"
        );
    }
}
