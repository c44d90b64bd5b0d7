"""The shared core of assessments: events and their subscribers, the challenge vocabularies,
and sending a task by name. It imports no feature."""
