//! Customer segments by k-means (linfa-clustering) on standardised
//! repayment behaviour, the "ML tier" beside the lender's rule.
//!
//! Features, each standardised to mean 0 and standard deviation 1 over
//! the customers trained on: repayment rate (`paid / billed`, capped at
//! 1.2 so an early payer is not an outlier), `ln(1 + DPD)` (days past due
//! are heavy-tailed: one loan 200 days late would otherwise own a whole
//! axis) and the on-time share. Customers without due bills have no
//! behaviour yet and are neither trained on nor segmented.
//!
//! **k** is chosen by the mean silhouette coefficient (Rousseeuw 1987) over
//! k = 3…6 on a fixed sample of at most [`SILHOUETTE_SAMPLE`] customers:
//! the k whose clusters are tightest relative to their nearest neighbour
//! cluster wins, ties to the smaller k. At least 3, so every tier can get a
//! segment. Segments are mapped to tiers by **centroid order**: each
//! centroid is scored `repayment + on-time − DPD` (standardised), segments
//! sorted by that score are cut into thirds — the lowest third Bronze, the
//! top third Gold.

use arus_schemas::lending::Tier;
use linfa::prelude::*;
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::tiering::{rule_tier, Behaviour};

/// The `models` table's kind for segment models.
pub const KIND: &str = "tier-segments";
/// Customers the silhouette is computed on (it costs n²).
pub const SILHOUETTE_SAMPLE: usize = 2_000;
/// The k tried.
pub const K_RANGE: std::ops::RangeInclusive<usize> = 3..=6;
/// Feature names, in the order of the vectors.
pub const FEATURES: [&str; 3] = ["repayment_rate", "ln_1_plus_dpd", "on_time_rate"];

/// A trained segment model: standardisation, centroids (standardised
/// space) and the tier of each segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentModel {
    pub means: [f64; 3],
    pub stds: [f64; 3],
    pub centroids: Vec<[f64; 3]>,
    pub tiers: Vec<Tier>,
}

/// How a model was chosen and how it agrees with the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentReport {
    pub k: usize,
    pub criterion: String,
    /// Mean silhouette per k tried.
    pub silhouettes: Vec<(usize, f64)>,
    pub customers: usize,
    /// Customers left out: no due bills.
    pub without_due_bills: usize,
    /// Share of customers whose segment tier equals their rule tier.
    pub agreement: f64,
    /// `confusion[rule][segment]`, tiers in the order Bronze, Silver, Gold.
    pub confusion: [[usize; 3]; 3],
    /// Per segment: centroid in the original units (repayment rate, DPD,
    /// on-time rate), size and tier.
    pub segments: Vec<SegmentSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentSummary {
    pub segment: usize,
    pub tier: Tier,
    pub customers: usize,
    pub repayment_rate: f64,
    pub dpd: f64,
    pub on_time_rate: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{0} customers with due bills: at least {min} are needed to find segments", min = MIN_CUSTOMERS)]
    TooFew(usize),
    #[error("k-means failed: {0}")]
    KMeans(String),
}

/// Fewer customers than this cannot be segmented.
pub const MIN_CUSTOMERS: usize = 30;

/// The raw feature vector of `b`; `None` without due bills.
pub fn features(b: &Behaviour) -> Option<[f64; 3]> {
    let rate = b.repayment_rate()?.min(1.2);
    let on_time = b.on_time_rate().unwrap_or(0.0);
    Some([rate, (1.0 + b.current_dpd.max(0) as f64).ln(), on_time])
}

fn tier_index(t: Tier) -> usize {
    match t {
        Tier::Bronze => 0,
        Tier::Silver => 1,
        Tier::Gold => 2,
    }
}

fn distance2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl SegmentModel {
    fn standardise(&self, x: &[f64; 3]) -> [f64; 3] {
        std::array::from_fn(|i| (x[i] - self.means[i]) / self.stds[i])
    }

    /// The segment of `b` and its tier; `None` without due bills.
    pub fn assign(&self, b: &Behaviour) -> Option<(usize, Tier)> {
        let z = self.standardise(&features(b)?);
        let (segment, _) = self
            .centroids
            .iter()
            .enumerate()
            .map(|(i, c)| (i, distance2(&z, c)))
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        Some((segment, self.tiers[segment]))
    }
}

/// Mean silhouette of `labels` over `points` (all of them: pass a sample).
fn silhouette(points: &[[f64; 3]], labels: &[usize], k: usize) -> f64 {
    let mut total = 0.0;
    let mut counted = 0usize;
    for (i, p) in points.iter().enumerate() {
        let mut sum = vec![0.0; k];
        let mut count = vec![0usize; k];
        for (j, q) in points.iter().enumerate() {
            if i != j {
                sum[labels[j]] += distance2(p, q).sqrt();
                count[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if count[own] == 0 {
            continue; // a singleton's silhouette is 0 by convention
        }
        let a = sum[own] / count[own] as f64;
        let b = (0..k).filter(|&c| c != own && count[c] > 0).map(|c| sum[c] / count[c] as f64).fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(f64::MIN_POSITIVE);
        }
        counted += 1;
    }
    if counted == 0 { 0.0 } else { total / points.len() as f64 }
}

fn fit(points: &Array2<f64>, k: usize) -> Result<Vec<[f64; 3]>, SegmentError> {
    let dataset = DatasetBase::from(points.clone());
    let model = KMeans::params(k).n_runs(4).max_n_iterations(300).tolerance(1e-6).fit(&dataset).map_err(|e| SegmentError::KMeans(e.to_string()))?;
    Ok(model.centroids().outer_iter().map(|row| [row[0], row[1], row[2]]).collect())
}

fn nearest(z: &[f64; 3], centroids: &[[f64; 3]]) -> usize {
    centroids.iter().enumerate().map(|(i, c)| (i, distance2(z, c))).min_by(|a, b| a.1.total_cmp(&b.1)).map_or(0, |(i, _)| i)
}

/// Trains a segment model on `behaviours` (one per customer).
pub fn train(behaviours: &[Behaviour]) -> Result<(SegmentModel, SegmentReport), SegmentError> {
    let raw: Vec<([f64; 3], Tier)> = behaviours.iter().filter_map(|b| Some((features(b)?, rule_tier(b).tier))).collect();
    if raw.len() < MIN_CUSTOMERS {
        return Err(SegmentError::TooFew(raw.len()));
    }
    let n = raw.len() as f64;
    let means: [f64; 3] = std::array::from_fn(|i| raw.iter().map(|(x, _)| x[i]).sum::<f64>() / n);
    let stds: [f64; 3] = std::array::from_fn(|i| {
        let var = raw.iter().map(|(x, _)| (x[i] - means[i]).powi(2)).sum::<f64>() / n;
        // A feature every customer shares carries no information: scale 1.
        if var.sqrt() > 1e-9 { var.sqrt() } else { 1.0 }
    });
    let z: Vec<[f64; 3]> = raw.iter().map(|(x, _)| std::array::from_fn(|i| (x[i] - means[i]) / stds[i])).collect();
    let matrix = Array2::from_shape_vec((z.len(), 3), z.iter().flatten().copied().collect()).expect("n × 3");
    // A fixed, evenly spread sample for the silhouette.
    let step = z.len().div_ceil(SILHOUETTE_SAMPLE).max(1);
    let sample: Vec<[f64; 3]> = z.iter().step_by(step).copied().collect();
    let mut best: Option<(usize, f64, Vec<[f64; 3]>)> = None;
    let mut silhouettes = Vec::new();
    for k in K_RANGE {
        let centroids = fit(&matrix, k)?;
        let labels: Vec<usize> = sample.iter().map(|p| nearest(p, &centroids)).collect();
        let s = silhouette(&sample, &labels, k);
        silhouettes.push((k, s));
        if best.as_ref().is_none_or(|(_, b, _)| s > *b + 1e-9) {
            best = Some((k, s, centroids));
        }
    }
    let (k, _, centroids) = best.expect("K_RANGE is not empty");
    // Centroid order: repayment + on-time − DPD, standardised.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        let score = |c: &[f64; 3]| c[0] + c[2] - c[1];
        score(&centroids[a]).total_cmp(&score(&centroids[b]))
    });
    let mut tiers = vec![Tier::Bronze; k];
    for (rank, &segment) in order.iter().enumerate() {
        tiers[segment] = [Tier::Bronze, Tier::Silver, Tier::Gold][rank * 3 / k];
    }
    let model = SegmentModel { means, stds, centroids, tiers };
    let mut confusion = [[0usize; 3]; 3];
    let mut sizes = vec![0usize; k];
    for (zi, (_, rule)) in z.iter().zip(&raw) {
        let segment = nearest(zi, &model.centroids);
        sizes[segment] += 1;
        confusion[tier_index(*rule)][tier_index(model.tiers[segment])] += 1;
    }
    let agree: usize = (0..3).map(|i| confusion[i][i]).sum();
    let segments = (0..k)
        .map(|s| {
            let c = &model.centroids[s];
            let x: [f64; 3] = std::array::from_fn(|i| c[i] * stds[i] + means[i]);
            SegmentSummary { segment: s, tier: model.tiers[s], customers: sizes[s], repayment_rate: x[0], dpd: x[1].exp() - 1.0, on_time_rate: x[2] }
        })
        .collect();
    let report = SegmentReport {
        k,
        criterion: format!("highest mean silhouette over k = {}..={} (sample of at most {SILHOUETTE_SAMPLE} customers)", K_RANGE.start(), K_RANGE.end()),
        silhouettes,
        customers: raw.len(),
        without_due_bills: behaviours.len() - raw.len(),
        agreement: agree as f64 / raw.len() as f64,
        confusion,
        segments,
    };
    Ok((model, report))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    /// Behaviours of a generated book, as the tiering job sees them.
    pub(crate) fn book(customers: usize) -> Vec<Behaviour> {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let d = crate::lending::generate(customers, 3, as_of);
        let owner: std::collections::HashMap<&str, &str> = d.loans.iter().map(|l| (l.loan_id.as_str(), l.customer_number.as_str())).collect();
        let mut by: std::collections::BTreeMap<&str, Behaviour> = std::collections::BTreeMap::new();
        for l in &d.loans {
            let b = by.entry(l.customer_number.as_str()).or_default();
            if l.outstanding_amount > 0 {
                b.current_dpd = b.current_dpd.max(l.dpd);
            }
        }
        for bill in d.bills.iter().filter(|b| b.bill_scheduled_date <= as_of) {
            let Some(b) = owner.get(bill.loan_id.as_str()).and_then(|c| by.get_mut(c)) else { continue };
            b.total_bill += bill.amount;
            b.total_paid += bill.paid_amount;
            b.total_bills_count += 1;
            b.on_time_count += i64::from(bill.bill_paid_date.is_some_and(|p| p <= bill.bill_scheduled_date));
        }
        by.into_values().collect()
    }

    #[test]
    fn segments_are_ordered_into_tiers_and_mostly_agree_with_the_rule() {
        let behaviours = book(1_500);
        let (model, report) = train(&behaviours).unwrap();
        eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
        assert!(K_RANGE.contains(&report.k));
        assert_eq!(report.silhouettes.len(), 4);
        assert_eq!(report.customers + report.without_due_bills, behaviours.len());
        // Every tier has a segment, and a better centroid never has a lower tier.
        for t in [Tier::Bronze, Tier::Silver, Tier::Gold] {
            assert!(model.tiers.contains(&t), "{t:?} has no segment");
        }
        let gold = report.segments.iter().filter(|s| s.tier == Tier::Gold).map(|s| s.repayment_rate).fold(f64::INFINITY, f64::min);
        let bronze = report.segments.iter().filter(|s| s.tier == Tier::Bronze).map(|s| s.repayment_rate).fold(0.0, f64::max);
        assert!(gold > bronze, "Gold segments repay more than Bronze ones");
        assert!(report.agreement > 0.6, "agreement with the rule {}", report.agreement);
        // The same data gives the same model; assignment is the nearest centroid.
        assert_eq!(train(&behaviours).unwrap().0, model);
        let perfect = Behaviour { total_paid: 1_000_000, total_bill: 1_000_000, current_dpd: 0, on_time_count: 10, total_bills_count: 10 };
        assert_eq!(model.assign(&perfect).unwrap().1, Tier::Gold);
        let defaulted = Behaviour { total_paid: 100_000, total_bill: 1_000_000, current_dpd: 120, on_time_count: 1, total_bills_count: 10 };
        assert_eq!(model.assign(&defaulted).unwrap().1, Tier::Bronze);
        assert_eq!(model.assign(&Behaviour::default()), None, "no due bills, no segment");
    }

    #[test]
    fn too_few_customers_are_refused() {
        assert!(matches!(train(&book(10)), Err(SegmentError::TooFew(_))));
    }

    #[test]
    fn silhouette_prefers_the_true_clusters() {
        let pts: Vec<[f64; 3]> = (0..30).map(|i| [f64::from(i % 3) * 10.0 + f64::from(i) * 0.01, 0.0, 0.0]).collect();
        let right: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let wrong: Vec<usize> = (0..30).map(|i| (i / 10) % 3).collect();
        assert!(silhouette(&pts, &right, 3) > 0.9);
        assert!(silhouette(&pts, &wrong, 3) < 0.1);
    }
}
