//! The transaction classifier: hashed text and amount features
//! ([`crate::text`]) into a multinomial logistic regression
//! ([`crate::logistic`]), with its probabilities calibrated by temperature
//! scaling on a slice of the training rows the model did not learn from.
//! The confidence of a prediction is its top (calibrated) probability.
//!
//! Works on any labels in any language: the labels are whatever the
//! training rows say.

use serde::{Deserialize, Serialize};

use crate::logistic::{softmax, LogisticRegression, TrainConfig};
use crate::metrics::{evaluate, Evaluation};
use crate::rng::Rng;
use crate::text::{features, FeatureConfig, Sparse};

/// The text the classifier reads of a transaction: its description, and
/// its counterparty when there is one.
pub fn transaction_text<'a>(description: &'a str, counterparty: Option<&str>) -> std::borrow::Cow<'a, str> {
    match counterparty {
        Some(c) if !c.trim().is_empty() => format!("{description} {c}").into(),
        _ => description.into(),
    }
}

/// A labelled row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labelled<'a> {
    pub text: &'a str,
    pub amount: Option<i64>,
    pub label: &'a str,
}

/// How a classifier is trained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub features: FeatureConfig,
    pub train: TrainConfig,
    /// Share of the rows set aside to fit the temperature (then the model is
    /// trained again on every row). 0 leaves the probabilities as they are.
    pub calibration_fraction: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { features: FeatureConfig::default(), train: TrainConfig::default(), calibration_fraction: 0.1 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrainError {
    #[error("no labelled rows to learn from")]
    NoRows,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    #[error("not an arus classifier (bad magic bytes)")]
    Magic,
    #[error("the classifier file is cut short")]
    Truncated,
    #[error("the classifier header is unreadable: {0}")]
    Header(String),
    #[error("the classifier's weights do not fit its header")]
    Shape,
}

/// A prediction: the class index and its calibrated probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub class: usize,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    labels: Vec<String>,
    features: FeatureConfig,
    model: LogisticRegression,
    /// Logits are divided by this before the softmax (fitted; 1 = as trained).
    temperature: f32,
}

/// What the stored file's header says.
#[derive(Serialize, Deserialize)]
struct Header {
    labels: Vec<String>,
    features: FeatureConfig,
    temperature: f32,
    dims: usize,
    rows: usize,
}

const MAGIC: &[u8; 8] = b"ARUSCLF1";

impl Classifier {
    /// Trains on `rows`. The labels are the distinct labels of `rows`, sorted.
    pub fn train(rows: &[Labelled<'_>], settings: &Settings) -> Result<Self, TrainError> {
        if rows.is_empty() {
            return Err(TrainError::NoRows);
        }
        let mut labels: Vec<String> = rows.iter().map(|r| r.label.to_owned()).collect();
        labels.sort_unstable();
        labels.dedup();
        let samples: Vec<(Sparse, usize)> = rows
            .iter()
            .map(|r| (features(r.text, r.amount, &settings.features), labels.binary_search_by(|l| l.as_str().cmp(r.label)).unwrap_or(0)))
            .collect();
        let dims = settings.features.dimensions();
        let k = labels.len();
        let calibration = ((samples.len() as f32 * settings.calibration_fraction) as usize).min(samples.len() / 2);
        let temperature = if calibration >= 20 {
            let mut order: Vec<usize> = (0..samples.len()).collect();
            Rng::new(settings.train.seed ^ 0xca1b).shuffle(&mut order);
            let (held, learn) = order.split_at(calibration);
            let learn: Vec<(Sparse, usize)> = learn.iter().map(|&i| samples[i].clone()).collect();
            let model = LogisticRegression::train(&learn, k, dims, &settings.train);
            let held: Vec<&(Sparse, usize)> = held.iter().map(|&i| &samples[i]).collect();
            fit_temperature(&model, &held)
        } else {
            1.0
        };
        let model = LogisticRegression::train(&samples, k, dims, &settings.train);
        Ok(Classifier { labels, features: settings.features, model, temperature })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// The calibrated probability of every label (in [`Self::labels`] order).
    pub fn probabilities(&self, text: &str, amount: Option<i64>) -> Vec<f32> {
        let mut p = vec![0.0; self.labels.len()];
        self.scores(&features(text, amount, &self.features), &mut p);
        p
    }

    fn scores(&self, x: &Sparse, p: &mut [f32]) {
        self.model.logits_into(x, p);
        for v in p.iter_mut() {
            *v /= self.temperature;
        }
        softmax(p);
    }

    /// The most probable label of a transaction and its probability.
    pub fn predict(&self, text: &str, amount: Option<i64>) -> Prediction {
        let p = self.probabilities(text, amount);
        let (class, confidence) = p.iter().enumerate().fold((0, 0.0f32), |best, (c, &q)| if q > best.1 { (c, q) } else { best });
        Prediction { class, confidence }
    }

    /// The label of class `class`.
    pub fn label(&self, class: usize) -> &str {
        &self.labels[class]
    }

    /// Scores the classifier on `rows`; a label it does not know counts as
    /// wrong (and appears in the per-class list with recall 0).
    pub fn evaluate(&self, rows: &[Labelled<'_>]) -> Evaluation {
        let mut labels = self.labels.clone();
        let mut truth = Vec::with_capacity(rows.len());
        let mut predicted = Vec::with_capacity(rows.len());
        let mut confidence = Vec::with_capacity(rows.len());
        for row in rows {
            let t = match labels.iter().position(|l| l == row.label) {
                Some(t) => t,
                None => {
                    labels.push(row.label.to_owned());
                    labels.len() - 1
                }
            };
            let p = self.predict(row.text, row.amount);
            truth.push(t);
            predicted.push(p.class);
            confidence.push(p.confidence);
        }
        evaluate(&labels, &truth, &predicted, &confidence)
    }

    /// The stored form: magic, a JSON header, the bias, then the non-zero
    /// weight rows (index and one little-endian `f32` per label).
    pub fn to_bytes(&self) -> Vec<u8> {
        let rows: Vec<(u32, &[f32])> = self.model.nonzero_rows().collect();
        let header = Header {
            labels: self.labels.clone(),
            features: self.features,
            temperature: self.temperature,
            dims: self.model.dims,
            rows: rows.len(),
        };
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let k = self.labels.len();
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 4 * k * (rows.len() + 1) + 4 * rows.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for b in self.model.bias() {
            out.extend_from_slice(&b.to_le_bytes());
        }
        for (i, row) in rows {
            out.extend_from_slice(&i.to_le_bytes());
            for w in row {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    /// Reads what [`Self::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(FormatError::Magic)?;
        let (len, rest) = take(rest, 4)?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| FormatError::Truncated)?) as usize;
        let (header, mut rest) = take(rest, len)?;
        let header: Header = serde_json::from_slice(header).map_err(|e| FormatError::Header(e.to_string()))?;
        let k = header.labels.len();
        if header.dims != header.features.dimensions() || k == 0 {
            return Err(FormatError::Shape);
        }
        let floats = |bytes: &[u8]| -> Vec<f32> { bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect() };
        let (bias, after) = take(rest, 4 * k)?;
        rest = after;
        let mut rows = Vec::with_capacity(header.rows);
        for _ in 0..header.rows {
            let (index, after) = take(rest, 4)?;
            let (weights, after) = take(after, 4 * k)?;
            rest = after;
            rows.push((u32::from_le_bytes([index[0], index[1], index[2], index[3]]), floats(weights)));
        }
        if !rest.is_empty() {
            return Err(FormatError::Shape);
        }
        let model = LogisticRegression::from_rows(k, header.dims, floats(bias), rows.iter().map(|(i, w)| (*i, w.as_slice()))).ok_or(FormatError::Shape)?;
        if !(header.temperature.is_finite() && header.temperature > 0.0) {
            return Err(FormatError::Header("temperature must be positive".into()));
        }
        Ok(Classifier { labels: header.labels, features: header.features, model, temperature: header.temperature })
    }
}

fn take(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), FormatError> {
    if bytes.len() < n { Err(FormatError::Truncated) } else { Ok(bytes.split_at(n)) }
}

/// The temperature that minimises the negative log-likelihood of `held`
/// (golden-section search over log T in [1/20, 20]).
fn fit_temperature(model: &LogisticRegression, held: &[&(Sparse, usize)]) -> f32 {
    let k = model.classes;
    let logits: Vec<(Vec<f32>, usize)> = held
        .iter()
        .map(|(x, y)| {
            let mut l = vec![0.0; k];
            model.logits_into(x, &mut l);
            (l, *y)
        })
        .collect();
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        let mut p = vec![0.0f32; k];
        logits
            .iter()
            .map(|(l, y)| {
                for (o, v) in p.iter_mut().zip(l) {
                    *o = v / t;
                }
                softmax(&mut p);
                -(f64::from(p[*y]).max(1e-12)).ln()
            })
            .sum()
    };
    let (mut lo, mut hi) = ((1.0f64 / 20.0).ln(), 20.0f64.ln());
    let ratio = (5.0f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let a = hi - ratio * (hi - lo);
        let b = lo + ratio * (hi - lo);
        if nll(a) < nll(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    ((lo + hi) / 2.0).exp() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{generate, Split};

    fn rows(examples: &[crate::corpus::Example]) -> Vec<Labelled<'_>> {
        examples.iter().map(|e| Labelled { text: &e.text, amount: Some(e.amount), label: e.label }).collect()
    }

    #[test]
    fn the_starting_corpus_is_learned_and_unseen_merchants_are_mostly_right() {
        let train = crate::training::corpus_train();
        let held_out = crate::training::heldout();
        let classifier = Classifier::train(&rows(&train), &Settings::default()).unwrap();
        let seen = classifier.evaluate(&rows(&train));
        let unseen = classifier.evaluate(&rows(&held_out));
        assert!(seen.accuracy > 0.95, "training accuracy {}", seen.accuracy);
        assert!(unseen.macro_f1 > 0.6, "held-out macro-F1 {}", unseen.macro_f1);
        assert!(classifier.temperature() > 0.0);
        let p = classifier.predict("QRIS MIE GACOAN 8812", Some(-45_000));
        assert_eq!(classifier.label(p.class), "food_drink");
        assert!(p.confidence > 0.5 && p.confidence <= 1.0);
        let p = classifier.predict("BYR VIA E-BANKING PLN PREPAID 5123", Some(-200_000));
        assert_eq!(classifier.label(p.class), "bills_utilities");
    }

    #[test]
    fn a_stored_classifier_predicts_exactly_as_before_and_damage_is_refused() {
        let settings = Settings { features: FeatureConfig { bits: 12, ..FeatureConfig::default() }, ..Settings::default() };
        let train = generate(Split::Train, 10, 5);
        let classifier = Classifier::train(&rows(&train), &settings).unwrap();
        let bytes = classifier.to_bytes();
        let back = Classifier::from_bytes(&bytes).unwrap();
        assert_eq!(back, classifier);
        assert_eq!(Classifier::from_bytes(b"PK\x03\x04"), Err(FormatError::Magic));
        assert_eq!(Classifier::from_bytes(&bytes[..bytes.len() - 3]), Err(FormatError::Truncated));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Classifier::from_bytes(&longer), Err(FormatError::Shape));
    }

    #[test]
    fn any_labels_in_any_language_are_learned() {
        let data = [
            ("coffee at starbucks", "eating out"),
            ("lunch at mcdonalds", "eating out"),
            ("dinner pizza hut", "eating out"),
            ("uber ride to airport", "travel"),
            ("train ticket amtrak", "travel"),
            ("taxi downtown", "travel"),
        ];
        let rows: Vec<Labelled> = data.iter().map(|(t, l)| Labelled { text: t, amount: None, label: l }).collect();
        let settings = Settings { features: FeatureConfig { bits: 12, ..FeatureConfig::default() }, ..Settings::default() };
        let c = Classifier::train(&rows, &settings).unwrap();
        assert_eq!(c.labels(), ["eating out", "travel"]);
        assert_eq!(c.label(c.predict("coffee and lunch", None).class), "eating out");
        assert_eq!(c.label(c.predict("uber taxi", None).class), "travel");
        assert_eq!(Classifier::train(&[], &settings), Err(TrainError::NoRows));
    }
}
