"""Reports: a candidate's report and its share links, results and the results CSV, and the
item analytics of a set with its charts."""
