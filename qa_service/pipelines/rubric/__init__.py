"""Rubric scoring: the scorer (N/A, totals, confidence), its detectors (one class per detector type, picked by
name) and the conversation metrics they read.

``from qa_service.pipelines.rubric import RubricScorer`` is the entry point most code needs.
"""

from qa_service.pipelines.rubric.detectors import (DEFAULT_PII_ENTITIES, DEFAULT_SEMANTIC_THRESHOLD, DETECTORS,
                                                   DetectionContext, Detector, Finding, find_pii,
                                                   pattern_evidence, pii_evidence)
from qa_service.pipelines.rubric.metrics import conversation_metrics
from qa_service.pipelines.rubric.scorer import RubricScorer, policy_total, rubric_totals, sentiment_trajectory

__all__ = [
    "DEFAULT_PII_ENTITIES", "DEFAULT_SEMANTIC_THRESHOLD", "DETECTORS", "DetectionContext", "Detector", "Finding",
    "RubricScorer", "conversation_metrics", "find_pii", "pattern_evidence", "pii_evidence", "policy_total",
    "rubric_totals", "sentiment_trajectory",
]
