"""Partial JSON matching and expected counts used by scenario conditions."""

from __future__ import annotations

import pytest

from harness.scenarios.counting import CountSpec
from harness.scenarios.match import mismatches

RESULT = {
    "source": {"bucket": "b", "key": "ingest/x/1.jpg", "etag": "ab12", "size": 2048},
    "labels": [
        {"Name": "Person", "Confidence": 99.1, "Instances": [{"Confidence": 98}]},
        {"Name": "City", "Confidence": 88.0},
    ],
    "label_model_version": "3.0",
}


@pytest.mark.parametrize(
    "expected",
    [
        {"source": {"key": "{key}"}},
        {"labels": [{"Name": "City"}, {"Name": "Person", "Confidence": {"$gte": 99}}]},
        {"labels": {"$len": 2}},
        {"labels": {"$len": {"$gte": 1, "$lte": 5}}},
        {"labels": {"$each": {"Confidence": {"$gt": 80}}}},
        {"labels": {"$contains": {"Name": "Person"}}},
        {"source": {"etag": {"$regex": "^[0-9a-f]{4}$"}, "size": {"$gt": 1024, "$lt": 4096}}},
        {"label_model_version": {"$in": ["2.0", "3.0"]}},
        {"missing": {"$exists": False}},
        {"source": {"key": {"$contains": "x/1"}}},
        {"labels": [{"Name": {"$not": "Dog"}}]},
    ],
)
def test_matching_expectations(expected):
    assert mismatches(expected, RESULT, {"key": "ingest/x/1.jpg"}) == []


@pytest.mark.parametrize(
    ("expected", "reason"),
    [
        ({"source": {"key": "{key}"}}, '$.source.key: expected "ingest/y.jpg"'),
        ({"labels": [{"Name": "Dog"}]}, '$.labels[0]: no element matches {"Name": "Dog"}'),
        ({"labels": {"$len": 3}}, "len($.labels): expected 3, got 2"),
        ({"source": {"size": {"$lt": 100}}}, "$.source.size: 2048 is not lt 100"),
        ({"nope": 1}, "$.nope: missing"),
        ({"source": {"etag": {"$regex": "^z"}}}, "does not match /^z/"),
        ({"label_model_version": 3.0}, '$.label_model_version: expected 3.0, got "3.0"'),
        ({"labels": {"$each": {"Name": "Person"}}}, '$.labels[1].Name: expected "Person"'),
        ({"source": {"etag": {"$exists": False}}}, "$.source.etag: expected to be absent"),
        ({"source": []}, "$.source: expected a list"),
    ],
)
def test_mismatches_say_where_and_why(expected, reason):
    found = mismatches(expected, RESULT, {"key": "ingest/y.jpg"})
    assert found and reason in found[0], found


def test_booleans_and_numbers_are_not_confused():
    assert mismatches({"a": 1}, {"a": True}, {}) != []
    assert mismatches({"a": True}, {"a": 1}, {}) != []
    assert mismatches({"a": 2}, {"a": 2.0}, {}) == []


@pytest.mark.parametrize(
    ("spec", "value", "ok"),
    [
        (CountSpec(equals=3), 3, True),
        (CountSpec(equals=3), 4, False),
        (CountSpec(at_least=1), 0, False),
        (CountSpec(at_least=1, at_most=2), 2, True),
        (CountSpec(at_most=2), 3, False),
    ],
)
def test_count_specs(spec, value, ok):
    assert spec.ok(value) is ok
    assert spec.describe()
