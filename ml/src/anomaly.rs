//! Robust anomaly scores: a person's spending in one category compared
//! with their own recent spending there. The baseline is the median and
//! the median absolute deviation (MAD) of the last [`Baseline::window`]
//! amounts; the score is the robust z-score `0.6745 × (x − median) / MAD`
//! (0.6745 makes the MAD comparable to a standard deviation for normal
//! data). Nothing is flagged before [`Baseline::min_history`] amounts: a
//! newcomer has no "normal" yet. When more than half the amounts are equal
//! (MAD = 0) the mean absolute deviation around the median stands in
//! (× 1.2533, its normal-consistency factor), so a fixed monthly bill that
//! suddenly doubles is still caught.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// How the baseline is kept and when an amount is an anomaly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Amounts remembered per key.
    pub window: usize,
    /// Amounts needed before anything is flagged.
    pub min_history: usize,
    /// Robust z-score from which an amount is flagged (above the median only:
    /// spending less than usual is not an alarm).
    pub threshold: f64,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline { window: 60, min_history: 8, threshold: 5.0 }
    }
}

/// Why an amount was flagged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub score: f64,
    /// Rupiah: the median of the history and its spread.
    pub median: i64,
    pub spread: f64,
    pub history: usize,
}

/// The median of `v` (sorted in place); the mean of the middle two when even.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The robust z-score of `amount` against `history`; `None` without enough history.
pub fn score(history: &[i64], amount: i64, min_history: usize) -> Option<Flag> {
    if history.len() < min_history.max(1) {
        return None;
    }
    let mut values: Vec<f64> = history.iter().map(|&a| a as f64).collect();
    let m = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&mut deviations) / 0.6745;
    let spread = if mad > 0.0 {
        mad
    } else {
        let mean_dev = deviations.iter().sum::<f64>() / deviations.len() as f64 * 1.2533;
        // All equal: any other amount is a change; scale by 5% of the median (at least Rp 1).
        if mean_dev > 0.0 { mean_dev } else { (m.abs() * 0.05).max(1.0) }
    };
    Some(Flag { score: (amount as f64 - m) / spread, median: m.round() as i64, spread, history: history.len() })
}

/// Rolling baselines per key (a person and a category).
#[derive(Debug, Default)]
pub struct Detector {
    pub baseline: Baseline,
    history: HashMap<String, VecDeque<i64>>,
}

impl Detector {
    pub fn new(baseline: Baseline) -> Self {
        Detector { baseline, history: HashMap::new() }
    }

    /// Scores `amount` (spending, as a positive number of rupiah) for `key`
    /// against the history so far, then adds it to the history. A flag only
    /// when the score reaches the threshold.
    pub fn observe(&mut self, key: &str, amount: i64) -> Option<Flag> {
        let history = self.history.entry(key.to_owned()).or_default();
        let (a, b) = history.as_slices();
        let flat: Vec<i64> = a.iter().chain(b).copied().collect();
        let flag = score(&flat, amount, self.baseline.min_history).filter(|f| f.score >= self.baseline.threshold);
        history.push_back(amount);
        while history.len() > self.baseline.window {
            history.pop_front();
        }
        flag
    }
}

/// A person's spending per day, scored against their earlier days (days
/// with spending only): the running total of the day is flagged once,
/// when it first reaches the threshold. Days arrive in order; a
/// transaction of an earlier day than the current one is left out.
#[derive(Debug, Default)]
pub struct DailyTotals {
    pub baseline: Baseline,
    days: HashMap<String, DayState>,
}

#[derive(Debug, Default)]
struct DayState {
    day: Option<chrono::NaiveDate>,
    total: i64,
    flagged: bool,
    history: VecDeque<i64>,
}

impl DailyTotals {
    pub fn new(baseline: Baseline) -> Self {
        DailyTotals { baseline, days: HashMap::new() }
    }

    /// Adds `amount` (positive spending) on `day` for `key`; a flag with
    /// the day's total when the day becomes unusual. `quiet` adds without
    /// flagging (the amount was flagged by itself).
    pub fn observe(&mut self, key: &str, day: chrono::NaiveDate, amount: i64, quiet: bool) -> Option<(Flag, i64)> {
        let state = self.days.entry(key.to_owned()).or_default();
        match state.day {
            Some(current) if day < current => return None,
            Some(current) if day > current => {
                state.history.push_back(state.total);
                while state.history.len() > self.baseline.window {
                    state.history.pop_front();
                }
                state.day = Some(day);
                state.total = 0;
                state.flagged = false;
            }
            Some(_) => {}
            None => state.day = Some(day),
        }
        state.total = state.total.saturating_add(amount);
        if quiet {
            state.flagged = true;
        }
        if state.flagged {
            return None;
        }
        let (a, b) = state.history.as_slices();
        let flat: Vec<i64> = a.iter().chain(b).copied().collect();
        let flag = score(&flat, state.total, self.baseline.min_history).filter(|f| f.score >= self.baseline.threshold)?;
        state.flagged = true;
        Some((flag, state.total))
    }
}

/// A category series that stands apart from a person's others.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesFlag {
    /// Index into the series given.
    pub index: usize,
    /// augurs' MAD score on the last day.
    pub score: f64,
}

/// Which of a person's category series (aligned daily spending, oldest
/// first, one per category) behave unlike the others on the last day:
/// augurs' MAD outlier detector over the series each scaled by its own
/// mean (so a big and a small category compare by shape), flagged when
/// the last day is outlying and above the category's mean. Needs at
/// least 3 series with spending and `min_days` days.
pub fn series_outliers(series: &[Vec<f64>], min_days: usize, threshold: f64) -> Vec<SeriesFlag> {
    use augurs::outlier::{MADDetector, OutlierDetector};
    let days = series.first().map_or(0, Vec::len);
    if days < min_days.max(2) || series.iter().any(|s| s.len() != days) {
        return Vec::new();
    }
    let (kept, scaled): (Vec<usize>, Vec<Vec<f64>>) = series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let mean = s.iter().sum::<f64>() / days as f64;
            (mean > 0.0).then(|| (i, s.iter().map(|v| v / mean).collect()))
        })
        .unzip();
    if kept.len() < 3 {
        return Vec::new();
    }
    let refs: Vec<&[f64]> = scaled.iter().map(Vec::as_slice).collect();
    let detector = MADDetector::with_threshold(threshold);
    let Ok(output) = detector.preprocess(&refs).and_then(|data| detector.detect(&data)) else {
        return Vec::new();
    };
    output
        .series_results
        .iter()
        .zip(&kept)
        .zip(&scaled)
        .filter_map(|((result, &index), values)| {
            let last = *result.scores.last()?;
            (result.is_outlier && last >= threshold && *values.last()? > 1.0).then_some(SeriesFlag { index, score: last })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn scores_follow_median_and_mad() {
        let history = [100, 110, 90, 105, 95, 100, 102, 98];
        let f = score(&history, 100, 8).unwrap();
        assert!(f.score.abs() < 0.5);
        assert!(score(&history, 1_000, 8).unwrap().score > 50.0);
        assert!(score(&history[..7], 1_000, 8).is_none(), "not before the minimum history");
        // A fixed bill (MAD 0) that doubles is flagged; the same bill is not.
        let fixed = [150_000; 10];
        assert!(score(&fixed, 300_000, 8).unwrap().score > 5.0);
        assert_eq!(score(&fixed, 150_000, 8).unwrap().score, 0.0);
    }

    /// A year of generated spending for 200 people in 4 categories, with one
    /// planted anomaly (ten times the usual) per person: every planted one
    /// is flagged and few ordinary amounts are.
    #[test]
    fn planted_anomalies_are_flagged_and_ordinary_spending_rarely() {
        let mut rng = Rng::new(9);
        let mut detector = Detector::new(Baseline::default());
        let (mut ordinary, mut false_alarms, mut planted, mut caught) = (0usize, 0usize, 0usize, 0usize);
        for person in 0..200 {
            let typical: Vec<i64> = (0..4).map(|_| rng.range(10, 200) * 1_000).collect();
            let plant_at = rng.range(30, 300) as usize;
            for day in 0..365usize {
                for (c, &t) in typical.iter().enumerate() {
                    let planted_today = c == 0 && day == plant_at;
                    if rng.below(3) != 0 && !planted_today {
                        continue; // not every category every day
                    }
                    // Ordinary: within about ±35% of the usual amount, in whole hundreds.
                    let ordinary_amount = (t as f64 * (0.65 + 0.7 * rng.below(1_000) as f64 / 1_000.0)) as i64 / 100 * 100;
                    let key = format!("{person}:{c}");
                    if planted_today {
                        planted += 1;
                        caught += usize::from(detector.observe(&key, t * 10).is_some());
                    } else {
                        ordinary += 1;
                        false_alarms += usize::from(detector.observe(&key, ordinary_amount).is_some());
                    }
                }
            }
        }
        let rate = false_alarms as f64 / ordinary as f64;
        eprintln!("planted {planted}, caught {caught}; ordinary {ordinary}, flagged {false_alarms} (false-positive rate {:.4}%)", rate * 100.0);
        assert_eq!(caught, planted);
        assert!(rate < 0.001, "false-positive rate {rate}");
    }

    #[test]
    fn a_day_of_unusual_spending_is_flagged_once() {
        let mut days = DailyTotals::new(Baseline::default());
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        for d in 1..=10 {
            assert!(days.observe("u", day(d), 100_000 + i64::from(d) * 1_000, false).is_none());
        }
        // Day 11: small amounts that add up to six times a usual day.
        let mut flags = Vec::new();
        for _ in 0..12 {
            flags.extend(days.observe("u", day(11), 50_000, false));
        }
        assert_eq!(flags.len(), 1, "once per day");
        assert!(flags[0].1 >= 150_000 && flags[0].1 <= 200_000, "flagged when the running total first stands out: {}", flags[0].1);
        // An earlier day is left out; a day flagged by one big amount is not flagged again.
        assert!(days.observe("u", day(5), 5_000_000, false).is_none());
        assert!(days.observe("u", day(12), 5_000_000, true).is_none());
        assert!(days.observe("v", day(1), 5_000_000, false).is_none(), "no history, no flag");
    }

    #[test]
    fn a_category_series_apart_from_the_others_is_found() {
        let mut rng = Rng::new(4);
        let mut series: Vec<Vec<f64>> = (0..5)
            .map(|c| {
                let typical = 20_000.0 * (c + 1) as f64;
                (0..28).map(|_| typical * (0.7 + 0.6 * rng.below(1_000) as f64 / 1_000.0)).collect()
            })
            .collect();
        assert!(series_outliers(&series, 14, 3.0).is_empty(), "ordinary spending");
        let last = series[2].len() - 1;
        series[2][last] *= 8.0;
        let flags = series_outliers(&series, 14, 3.0);
        assert_eq!(flags.iter().map(|f| f.index).collect::<Vec<_>>(), [2], "{flags:?}");
        assert!(series_outliers(&series[..2], 14, 3.0).is_empty(), "fewer than 3 series");
    }
}
