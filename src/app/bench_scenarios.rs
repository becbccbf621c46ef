//! `switchboard bench scenarios`: every scenario file on the simulated board, each run
//! several times in one process; per scenario the virtual time of the call, the best
//! CPU time and the best wall time of a whole run (loading the files, playing the
//! scenario, checking its expectations) and the speed-up over real time; then a
//! summary against the goal of 1,000× real time.
//!
//! CPU time is the process's (`CLOCK_PROCESS_CPUTIME_ID`, every thread counted), so
//! a machine busy with other work does not hide progress as wall time would. The best
//! of the runs is taken: the first run of a process also reads the prompt cache from
//! disk, later ones find it in memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// CPU time of this process (all threads).
fn cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        .unwrap_or_default()
}

/// One scenario's figures.
#[derive(Debug, Clone)]
pub struct ScenarioTiming {
    /// The scenario file.
    pub file: PathBuf,
    /// Seconds of call simulated (virtual time).
    pub virtual_time: Duration,
    /// Best CPU time of a run.
    pub cpu: Duration,
    /// Best wall time of a run.
    pub wall: Duration,
}

impl ScenarioTiming {
    /// Virtual time per CPU time.
    pub fn cpu_ratio(&self) -> f64 {
        self.virtual_time.as_secs_f64() / self.cpu.as_secs_f64().max(1e-9)
    }

    /// Virtual time per wall time.
    pub fn wall_ratio(&self) -> f64 {
        self.virtual_time.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Runs `file` `runs` times (at least once); fails if a run fails or its expectations
/// do not hold.
pub fn time_one(file: &Path, runs: u32, tts_cache: &Path) -> Result<ScenarioTiming> {
    let mut best: Option<ScenarioTiming> = None;
    for _ in 0..runs.max(1) {
        let (c0, w0) = (cpu_time(), Instant::now());
        let (_, out) = crate::scenario::run_file(file, Some(tts_cache.to_path_buf()))?;
        let (cpu, wall) = (cpu_time().saturating_sub(c0), w0.elapsed());
        if !out.passed() {
            bail!(
                "{}: the scenario failed: {}",
                file.display(),
                out.failures.join("; ")
            );
        }
        let t = best.get_or_insert(ScenarioTiming {
            file: file.to_path_buf(),
            virtual_time: out.virtual_time,
            cpu,
            wall,
        });
        t.cpu = t.cpu.min(cpu);
        t.wall = t.wall.min(wall);
    }
    Ok(best.expect("at least one run"))
}

/// The table's header.
pub const HEADER: &str =
    "scenario                                            call s   CPU ms  wall ms  ×CPU    ×wall";

/// One line of the table.
pub fn line(t: &ScenarioTiming) -> String {
    let name = t.file.file_name().map_or_else(
        || t.file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    format!(
        "{:<50} {:>7.1} {:>8.1} {:>8.1} {:>6.0} {:>7.0}",
        name,
        t.virtual_time.as_secs_f64(),
        t.cpu.as_secs_f64() * 1000.0,
        t.wall.as_secs_f64() * 1000.0,
        t.cpu_ratio(),
        t.wall_ratio()
    )
}

/// The summary: totals, and how many reach `goal` × real time (by CPU time), naming
/// those below.
pub fn summary(all: &[ScenarioTiming], goal: f64, runs: u32) -> String {
    let virt: f64 = all.iter().map(|t| t.virtual_time.as_secs_f64()).sum();
    let cpu: f64 = all.iter().map(|t| t.cpu.as_secs_f64()).sum();
    let wall: f64 = all.iter().map(|t| t.wall.as_secs_f64()).sum();
    let below: Vec<String> = all
        .iter()
        .filter(|t| t.cpu_ratio() < goal)
        .map(|t| {
            let name = t
                .file
                .file_stem()
                .map_or_else(String::new, |n| n.to_string_lossy().into());
            format!("{name} ({:.0}×)", t.cpu_ratio())
        })
        .collect();
    let min = all
        .iter()
        .map(ScenarioTiming::cpu_ratio)
        .fold(f64::INFINITY, f64::min);
    let mut s = format!(
        "{} scenarios, best of {runs} runs each: {virt:.0} s of call in {cpu:.2} CPU-s ({:.0}×) / {wall:.2} wall-s ({:.0}×); slowest {min:.0}×; {} of {} at ≥ {goal:.0}× (CPU)",
        all.len(),
        virt / cpu.max(1e-9),
        virt / wall.max(1e-9),
        all.len() - below.len(),
        all.len(),
    );
    if !below.is_empty() {
        s.push_str(&format!("; below: {}", below.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, virt: u64, cpu_ms: u64) -> ScenarioTiming {
        ScenarioTiming {
            file: PathBuf::from(format!("hil-tests/scenarios/{name}.toml")),
            virtual_time: Duration::from_secs(virt),
            cpu: Duration::from_millis(cpu_ms),
            wall: Duration::from_millis(cpu_ms * 2),
        }
    }

    #[test]
    fn summary_counts_the_scenarios_below_the_goal_and_names_them() {
        let all = [t("01-a", 40, 20), t("15-b", 40, 80)];
        assert_eq!(all[0].cpu_ratio(), 2000.0);
        assert_eq!(all[1].wall_ratio(), 250.0);
        let s = summary(&all, 1000.0, 3);
        assert!(s.contains("1 of 2 at ≥ 1000×"), "{s}");
        assert!(s.contains("below: 15-b (500×)"), "{s}");
        assert!(s.contains("80 s of call in 0.10 CPU-s (800×)"), "{s}");
        assert!(line(&all[0]).starts_with("01-a.toml"), "{}", line(&all[0]));
    }
}
