r"""Census income: does a person earn more than $50K a year? (UCI Adult, after Helix.)

The data files live in ``adult/`` beside this module; ``adult/README.md`` says where
they come from. The DAG, top to bottom::

      raw_train   raw_test          sources: adult/adult.data, adult/adult.test
            \     /
              rows                  cleaned, stacked, ``is_test`` marks the split
               |
               |   feature extractors, one operator each: age_bucket,
               |   education_occupation, capital, hours_bucket,
               |   marital_relationship, country_group, demographics
               v
            features                sparse design matrix, encoders fit on training rows
               |
             model                  logistic regression with constant C
               |
             scores                 P(income > 50K) for the test rows
            /  |   \
    accuracy   f1   predictions     metrics and the exported predictions

``rows`` also feeds ``features``, ``model``, ``scores`` and the outputs (labels, split).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from censuslib.data import clean, held_out, labels, read_adult
from censuslib.features import (
    age_buckets,
    assemble,
    bucket_labels,
    categorical,
    country_regions,
    cross,
    log_amount,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from helixvcs import Workflow

wf = Workflow("census")

# Lower bounds of the weekly-hours buckets after the first: part time, full time, overtime.
HOURS_BOUNDS = (20, 35, 41, 50, 60)


# -- data -------------------------------------------------------------------------------


@wf.source("adult/adult.data")
def raw_train(path):
    return read_adult(path)


@wf.source("adult/adult.test")
def raw_test(path):
    return read_adult(path)


@wf.op
def rows(raw_train, raw_test):
    """Both files cleaned and stacked; ``is_test`` keeps them apart."""
    train, test = clean(raw_train), clean(raw_test)
    train = train.append_column("is_test", pa.array(np.zeros(train.num_rows, dtype=bool)))
    test = test.append_column("is_test", pa.array(np.ones(test.num_rows, dtype=bool)))
    return pa.concat_tables([train, test])


# -- feature extractors: each returns a table of feature columns for every row ------------


@wf.op
def age_bucket(rows):
    return pa.table({"age_bucket": age_buckets(rows.column("age"))})


@wf.op
def education_occupation(rows):
    education, occupation = rows.column("education"), rows.column("occupation")
    return pa.table(
        {
            "education_num": rows.column("education_num"),
            "occupation": categorical(occupation),
            "education_x_occupation": cross(education, occupation),
        }
    )


@wf.op
def capital(rows):
    return pa.table(
        {
            "log_capital_gain": log_amount(rows.column("capital_gain")),
            "log_capital_loss": log_amount(rows.column("capital_loss")),
        }
    )


@wf.op
def hours_bucket(rows):
    return pa.table({"hours_bucket": bucket_labels(rows.column("hours_per_week"), HOURS_BOUNDS)})


@wf.op
def marital_relationship(rows):
    return pa.table(
        {
            "marital_status": categorical(rows.column("marital_status")),
            "relationship": categorical(rows.column("relationship")),
        }
    )


@wf.op
def country_group(rows):
    return pa.table({"country_group": country_regions(rows.column("native_country"))})


@wf.op
def demographics(rows):
    return pa.table({name: categorical(rows.column(name)) for name in ("workclass", "race", "sex")})


# -- learning ---------------------------------------------------------------------------


@wf.op
def features(
    rows,
    age_bucket,
    education_occupation,
    capital,
    hours_bucket,
    marital_relationship,
    country_group,
    demographics,
):
    """The design matrix (scipy CSR) for all rows, encoders fit on the training rows."""
    blocks = [
        age_bucket,
        education_occupation,
        capital,
        hours_bucket,
        marital_relationship,
        country_group,
        demographics,
    ]
    return assemble(blocks, ~held_out(rows))


@wf.op
def model(features, rows, C=1.0):
    train = ~held_out(rows)
    classifier = LogisticRegression(C=C, max_iter=1000, random_state=0)
    return classifier.fit(features[train], labels(rows)[train])


@wf.op
def scores(model, features, rows):
    """P(income > 50K) for every test row."""
    return model.predict_proba(features[held_out(rows)])[:, 1]


# -- evaluation -------------------------------------------------------------------------


@wf.metric
def accuracy(scores, rows):
    return float(accuracy_score(labels(rows)[held_out(rows)], scores >= 0.5))


@wf.metric
def f1(scores, rows, threshold=0.5):
    return float(f1_score(labels(rows)[held_out(rows)], scores >= threshold))


@wf.output
def predictions(scores, rows):
    test = rows.filter(pa.array(held_out(rows)))
    return pa.table(
        {
            "age": test.column("age"),
            "education": test.column("education"),
            "occupation": test.column("occupation"),
            "label": test.column("label"),
            "probability": pa.array(scores),
            "predicted": pa.array((scores >= 0.5).astype(np.int8)),
        }
    )
