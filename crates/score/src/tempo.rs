//! The tempo map: where the tempo changes, and the conversion between ticks and seconds.

use serde::{Deserialize, Serialize};

use crate::ScoreError;

/// MIDI's tempo when a file sets none: 120 quarter notes per minute.
pub const DEFAULT_US_PER_QUARTER: u32 = 500_000;

/// One tempo change: from `tick` on, a quarter note lasts `us_per_quarter` microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tempo {
    pub tick: u64,
    pub us_per_quarter: u32,
}

impl Tempo {
    pub fn bpm(&self) -> f64 {
        60_000_000.0 / f64::from(self.us_per_quarter)
    }
}

/// Tempo changes in tick order, with the start time of each precomputed.
///
/// Before the first change (and when there is none) the tempo is
/// [`DEFAULT_US_PER_QUARTER`]. The changes are kept as the file gave them, repeats
/// included, so that a reader can report them faithfully.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TempoMapRaw", into = "TempoMapRaw")]
pub struct TempoMap {
    ticks_per_quarter: u16,
    changes: Vec<Tempo>,
    /// `starts_s[i]` is the time in seconds of `changes[i].tick`.
    starts_s: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct TempoMapRaw {
    ticks_per_quarter: u16,
    changes: Vec<Tempo>,
}

impl TryFrom<TempoMapRaw> for TempoMap {
    type Error = ScoreError;
    fn try_from(raw: TempoMapRaw) -> Result<Self, ScoreError> {
        TempoMap::new(raw.ticks_per_quarter, raw.changes)
    }
}

impl From<TempoMap> for TempoMapRaw {
    fn from(map: TempoMap) -> Self {
        TempoMapRaw { ticks_per_quarter: map.ticks_per_quarter, changes: map.changes }
    }
}

impl TempoMap {
    /// Builds a tempo map; `changes` are sorted by tick (stably, so the later of two
    /// changes at one tick wins). Fails on a zero resolution or a zero tempo.
    pub fn new(ticks_per_quarter: u16, mut changes: Vec<Tempo>) -> Result<Self, ScoreError> {
        if ticks_per_quarter == 0 {
            return Err(ScoreError::OutOfRange { what: "ticks per quarter", value: 0, min: 1, max: 32767 });
        }
        if let Some(bad) = changes.iter().find(|t| t.us_per_quarter == 0) {
            return Err(ScoreError::ZeroTempo { tick: bad.tick });
        }
        changes.sort_by_key(|t| t.tick);
        let mut starts_s = Vec::with_capacity(changes.len());
        let (mut tick, mut time_s, mut us) = (0u64, 0.0f64, DEFAULT_US_PER_QUARTER);
        for change in &changes {
            time_s += (change.tick - tick) as f64 * seconds_per_tick(us, ticks_per_quarter);
            starts_s.push(time_s);
            tick = change.tick;
            us = change.us_per_quarter;
        }
        Ok(TempoMap { ticks_per_quarter, changes, starts_s })
    }

    /// A map with one tempo from tick 0 on.
    pub fn constant(ticks_per_quarter: u16, us_per_quarter: u32) -> Result<Self, ScoreError> {
        TempoMap::new(ticks_per_quarter, vec![Tempo { tick: 0, us_per_quarter }])
    }

    pub fn ticks_per_quarter(&self) -> u16 {
        self.ticks_per_quarter
    }

    pub fn changes(&self) -> &[Tempo] {
        &self.changes
    }

    /// The tempo in force at `tick`.
    pub fn us_per_quarter_at(&self, tick: u64) -> u32 {
        match self.segment(tick) {
            Some(i) => self.changes[i].us_per_quarter,
            None => DEFAULT_US_PER_QUARTER,
        }
    }

    /// Time in seconds of `tick`.
    pub fn seconds(&self, tick: u64) -> f64 {
        match self.segment(tick) {
            Some(i) => {
                let c = &self.changes[i];
                self.starts_s[i] + (tick - c.tick) as f64 * seconds_per_tick(c.us_per_quarter, self.ticks_per_quarter)
            }
            None => tick as f64 * seconds_per_tick(DEFAULT_US_PER_QUARTER, self.ticks_per_quarter),
        }
    }

    /// The (fractional) tick at time `seconds`; the inverse of [`TempoMap::seconds`].
    pub fn tick_at(&self, seconds: f64) -> f64 {
        let i = self.starts_s.partition_point(|&s| s <= seconds);
        let (tick0, s0, us) = match i {
            0 => (0, 0.0, DEFAULT_US_PER_QUARTER),
            _ => (self.changes[i - 1].tick, self.starts_s[i - 1], self.changes[i - 1].us_per_quarter),
        };
        tick0 as f64 + (seconds - s0) / seconds_per_tick(us, self.ticks_per_quarter)
    }

    /// Index of the last change at or before `tick`.
    fn segment(&self, tick: u64) -> Option<usize> {
        self.changes.partition_point(|c| c.tick <= tick).checked_sub(1)
    }
}

fn seconds_per_tick(us_per_quarter: u32, ticks_per_quarter: u16) -> f64 {
    f64::from(us_per_quarter) / 1e6 / f64::from(ticks_per_quarter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(tpq: u16, changes: &[(u64, u32)]) -> TempoMap {
        let changes = changes.iter().map(|&(tick, us_per_quarter)| Tempo { tick, us_per_quarter }).collect();
        TempoMap::new(tpq, changes).unwrap()
    }

    #[test]
    fn default_tempo_is_120_bpm() {
        let m = map(480, &[]);
        assert_eq!(m.seconds(480), 0.5);
        assert_eq!(m.tick_at(1.0), 960.0);
    }

    #[test]
    fn seconds_follow_tempo_changes() {
        // 120 bpm, then 60 bpm at tick 720, then 240 bpm at tick 1680 (edge-cases own-tempo-changes-type1).
        let m = map(480, &[(0, 500_000), (720, 1_000_000), (1680, 250_000)]);
        let check = |tick: u64, expected_s: f64| assert!((m.seconds(tick) - expected_s).abs() < 1e-12, "{tick}");
        check(0, 0.0);
        check(480, 0.5);
        check(720, 0.75);
        check(960, 1.25);
        check(1680, 2.75);
        check(1920, 2.875);
        for tick in [0u64, 100, 719, 720, 1000, 1680, 5000] {
            assert!((m.tick_at(m.seconds(tick)) - tick as f64).abs() < 1e-6);
        }
    }

    #[test]
    fn first_change_after_zero_uses_default_before_it() {
        let m = map(96, &[(192, 1_000_000)]);
        assert_eq!(m.seconds(192), 1.0);
        assert_eq!(m.seconds(288), 2.0);
        assert_eq!(m.us_per_quarter_at(0), DEFAULT_US_PER_QUARTER);
    }

    #[test]
    fn rejects_zero_resolution_and_zero_tempo() {
        assert!(TempoMap::new(0, vec![]).is_err());
        assert!(TempoMap::new(480, vec![Tempo { tick: 5, us_per_quarter: 0 }]).is_err());
    }
}
