"""Old import path of ``assessments.authoring.services``, for tests/grading/ only.

tests/grading/ belongs to the grading work running alongside this restructure and may not
be edited here; it imports ``challenge_set_import`` from this path. Delete this module when
the merge points tests/grading/test_answer_keys.py at ``assessments.authoring.services``.
"""

from assessments.authoring.services import challenge_set_import

__all__ = ["challenge_set_import"]
