//! How good a classifier is on labelled rows: accuracy, macro-F1,
//! precision and recall per class, and how well its confidence matches its
//! accuracy (expected calibration error).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows whose true label this is.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub rows: usize,
    pub accuracy: f64,
    /// The unweighted mean of the F1 of every class with support or predictions.
    pub macro_f1: f64,
    /// Expected calibration error over ten confidence bins: how far, on
    /// average, the stated confidence is from the share actually right.
    pub calibration_error: f64,
    pub per_class: Vec<ClassMetrics>,
}

/// Scores predictions: `truth[i]` and `predicted[i]` index `labels`;
/// `confidence[i]` is the probability the classifier gave its answer.
pub fn evaluate(labels: &[String], truth: &[usize], predicted: &[usize], confidence: &[f32]) -> Evaluation {
    let n = truth.len();
    let k = labels.len();
    let (mut tp, mut fp, mut fne) = (vec![0usize; k], vec![0usize; k], vec![0usize; k]);
    let mut correct = 0;
    for (&t, &p) in truth.iter().zip(predicted) {
        if t == p {
            correct += 1;
            tp[t] += 1;
        } else {
            fp[p] += 1;
            fne[t] += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let precision = ratio(tp[c], tp[c] + fp[c]);
            let recall = ratio(tp[c], tp[c] + fne[c]);
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            ClassMetrics { label: labels[c].clone(), precision, recall, f1, support: tp[c] + fne[c] }
        })
        .collect();
    let present: Vec<&ClassMetrics> = per_class.iter().enumerate().filter(|(c, m)| m.support > 0 || fp[*c] > 0).map(|(_, m)| m).collect();
    let macro_f1 = if present.is_empty() { 0.0 } else { present.iter().map(|m| m.f1).sum::<f64>() / present.len() as f64 };
    Evaluation {
        rows: n,
        accuracy: ratio(correct, n),
        macro_f1,
        calibration_error: calibration_error(truth, predicted, confidence),
        per_class,
    }
}

/// Expected calibration error with ten equal-width bins.
pub fn calibration_error(truth: &[usize], predicted: &[usize], confidence: &[f32]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for ((&t, &p), &c) in truth.iter().zip(predicted).zip(confidence) {
        let bin = ((c as f64 * 10.0) as usize).min(9);
        bins[bin].0 += 1;
        bins[bin].1 += c as f64;
        bins[bin].2 += usize::from(t == p);
    }
    let n = truth.len().max(1) as f64;
    bins.iter().filter(|b| b.0 > 0).map(|&(count, conf, right)| (count as f64 / n) * (conf / count as f64 - right as f64 / count as f64).abs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_a_hand_count() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // a: 2 right, 1 called b. b: 1 right. c: never predicted, 1 called a.
        let truth = [0, 0, 0, 1, 2];
        let predicted = [0, 0, 1, 1, 0];
        let e = evaluate(&labels, &truth, &predicted, &[0.9, 0.9, 0.6, 0.8, 0.7]);
        assert_eq!(e.accuracy, 0.6);
        let a = &e.per_class[0];
        assert_eq!((a.precision, a.recall, a.support), (2.0 / 3.0, 2.0 / 3.0, 3));
        let b = &e.per_class[1];
        assert_eq!((b.precision, b.recall), (0.5, 1.0));
        assert_eq!(e.per_class[2].f1, 0.0);
        let f1_b = 2.0 * 0.5 / 1.5;
        assert!((e.macro_f1 - (2.0 / 3.0 + f1_b + 0.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_confident_liar_is_badly_calibrated() {
        let truth = [0, 0, 0, 0];
        assert_eq!(calibration_error(&truth, &[0, 0, 0, 0], &[1.0, 1.0, 1.0, 1.0]), 0.0);
        assert!((calibration_error(&truth, &[1, 1, 1, 1], &[0.95, 0.95, 0.95, 0.95]) - 0.95).abs() < 1e-6);
    }
}
