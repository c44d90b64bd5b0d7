"""Variants: a question's variables drawn by an author's generator, its key and wrong options
computed by running the rendered programs.

Everything here runs the author's code in the sandbox only: the generator (with ``seed``
set) must leave a dict in ``variables``, which is read through ``grading.schema`` before use
(plain ints, floats, bools, short texts, bounded lists). Templates (prompt, snippet, hint,
explanation, misconceptions) name variables as ``{{ name }}`` and are filled by plain
substitution, never ``eval`` or ``str.format``; how each kind of value is written is
``format_variable``. The key of a variant is what its rendered snippet prints (predict
output) or raises (debug); each misconception is a program run on the same variables (or a
text template) whose result is a wrong option. A draw whose options collide is drawn again,
a bounded number of times.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from grading.graders.code import RESULTS_NAME, build_harness
from grading.sandbox.client import SandboxClient
from grading.schema import SchemaError, read_report, read_variables
from grading.values import ValueParseError, parse_exception_text, printed_outputs_match

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}")
# Draws of one seed tried before a variant is given up (each draw is the seed's next one).
MAX_DRAWS = 6
# The author's programs get the generous limits of key checks, not a candidate's.
VARIANT_LIMITS = {"wall_seconds": 20, "cpu_seconds": 15, "memory_mb": 2048, "output_bytes": 65536}
TEMPLATE_FIELDS = ("prompt", "code", "hint", "explanation")


class VariantError(Exception):
    """The author's generator or programs cannot make this variant (the author's fault)."""

    def __init__(self, message: str, *, variables: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.variables = variables or {}


class TemplateError(ValueError):
    """A template names a variable the generator did not draw."""


def format_variable(value: Any) -> str:
    """Write a variable as Python writes the literal: ``3``, ``0.5``, ``True``, ``[1.0, 2.0]``.

    Floats use the shortest text that reads back to the same float (``repr``), so ``2.0``
    stays a float in code; text is inserted as it is (authors quote it where code needs it).
    """
    if isinstance(value, list):
        return "[" + ", ".join(format_variable(item) for item in value) + "]"
    if isinstance(value, bool | int | float):
        return repr(value)
    return str(value)


def render_template(template: str, variables: dict[str, Any]) -> str:
    """Replace every ``{{ name }}`` by its variable; raise ``TemplateError`` for unknown names."""

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise TemplateError(f"{{{{ {name} }}}} names no variable the generator drew")
        return format_variable(variables[name])

    return PLACEHOLDER.sub(substitute, template)


def template_names(template: str) -> set[str]:
    """Return the variable names a template uses."""
    return set(PLACEHOLDER.findall(template))


def draw_seed(seed: str, draw: int) -> int:
    """Return the integer seed the generator gets for draw ``draw`` of ``seed`` (48 bits)."""
    digest = hmac.new(seed.encode(), f"draw:{draw}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:6], "big")


@dataclass(frozen=True)
class VariantSpec:
    """What a variable question is made of (plain data, from the job's payload)."""

    raises: bool  # debug: the key is the exception the snippet raises
    choice: bool  # choice formats: misconceptions become the wrong options
    generator: str
    templates: dict[str, str]
    misconceptions: list[dict[str, str]]
    atol: float = 1e-4
    rtol: float = 1e-4
    # A code question: its tests' setup are templates, the reference run per variant is the key.
    code_config: dict[str, Any] | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> VariantSpec:
        return cls(
            raises=bool(payload["raises"]),
            choice=bool(payload["choice"]),
            generator=payload["generator"],
            templates=dict(payload["templates"]),
            misconceptions=list(payload.get("misconceptions", [])),
            atol=float(payload.get("atol", 1e-4)),
            rtol=float(payload.get("rtol", 1e-4)),
            code_config=payload.get("code_config"),
        )


def _run(client: SandboxClient, code: str, job_id: str, capture=()):
    return read_report(client.run(code, job_id=job_id, capture=capture, limits=VARIANT_LIMITS))


def _result_text(report) -> str:
    """What a program did, as an option says it: its exception line, else its output."""
    if report.exception:
        return f"{report.exception['type']}: {' '.join(report.exception['message'].split())}"
    return report.stdout.strip("\n")


def _variables(client: SandboxClient, spec: VariantSpec, seed: int, job_id: str):
    report = _run(client, f"seed = {seed}\n{spec.generator}", f"{job_id}-gen", ["variables"])
    if report.verdict != "ok":
        detail = _result_text(report) if report.exception else report.verdict
        raise VariantError(f"the generator failed ({report.verdict}): {detail}"[:2000])
    try:
        return read_variables(report.values.get("variables"))
    except SchemaError as exc:
        raise VariantError(f"the generator's variables are not plain data: {exc}") from exc


class _Collision(Exception):
    """This draw's options cannot all be told apart from the key (draw again)."""


def _same(spec: VariantSpec, left: str, right: str) -> bool:
    if spec.raises:
        try:
            return parse_exception_text(left) == parse_exception_text(right)
        except ValueParseError:
            return left.strip() == right.strip()
    return printed_outputs_match(left, right, atol=spec.atol, rtol=spec.rtol)


def draw_variant(client: SandboxClient, spec: VariantSpec, seed: str, job_id: str) -> dict:
    """Return the first draw of ``seed`` whose options are all distinct, as plain data.

    Raises ``VariantError`` when the author's code fails (generator, snippet, template) or
    when ``MAX_DRAWS`` draws all collided; ``SandboxUnavailable`` (ours) passes through.
    """
    collisions: list[str] = []
    for draw in range(MAX_DRAWS):
        variables = _variables(client, spec, draw_seed(seed, draw), f"{job_id}-{draw}")
        try:
            rendered = {
                name: render_template(text, variables) for name, text in spec.templates.items()
            }
            programs = [
                render_template(m["code"], variables)
                for m in _misconceptions(spec)
                if m.get("code")
            ]
        except TemplateError as exc:
            raise VariantError(str(exc), variables=variables) from exc
        if spec.code_config is not None:
            return _code_variant(client, spec, rendered, variables, draw, f"{job_id}-{draw}")
        try:
            return _variant(client, spec, rendered, programs, variables, draw, f"{job_id}-{draw}")
        except _Collision as exc:
            collisions.append(str(exc))
        except TemplateError as exc:
            raise VariantError(str(exc), variables=variables) from exc
    raise VariantError(
        f"options collided in all {MAX_DRAWS} draws: " + "; ".join(collisions)[:1500]
    )


def _misconceptions(spec: VariantSpec) -> list[dict[str, str]]:
    # Only choice questions show wrong options; the others need none computed.
    return spec.misconceptions if spec.choice else []


def _variant(client, spec, rendered, programs, variables, draw, job_id) -> dict:
    debug = spec.raises
    codes = [rendered["code"], *programs]
    with ThreadPoolExecutor(max_workers=min(4, len(codes))) as pool:
        reports = list(
            pool.map(lambda item: _run(client, item[1], f"{job_id}-p{item[0]}"), enumerate(codes))
        )
    snippet, wrong_reports = reports[0], reports[1:]
    if debug and not snippet.exception:
        raise VariantError(
            "the rendered snippet must raise an exception; it ended with "
            f"{snippet.verdict}: {snippet.stdout[:500] or '(no output)'}",
            variables=variables,
        )
    if not debug and snippet.verdict != "ok":
        raise VariantError(
            f"the rendered snippet must run to completion; it ended with {snippet.verdict}: "
            f"{_result_text(snippet)[:500]}",
            variables=variables,
        )
    key_text = _result_text(snippet)
    wrong: list[tuple[str, str]] = []
    code_labels = [m for m in _misconceptions(spec) if m.get("code")]
    for misconception, report in zip(code_labels, wrong_reports, strict=True):
        if report.verdict not in ("ok", "error") or (not debug and report.verdict != "ok"):
            raise _Collision(f"misconception {misconception['label']!r} ended {report.verdict}")
        wrong.append((misconception["label"], _result_text(report)))
    for misconception in _misconceptions(spec):
        if misconception.get("text"):
            text = render_template(misconception["text"], variables)
            wrong.append((misconception["label"], text))
    texts = [key_text] + [text for _, text in wrong]
    for index, (label, text) in enumerate(wrong, start=1):
        if not text.strip() or any(_same(spec, text, other) for other in texts[:index]):
            raise _Collision(f"misconception {label!r} gives the key or another option")
    options = []
    if spec.choice:
        options = [{"id": str(uuid.uuid4()), "text": key_text, "correct": True, "label": "key"}]
    options += [
        {"id": str(uuid.uuid4()), "text": text, "correct": False, "label": label}
        for label, text in wrong
    ]
    if debug:
        key = {"type": snippet.exception["type"], "message": snippet.exception["message"]}
    else:
        key = {"printed": snippet.stdout}
    return {
        "draw": draw,
        "variables": variables,
        **rendered,
        "options": options,
        "key": key,
        "torch_version": snippet.torch_version,
    }


def _rendered_tests(config: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    try:
        tests = [
            {**test, "setup": render_template(test["setup"], variables)} for test in config["tests"]
        ]
    except TemplateError as exc:
        raise VariantError(f"a test's setup: {exc}", variables=variables) from exc
    return {**config, "tests": tests}


def _code_variant(client, spec, rendered, variables, draw, job_id) -> dict:
    """A code question's variant: its tests drawn for this seed, the reference's results the key.

    Hidden tests are drawn and run too; a candidate never sees their setup (``split_tests``).
    """
    config = _rendered_tests(spec.code_config, variables)
    harness = build_harness(source=config["reference"], config=config)
    report = _run(client, harness, f"{job_id}-ref", [RESULTS_NAME])
    if report.verdict != "ok":
        raise VariantError(
            f"the reference solution ended with {report.verdict}: {_result_text(report)[:500]}",
            variables=variables,
        )
    expected = report.values.get(RESULTS_NAME)
    if not isinstance(expected, dict):
        raise VariantError("the reference solution returned no results", variables=variables)
    for test in config["tests"]:
        outcome = expected.get(test["name"])
        if not isinstance(outcome, dict) or outcome.get("ok") is not True:
            error = outcome.get("error") if isinstance(outcome, dict) else "no result"
            raise VariantError(
                f"the reference fails test {test['name']!r}: {error}", variables=variables
            )
    return {
        "draw": draw,
        "variables": variables,
        **rendered,
        "options": [],
        "key": {"expected": expected},
        "grading_config": config,
        "torch_version": report.torch_version,
    }


def draw_variants(client: SandboxClient, spec: VariantSpec, seeds: list[str], job_id: str) -> dict:
    """Draw one variant per seed; return ``{"variants": [...], "problems": [...]}``.

    A seed the author's code cannot serve is a problem (with the variables it drew), not an
    error: a publish sample shows it, a candidate's preparation reports it.
    """
    variants: list[dict] = []
    problems: list[dict] = []
    for index, seed in enumerate(seeds):
        try:
            variants.append(draw_variant(client, spec, seed, f"{job_id}-s{index}"))
        except VariantError as exc:
            problems.append({"sample": index, "message": exc.message, "variables": exc.variables})
    return {"variants": variants, "problems": problems}
