"""Grading sandbox: run untrusted PyTorch code in locked-down, pre-forked children.

``server`` (run as ``python -m grading.sandbox.server``) needs torch and the
sandbox interpreter; ``client`` and ``protocol`` need only the standard library
and are what the Django application imports. Importing this package imports
nothing else, so it is safe in either interpreter.
"""
