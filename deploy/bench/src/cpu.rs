//! Where the CPU went during a phase of the run: processor time per
//! program of the cluster (gateway, intake, review, PostgreSQL, NATS, this
//! load generator), read from `/proc` before and after. Everything runs on
//! the same cores, so "what does one submission cost, and where" is the
//! question that decides what to make faster. Only meaningful when the
//! cluster runs on this machine (`make up`); elsewhere the programs are
//! simply not found and the figures are empty.

use std::collections::BTreeMap;

/// `USER_HZ`: the unit of `/proc/<pid>/stat` times, 100 on every Linux
/// architecture the project builds for.
const TICKS_PER_SECOND: f64 = 100.0;

/// Processor seconds per program, summed over its processes, plus the
/// machine's busy and idle time.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// pid → (program, ticks); per pid so that a process that started
    /// during the phase (a new connection's backend) counts from zero.
    processes: BTreeMap<u32, (&'static str, u64)>,
    machine_busy: u64,
    machine_idle: u64,
}

/// The program a process belongs to, by its command name.
fn program(comm: &str) -> Option<&'static str> {
    Some(match comm {
        "postgres" => "postgres",
        "nats-server" => "nats",
        "bianmin-gateway" => "gateway",
        "bianmin-intake" => "intake",
        "bianmin-review" => "review",
        "bianmin-bench" => "load_generator",
        _ => return None,
    })
}

/// Command name and user+system ticks from one `/proc/<pid>/stat` line.
fn parse_stat(line: &str) -> Option<(&str, u64)> {
    // The name is in parentheses and may itself hold spaces or ')'.
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = &line[open + 1..close];
    let rest: Vec<&str> = line[close + 1..].split_whitespace().collect();
    // After the name: state (field 3) … utime (14), stime (15).
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// Busy and idle ticks of the whole machine from `/proc/stat`'s first line.
fn parse_machine(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    let busy = values.iter().take(8).sum::<u64>() - idle;
    Some((busy, idle))
}

impl Snapshot {
    pub fn take() -> Snapshot {
        let mut snapshot = Snapshot::default();
        if let Some((busy, idle)) = std::fs::read_to_string("/proc/stat")
            .ok()
            .as_deref()
            .and_then(parse_machine)
        {
            snapshot.machine_busy = busy;
            snapshot.machine_idle = idle;
        }
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return snapshot;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(line) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if let Some((comm, ticks)) = parse_stat(&line)
                && let Some(program) = program(comm)
            {
                snapshot.processes.insert(pid, (program, ticks));
            }
        }
        snapshot
    }

    /// Processor seconds per program between `self` and `later`, and the
    /// machine's busy share.
    pub fn until(&self, later: &Snapshot) -> Usage {
        let mut seconds: BTreeMap<&'static str, f64> = BTreeMap::new();
        for (pid, (program, ticks)) in &later.processes {
            let before = self
                .processes
                .get(pid)
                .filter(|(p, _)| p == program)
                .map_or(0, |(_, t)| *t);
            *seconds.entry(program).or_default() +=
                ticks.saturating_sub(before) as f64 / TICKS_PER_SECOND;
        }
        let busy = later.machine_busy.saturating_sub(self.machine_busy) as f64;
        let idle = later.machine_idle.saturating_sub(self.machine_idle) as f64;
        Usage {
            seconds,
            machine_busy_share: (busy + idle > 0.0).then(|| busy / (busy + idle)),
        }
    }
}

/// What a phase cost.
#[derive(Clone, Debug)]
pub struct Usage {
    pub seconds: BTreeMap<&'static str, f64>,
    pub machine_busy_share: Option<f64>,
}

impl Usage {
    /// Processor milliseconds per unit of work (a submission, a
    /// transaction), per program and in total.
    pub fn report(&self, units: f64) -> serde_json::Value {
        // Microsecond precision: a program's share can be a few hundredths
        // of a millisecond.
        let per = |s: f64| {
            if units > 0.0 {
                (s * 1000.0 / units * 1000.0).round() / 1000.0
            } else {
                0.0
            }
        };
        let mut ms: serde_json::Map<String, serde_json::Value> = self
            .seconds
            .iter()
            .map(|(p, s)| (p.to_string(), serde_json::json!(per(*s))))
            .collect();
        ms.insert(
            "total".into(),
            serde_json::json!(per(self.seconds.values().sum())),
        );
        serde_json::json!({
            "cpu_seconds": self.seconds.iter().map(|(p, s)| (p.to_string(), serde_json::json!(crate::stats::round(*s)))).collect::<serde_json::Map<_, _>>(),
            "cpu_ms_per_unit": ms,
            "machine_busy_share": self.machine_busy_share.map(|b| (b * 1000.0).round() / 1000.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_times_even_when_the_name_has_spaces_and_parentheses() {
        let line =
            "4242 (odd name) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1234 0 0";
        assert_eq!(parse_stat(line), Some(("odd name) x", 300)));
    }

    #[test]
    fn machine_idle_includes_iowait() {
        let stat = "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(parse_machine(stat), Some((161, 820)));
    }

    #[test]
    fn a_process_started_during_the_phase_counts_from_zero_and_programs_add_up() {
        let before = Snapshot {
            processes: BTreeMap::from([(1, ("postgres", 100)), (2, ("intake", 50))]),
            machine_busy: 1000,
            machine_idle: 1000,
        };
        let after = Snapshot {
            processes: BTreeMap::from([
                (1, ("postgres", 300)),
                (2, ("intake", 150)),
                (3, ("postgres", 40)),
            ]),
            machine_busy: 1300,
            machine_idle: 1100,
        };
        let usage = before.until(&after);
        assert_eq!(usage.seconds["postgres"], 2.4);
        assert_eq!(usage.seconds["intake"], 1.0);
        assert_eq!(usage.machine_busy_share, Some(0.75));
        let report = usage.report(100.0);
        assert_eq!(report["cpu_ms_per_unit"]["total"], 34.0);
    }
}
