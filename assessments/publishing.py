"""Old import path of ``assessments.authoring.publishing``, for tests/grading/ only.

tests/grading/ belongs to the grading work running alongside this restructure and may not
be edited here; it imports publishing from this path. Delete this module when the merge
points tests/grading/test_answer_keys.py at ``assessments.authoring.publishing``.
"""

from assessments.authoring.publishing import PublishRefused, challenge_set_publish

__all__ = ["PublishRefused", "challenge_set_publish"]
