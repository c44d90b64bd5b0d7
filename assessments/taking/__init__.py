"""Taking a test: the session and its clock, answering a question, and the candidate's pages."""
