//! Multinomial logistic regression over sparse features, trained with
//! AdaGrad (per-weight step sizes suit text, where most features are rare).
//! Weights are stored feature-major (`dims × classes`), so a prediction
//! reads one contiguous row per active feature.

use crate::rng::Rng;
use crate::text::Sparse;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub epochs: u32,
    pub learning_rate: f32,
    /// L2 penalty applied to the weights a sample touches.
    pub l2: f32,
    /// Seed of the shuffle: the same data and seed train the same model.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { epochs: 12, learning_rate: 0.1, l2: 1e-6, seed: 42 }
    }
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticRegression {
    pub classes: usize,
    pub dims: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl LogisticRegression {
    /// Trains on `samples` (features, class index below `classes`).
    pub fn train(samples: &[(Sparse, usize)], classes: usize, dims: usize, config: &TrainConfig) -> Self {
        let mut model = LogisticRegression { classes, dims, weights: vec![0.0; dims * classes], bias: vec![0.0; classes] };
        if classes == 0 || samples.is_empty() {
            return model;
        }
        let mut squared = vec![0.0f32; dims * classes];
        let mut bias_squared = vec![0.0f32; classes];
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let mut rng = Rng::new(config.seed);
        let mut p = vec![0.0f32; classes];
        const EPS: f32 = 1e-8;
        for _ in 0..config.epochs {
            rng.shuffle(&mut order);
            for &s in &order {
                let (x, y) = &samples[s];
                model.logits_into(x, &mut p);
                softmax(&mut p);
                p[*y] -= 1.0; // gradient of the loss w.r.t. each logit
                for c in 0..classes {
                    let g = p[c];
                    bias_squared[c] += g * g;
                    model.bias[c] -= config.learning_rate * g / (bias_squared[c].sqrt() + EPS);
                }
                for &(i, v) in x {
                    let row = i as usize * classes;
                    for c in 0..classes {
                        let w = &mut model.weights[row + c];
                        let g = p[c] * v + config.l2 * *w;
                        squared[row + c] += g * g;
                        *w -= config.learning_rate * g / (squared[row + c].sqrt() + EPS);
                    }
                }
            }
        }
        model
    }

    /// The score of every class before the softmax, into `out` (`classes` long).
    pub fn logits_into(&self, x: &Sparse, out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for &(i, v) in x {
            let start = i as usize * self.classes;
            let Some(row) = self.weights.get(start..start + self.classes) else { continue };
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }

    /// The probability of every class.
    pub fn probabilities(&self, x: &Sparse) -> Vec<f32> {
        let mut p = vec![0.0; self.classes];
        if self.classes > 0 {
            self.logits_into(x, &mut p);
            softmax(&mut p);
        }
        p
    }

    /// The most probable class and its probability.
    pub fn predict(&self, x: &Sparse) -> (usize, f32) {
        let p = self.probabilities(x);
        p.iter().enumerate().fold((0, 0.0), |best, (c, &q)| if q > best.1 { (c, q) } else { best })
    }

    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// The rows of the weight matrix that are not all zero, with their
    /// feature index: a trained model touches a small share of the hashed
    /// space, so this is what is worth storing.
    pub fn nonzero_rows(&self) -> impl Iterator<Item = (u32, &[f32])> {
        self.weights.chunks_exact(self.classes.max(1)).enumerate().filter(|(_, row)| row.iter().any(|w| *w != 0.0)).map(|(i, row)| (i as u32, row))
    }

    /// A model from its bias and the rows [`Self::nonzero_rows`] gave;
    /// `None` when a row does not fit `dims × classes`.
    pub fn from_rows<'a>(classes: usize, dims: usize, bias: Vec<f32>, rows: impl IntoIterator<Item = (u32, &'a [f32])>) -> Option<Self> {
        if bias.len() != classes {
            return None;
        }
        let mut weights = vec![0.0; dims.checked_mul(classes)?];
        for (i, row) in rows {
            let start = (i as usize).checked_mul(classes)?;
            if row.len() != classes || i as usize >= dims {
                return None;
            }
            weights[start..start + classes].copy_from_slice(row);
        }
        Some(LogisticRegression { classes, dims, weights, bias })
    }
}

/// Turns scores into probabilities in place.
pub fn softmax(logits: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for l in logits.iter_mut() {
        *l = (*l - max).exp();
        sum += *l;
    }
    for l in logits.iter_mut() {
        *l /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{features, FeatureConfig};

    #[test]
    fn a_small_corpus_is_learned_and_unseen_rows_of_known_merchants_follow() {
        let config = FeatureConfig { bits: 14, ..FeatureConfig::default() };
        let corpus = [
            ("QRIS MIE GACOAN", -68_000, 0usize),
            ("KARTU DEBIT RM PADANG SEDERHANA", -45_000, 0),
            ("QRIS KOPI KENANGAN", -30_000, 0),
            ("PLN PREPAID 512345", -200_000, 1),
            ("TELKOMSEL PULSA 0812", -50_000, 1),
            ("PDAM TIRTA", -120_000, 1),
            ("SWITCHING CR TRANSFER DR 014 SITI", 3_500_000, 2),
            ("TRSF E-BANKING CR 0211/FTSCY BUDI", 1_000_000, 2),
            ("SETORAN TUNAI", 2_000_000, 2),
        ];
        let samples: Vec<(Sparse, usize)> = corpus.iter().map(|(t, a, c)| (features(t, Some(*a), &config), *c)).collect();
        let model = LogisticRegression::train(&samples, 3, config.dimensions(), &TrainConfig::default());
        for ((x, _), (text, _, class)) in samples.iter().zip(&corpus) {
            assert_eq!(model.predict(x).0, *class, "{text}");
        }
        let (class, confidence) = model.predict(&features("QRIS MIE GACOAN 7781 BANDUNG", Some(-72_000), &config));
        assert_eq!(class, 0);
        assert!(confidence > 0.5, "{confidence}");
        let p = model.probabilities(&features("PLN PREPAID 998877", Some(-100_000), &config));
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert_eq!(p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, _)| c), Some(1));
        // The same data and seed: the same model.
        assert_eq!(model, LogisticRegression::train(&samples, 3, config.dimensions(), &TrainConfig::default()));
    }
}
