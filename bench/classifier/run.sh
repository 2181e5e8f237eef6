#!/usr/bin/env bash
# The classifier benchmark in one command: our classifier against
# scikit-learn's TfidfVectorizer + LogisticRegression on the same split of
# our corpus (train.csv; heldout.csv = merchants training never shows).
# Builds arus in release mode, installs scikit-learn from PyPI into
# .tools/venv, and prints macro-F1 and single-thread predictions/s of both,
# with the targets (macro-F1 ≥ scikit-learn's − 0.01; ≥ 10× its predictions/s).
#
#   bash bench/classifier/run.sh
#
# Set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
# One thread for everyone: BLAS and OpenMP would otherwise use every core.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

venv=.tools/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import sklearn' 2>/dev/null || "$venv/bin/pip" install --quiet scikit-learn

cargo build --release --bin arus
arus="${CARGO_TARGET_DIR:-target}/release/arus"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$arus" ml corpus --out "$work" >/dev/null
cmp -s "$work/heldout.csv" ml/corpus/heldout.csv || { echo "ml/corpus/heldout.csv is stale: run arus ml corpus --out ml/corpus" >&2; exit 1; }

echo "our classifier (hashed word 1-2-grams + char 3-5-grams + amount, logistic regression, Rust):"
"$arus" ml eval --data "$work/train.csv" --test "$work/heldout.csv" --amount-col amount --json > "$work/ours.json"
echo "scikit-learn $("$venv/bin/python" -c 'import sklearn; print(sklearn.__version__)') (TfidfVectorizer word 1-2 + char_wb 3-5, LogisticRegression):"
"$venv/bin/python" bench/classifier/sklearn_baseline.py "$work/train.csv" "$work/heldout.csv" > "$work/sklearn.json"
"$venv/bin/python" - "$work/ours.json" "$work/sklearn.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1])); sk = json.load(open(sys.argv[2]))
e = ours["evaluation"]
print(f"{'':34} {'arus':>12} {'scikit-learn':>14}")
print(f"{'training rows / test rows':34} {ours['train_rows']:>6}/{ours['test_rows']:<5} {sk['train_rows']:>8}/{sk['test_rows']:<5}")
print(f"{'accuracy':34} {e['accuracy']:>12.4f} {sk['accuracy']:>14.4f}")
print(f"{'macro-F1':34} {e['macro_f1']:>12.4f} {sk['macro_f1']:>14.4f}")
print(f"{'training time (s)':34} {ours['training_seconds']:>12.2f} {sk['training_seconds']:>14.2f}")
print(f"{'predictions/s, one at a time':34} {ours['predictions_per_second']:>12.0f} {sk['predictions_per_second_one']:>14.0f}")
print(f"{'predictions/s, whole test set':34} {'(same)':>12} {sk['predictions_per_second_batch']:>14.0f}")
delta = e["macro_f1"] - sk["macro_f1"]
ratio_one = ours["predictions_per_second"] / sk["predictions_per_second_one"]
ratio_batch = ours["predictions_per_second"] / sk["predictions_per_second_batch"]
print()
print(f"macro-F1: arus − scikit-learn = {delta:+.4f} (target ≥ −0.01): {'met' if delta >= -0.01 else 'NOT met'}")
print(f"speed: {ratio_one:.0f}× scikit-learn one at a time, {ratio_batch:.1f}× its batched prediction (target ≥ 10×): {'met' if ratio_batch >= 10 else 'NOT met'}")
PY
