"""scikit-learn's TfidfVectorizer + LogisticRegression on our corpus split,
the baseline of bench/classifier/run.sh. The amount is given as words
(direction and order of magnitude), the same information our features carry.
Prints JSON: macro-F1, accuracy, and single-thread predictions/s, one
transaction at a time (as the stream classifies) and for the whole test set
in one call (scikit-learn's best case)."""
import csv, json, math, sys, time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline, make_union


def load(path):
    texts, labels = [], []
    for row in csv.DictReader(open(path, newline="", encoding="utf-8")):
        amount = int(row["amount"])
        direction = "arusin" if amount >= 0 else "arusout"
        magnitude = int(math.log10(max(abs(amount), 1)))
        texts.append(f"{row['text']} {direction} {direction}mag{magnitude}")
        labels.append(row["label"])
    return texts, labels


train_x, train_y = load(sys.argv[1])
test_x, test_y = load(sys.argv[2])
model = make_pipeline(
    make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
    ),
    LogisticRegression(max_iter=2000),
)
started = time.perf_counter()
model.fit(train_x, train_y)
training_seconds = time.perf_counter() - started

started = time.perf_counter()
predicted = model.predict(test_x)
batch = len(test_x) / (time.perf_counter() - started)

sample = test_x[:1000]
started = time.perf_counter()
for text in sample:
    model.predict([text])
one = len(sample) / (time.perf_counter() - started)

print(json.dumps({
    "train_rows": len(train_x),
    "test_rows": len(test_x),
    "accuracy": accuracy_score(test_y, predicted),
    "macro_f1": f1_score(test_y, predicted, average="macro"),
    "training_seconds": training_seconds,
    "predictions_per_second_batch": batch,
    "predictions_per_second_one": one,
}))
