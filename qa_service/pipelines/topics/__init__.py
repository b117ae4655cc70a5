"""Topic models for comments and customer messages (BERTopic with stable ids and pickle-free bundles).

``model`` fits, tags, saves and loads; ``editing`` merges topics and keeps ids stable across refits; ``text``
holds stop words, cleaning and labels. The names below are the package's public API.
"""

from qa_service.pipelines.topics.editing import RefitReport, match_topics, merge_assignment, merge_topics
from qa_service.pipelines.topics.model import OUTLIER, TASK, Topic, TopicModel
from qa_service.pipelines.topics.text import TOKEN_PATTERN, clean_for_topics, make_label, stop_words

__all__ = ["OUTLIER", "TASK", "TOKEN_PATTERN", "RefitReport", "Topic", "TopicModel", "clean_for_topics",
           "make_label", "match_topics", "merge_assignment", "merge_topics", "stop_words"]
