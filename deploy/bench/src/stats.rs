//! Latency histograms and error counts, per request kind.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub struct Kind {
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
}

impl Default for Kind {
    fn default() -> Self {
        // Microseconds, 1 µs .. 60 s, 3 significant digits.
        Self {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).expect("histogram")),
            errors: BTreeMap::new(),
        }
    }
}

impl Kind {
    pub fn ok(&mut self, took: Duration) {
        let _ = self.latency.record((took.as_micros() as u64).max(1));
    }
    pub fn error(&mut self, what: impl Into<String>) {
        *self.errors.entry(what.into()).or_default() += 1;
    }
    pub fn merge(&mut self, other: &Kind) {
        let _ = self.latency.add(&other.latency);
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
    pub fn summary(&self, seconds: f64) -> Summary {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            count: self.latency.len(),
            throughput_rps: round(self.latency.len() as f64 / seconds.max(1e-9)),
            p50_ms: round(ms(0.50)),
            p95_ms: round(ms(0.95)),
            p99_ms: round(ms(0.99)),
            max_ms: round(self.latency.max() as f64 / 1000.0),
            errors: self.errors.values().sum(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub count: u64,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
}

pub fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Every kind's figures.
#[derive(Default)]
pub struct Stats {
    pub kinds: BTreeMap<&'static str, Kind>,
}

impl Stats {
    pub fn kind(&mut self, name: &'static str) -> &mut Kind {
        self.kinds.entry(name).or_default()
    }
    pub fn merge(&mut self, other: &Stats) {
        for (name, kind) in &other.kinds {
            self.kind(name).merge(kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_quantiles_in_ms() {
        let mut k = Kind::default();
        for ms in 1..=100 {
            k.ok(Duration::from_millis(ms));
        }
        k.error("503");
        let s = k.summary(10.0);
        assert_eq!(s.count, 100);
        assert_eq!(s.throughput_rps, 10.0);
        assert!((s.p50_ms - 50.0).abs() < 0.5, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.5, "{s:?}");
        assert_eq!(s.errors, 1);
    }
}
