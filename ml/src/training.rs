//! The global classifier: the built-in corpus plus every row people
//! confirmed or corrected, and its score on the committed held-out split.

use crate::classifier::{Classifier, Labelled, Settings};
use crate::corpus::{generate, Example, Split};
use crate::metrics::Evaluation;

/// Examples per label of the training corpus, and its seed.
pub const CORPUS_PER_LABEL: usize = 300;
pub const CORPUS_SEED: u64 = 1;
/// Examples per label of the committed held-out split (`ml/corpus/heldout.csv`).
pub const HELDOUT_PER_LABEL: usize = 100;
/// A confirmed row counts this many times: there are few of them beside the
/// corpus, and they are the real thing.
pub const CONFIRMED_WEIGHT: usize = 3;

/// The committed held-out split: merchants the training split never shows.
pub fn heldout() -> Vec<Example> {
    generate(Split::HeldOut, HELDOUT_PER_LABEL, CORPUS_SEED)
}

/// The training split of the corpus.
pub fn corpus_train() -> Vec<Example> {
    generate(Split::Train, CORPUS_PER_LABEL, CORPUS_SEED)
}

fn labelled(examples: &[Example]) -> impl Iterator<Item = Labelled<'_>> {
    examples.iter().map(|e| Labelled { text: &e.text, amount: Some(e.amount), label: e.label })
}

/// The corpus rows, then `confirmed` [`CONFIRMED_WEIGHT`] times.
fn with_confirmed<'a>(corpus: &'a [Example], confirmed: &[Labelled<'a>]) -> Vec<Labelled<'a>> {
    let mut rows: Vec<Labelled> = labelled(corpus).collect();
    for _ in 0..CONFIRMED_WEIGHT {
        rows.extend_from_slice(confirmed);
    }
    rows
}

/// A trained global classifier and what it was trained and scored on.
pub struct Trained {
    pub classifier: Classifier,
    pub corpus_rows: usize,
    pub confirmed_rows: usize,
    /// A model trained on the training split (and the confirmed rows),
    /// scored on the held-out split; `None` when not asked for.
    pub heldout: Option<Evaluation>,
}

/// Trains the global classifier from the whole corpus (both splits: every
/// merchant the team listed) and `confirmed`. With `evaluate`, first trains
/// on the training split only and scores that on the held-out split.
pub fn train_global(confirmed: &[Labelled<'_>], settings: &Settings, evaluate: bool) -> Trained {
    let train = corpus_train();
    let held = heldout();
    let heldout = evaluate.then(|| {
        let rows = with_confirmed(&train, confirmed);
        let c = Classifier::train(&rows, settings).expect("the corpus is not empty");
        c.evaluate(&labelled(&held).collect::<Vec<_>>())
    });
    let mut corpus = train;
    // The held-out merchants, as many rows per label as the training split.
    corpus.extend(generate(Split::HeldOut, CORPUS_PER_LABEL / 4, CORPUS_SEED ^ 0xf00d));
    let rows = with_confirmed(&corpus, confirmed);
    let classifier = Classifier::train(&rows, settings).expect("the corpus is not empty");
    Trained { classifier, corpus_rows: corpus.len(), confirmed_rows: confirmed.len(), heldout }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::to_csv;

    #[test]
    fn the_committed_heldout_split_is_what_the_generator_makes() {
        // Regenerate with `arus ml corpus --out ml/corpus` after changing the
        // corpus (and update the README figures).
        let committed = include_str!("../corpus/heldout.csv");
        assert!(to_csv(&heldout()) == committed, "ml/corpus/heldout.csv is stale: run `arus ml corpus --out ml/corpus`");
    }
}
