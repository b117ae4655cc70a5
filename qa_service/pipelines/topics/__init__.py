"""Topic models for comments and customer messages (BERTopic with stable ids and pickle-free bundles).

``model`` fits, tags, saves and loads; ``editing`` reduces and merges topics and keeps ids stable across refits;
``labels`` chooses readable labels and keywords; ``text`` holds stop words and cleaning. The names below are the
package's public API.
"""

from qa_service.pipelines.topics.editing import (RefitReport, match_topics, merge_assignment, merge_topics,
                                                 reduce_topics)
from qa_service.pipelines.topics.labels import choose_labels, phrase_candidates
from qa_service.pipelines.topics.model import OUTLIER, TASK, Topic, TopicModel, truncate
from qa_service.pipelines.topics.text import TOKEN_PATTERN, clean_for_topics, stop_words

__all__ = ["OUTLIER", "TASK", "TOKEN_PATTERN", "RefitReport", "Topic", "TopicModel", "choose_labels",
           "clean_for_topics", "match_topics", "merge_assignment", "merge_topics", "phrase_candidates",
           "reduce_topics", "stop_words", "truncate"]
