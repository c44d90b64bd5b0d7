"""Challenge sets as YAML files: parse and validate, and write back.

The format is documented in docs/challenge-format.md. ``parse_challenge_set`` checks a
whole file before anything is written and raises ``ContentError`` listing every problem
with the challenge and field it concerns; ``dump_challenge_set`` writes YAML that parses
back to the same content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from assessments.authoring.content_fields import Problems, field_choice, field_int, field_text
from assessments.core.choices import (
    ATTEMPTS_RANGE,
    CHOICE_FORMATS,
    FORMATS_BY_KIND,
    KINDS_WITH_CODE,
    TIME_LIMIT_RANGE,
    Difficulty,
    FeedbackPolicy,
    Kind,
    Navigation,
)
from grading.formats import (
    ConfigError,
    OptionSpec,
    validate_grading_config,
    validate_variable_grading_config,
)

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_FILE_BYTES = 1_000_000

SET_FIELDS = {
    "title", "slug", "tagline", "badge", "description", "navigation", "time_limit", "feedback",
    "challenges",
}  # fmt: skip
CHALLENGE_FIELDS = {
    "kind", "title", "difficulty", "time_limit", "max_attempts", "points", "prompt", "code",
    "hint", "explanation", "answer_format", "grading", "options", "variables", "misconceptions",
    "pool",
}  # fmt: skip
# Variable questions (docs/challenge-format.md, "Variables"): kinds whose key is executed,
# and the formats whose key comes from that execution.
VARIABLE_KINDS = {"predict_output", "debug", "code"}
VARIABLE_FORMATS = {"single_choice", "tensor_value", "exception", "code"}
MISCONCEPTION_FIELDS = {"label", "code", "text"}
MAX_MISCONCEPTIONS = 8


class ContentError(ValueError):
    """The file is not a valid challenge set; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class OptionData:
    text: str
    correct: bool


@dataclass
class ChallengeData:
    kind: str
    title: str
    difficulty: str
    time_limit: int
    max_attempts: int
    points: int
    prompt: str
    code: str
    hint: str
    explanation: str
    answer_format: str
    grading: dict[str, Any]
    options: list[OptionData] = field(default_factory=list)
    variables: str = ""
    misconceptions: list[dict[str, str]] = field(default_factory=list)
    pool: str = ""


@dataclass
class ChallengeSetData:
    title: str
    slug: str
    tagline: str
    badge: str
    description: str
    navigation: str
    time_limit: int | None
    feedback: str
    challenges: list[ChallengeData]


def _options(raw: Any, where: str, errors: Problems) -> list[OptionData]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add(where, "field 'options' must be a list")
        return []
    options = []
    for index, item in enumerate(raw, start=1):
        here = f"{where}, option {index}"
        if not isinstance(item, dict):
            errors.add(here, "must be a mapping with 'text' and 'correct'")
            continue
        unknown = sorted(set(item) - {"text", "correct"})
        if unknown:
            errors.add(here, f"unknown field(s) {', '.join(unknown)}")
        text = item.get("text")
        if not isinstance(text, str | int | float) or isinstance(text, bool) or str(text) == "":
            errors.add(here, "field 'text' is required and must be text")
            text = ""
        correct = item.get("correct", False)
        if not isinstance(correct, bool):
            errors.add(here, f"field 'correct' must be true or false, not {correct!r}")
            correct = False
        options.append(OptionData(text=str(text).strip("\n"), correct=correct))
    return options


def _misconceptions(raw: Any, where: str, errors: Problems) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_MISCONCEPTIONS:
        errors.add(where, f"field 'misconceptions' must be a list of at most {MAX_MISCONCEPTIONS}")
        return []
    items = []
    for index, item in enumerate(raw, start=1):
        here = f"{where}, misconception {index}"
        if not isinstance(item, dict):
            errors.add(here, "must be a mapping with 'label' and 'code' or 'text'")
            continue
        unknown = sorted(set(item) - MISCONCEPTION_FIELDS)
        if unknown:
            errors.add(here, f"unknown field(s) {', '.join(unknown)}")
        label = field_text(item, "label", here, errors, required=True)
        code, text = (
            field_text(item, name, here, errors, required=False) for name in ("code", "text")
        )
        if bool(code) == bool(text):
            errors.add(here, "needs exactly one of 'code' (a program) and 'text' (a template)")
        entry = {"label": label, "code": item.get("code", "").strip("\n") if code else ""}
        entry["text"] = text
        items.append(entry)
    labels = [item["label"] for item in items]
    if len(set(labels)) != len(labels):
        errors.add(where, "field 'misconceptions': labels must be distinct")
    return items


def variable_problems(
    *, kind: str, answer_format: str, variables: str, misconceptions: list, has_options: bool
) -> list[str]:
    """Return why a question's variables, misconceptions and options do not fit together.

    A variable question draws its options: it declares misconceptions, not options."""
    if not variables.strip():
        return ["field 'misconceptions' needs 'variables'"] if misconceptions else []
    problems = []
    if kind not in VARIABLE_KINDS:
        problems.append(f"field 'variables' is for kinds {', '.join(sorted(VARIABLE_KINDS))}")
    if answer_format not in VARIABLE_FORMATS:
        problems.append(
            f"field 'variables' needs answer_format {', '.join(sorted(VARIABLE_FORMATS))}"
        )
    if has_options:
        problems.append("field 'options' must be omitted: misconceptions make the options")
    if answer_format == "code" and misconceptions:
        problems.append("field 'misconceptions' is for choice questions, not code")
    if answer_format == "single_choice" and not misconceptions:
        problems.append("a variable single-choice question needs at least one misconception")
    return problems


def misconceptions_parse(raw: Any) -> list[dict[str, str]]:
    """Return a variable question's validated misconceptions; raise ``ContentError``."""
    errors = Problems()
    items = _misconceptions(raw, "misconceptions", errors)
    if errors.problems:
        raise ContentError(errors.problems)
    return items


def variable_option_specs(
    misconceptions: list[dict[str, str]], answer_format: str
) -> list[OptionSpec]:
    """Stand-in options of a variable choice question: the executed key and one per
    misconception (the real ones are computed per variant), for the format's checks.

    The other formats (tensor value, exception, code) have no options at all."""
    if answer_format not in CHOICE_FORMATS:
        return []
    return [OptionSpec(text="(the executed key)", correct=True)] + [
        OptionSpec(text=m["label"], correct=False) for m in misconceptions
    ]


def _challenge(raw: Any, index: int, errors: Problems) -> ChallengeData | None:
    title = raw.get("title") if isinstance(raw, dict) else None
    where = f"challenge {index}" + (f" ({title!r})" if isinstance(title, str) else "")
    if not isinstance(raw, dict):
        errors.add(where, "must be a mapping")
        return None
    before = len(errors.problems)
    unknown = sorted(set(raw) - CHALLENGE_FIELDS)
    if unknown:
        errors.add(where, f"unknown field(s) {', '.join(unknown)}")
    kind = field_choice(raw, "kind", where, errors, Kind)
    data = ChallengeData(
        kind=kind,
        title=field_text(raw, "title", where, errors, required=True),
        difficulty=field_choice(raw, "difficulty", where, errors, Difficulty),
        time_limit=field_int(
            raw, "time_limit", where, errors, default=None, bounds=TIME_LIMIT_RANGE
        )
        or 0,
        max_attempts=field_int(raw, "max_attempts", where, errors, default=2, bounds=ATTEMPTS_RANGE)
        or 0,
        points=field_int(raw, "points", where, errors, default=1, bounds=(0, 1000)) or 0,
        prompt=field_text(raw, "prompt", where, errors, required=True),
        code=field_text(raw, "code", where, errors, required=False),
        hint=field_text(raw, "hint", where, errors, required=False),
        explanation=field_text(raw, "explanation", where, errors, required=False),
        answer_format="",
        grading={},
        options=_options(raw.get("options"), where, errors),
        variables=field_text(raw, "variables", where, errors, required=False),
        misconceptions=_misconceptions(raw.get("misconceptions"), where, errors),
        pool=field_text(raw, "pool", where, errors, required=False),
    )
    if data.pool and not SLUG_RE.match(data.pool):
        errors.add(where, "field 'pool' must be lowercase letters, digits and hyphens")
    for problem in variable_problems(
        kind=data.kind,
        answer_format=raw.get("answer_format", FORMATS_BY_KIND.get(data.kind, ("",))[0]),
        variables=data.variables,
        misconceptions=data.misconceptions,
        has_options=bool(data.options),
    ):
        errors.add(where, problem)
    if kind:
        allowed = FORMATS_BY_KIND[kind]
        answer_format = raw.get("answer_format", allowed[0])
        if answer_format not in allowed:
            errors.add(
                where,
                f"field 'answer_format' for kind {kind} must be one of {', '.join(allowed)}, "
                f"not {answer_format!r}",
            )
        else:
            data.answer_format = answer_format
        if kind in KINDS_WITH_CODE and not data.code.strip():
            errors.add(where, f"field 'code' is required for kind {kind}")
        if kind not in KINDS_WITH_CODE and data.code.strip():
            errors.add(where, f"field 'code' is not used by kind {kind}; remove it")
    if data.answer_format and len(errors.problems) == before:
        try:
            specs = [OptionSpec(text=o.text, correct=o.correct) for o in data.options]
            validate = validate_grading_config
            if data.variables:
                specs = variable_option_specs(data.misconceptions, data.answer_format)
                validate = validate_variable_grading_config
            data.grading = validate(data.answer_format, raw.get("grading"), specs)
        except ConfigError as exc:
            errors.add(where, f"field '{exc.field}': {exc.message}")
    return data


def _check_pools(challenges: list[ChallengeData], errors: Problems) -> None:
    """A pool is one position: its members are adjacent and of one kind and difficulty."""
    seen: dict[str, int] = {}
    for index, challenge in enumerate(challenges):
        if not challenge.pool:
            continue
        first = seen.setdefault(challenge.pool, index)
        previous = challenges[index - 1] if index else None
        if first != index and (previous is None or previous.pool != challenge.pool):
            errors.add("set", f"pool {challenge.pool!r}: its challenges must be adjacent")
        leader = challenges[first]
        if (leader.kind, leader.difficulty) != (challenge.kind, challenge.difficulty):
            errors.add(
                "set",
                f"pool {challenge.pool!r}: every challenge must have the same kind and "
                f"difficulty ({challenge.title!r} differs from {leader.title!r})",
            )


def _unix_newlines(value: Any) -> Any:
    """Turn CRLF and lone CR into LF in every string of parsed YAML.

    YAML folds a file's own line breaks to LF, but a quoted "\\r\\n" escape (what a CRLF
    export used to hold) would bring CRs to candidates and the sandbox."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    if isinstance(value, list):
        return [_unix_newlines(item) for item in value]
    if isinstance(value, dict):
        return {key: _unix_newlines(item) for key, item in value.items()}
    return value


def parse_challenge_set(text: str | bytes) -> ChallengeSetData:
    """Parse and validate a whole file; raise ``ContentError`` with every problem found."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ContentError([f"file: larger than {MAX_FILE_BYTES} bytes"])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContentError(
                [f"file: not UTF-8 text ({exc.reason} at byte {exc.start})"]
            ) from exc
    try:
        raw = _unix_newlines(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContentError([f"{where}: not valid YAML: {problem}"]) from exc
    if not isinstance(raw, dict):
        raise ContentError(["file: must be a mapping with title, slug and challenges"])
    errors = Problems()
    where = "set"
    unknown = sorted(set(raw) - SET_FIELDS)
    if unknown:
        errors.add(where, f"unknown field(s) {', '.join(unknown)}")
    slug = field_text(raw, "slug", where, errors, required=True)
    if slug and not SLUG_RE.match(slug):
        errors.add(
            where, f"field 'slug' must be lowercase letters, digits and hyphens, not {slug!r}"
        )
    raw_challenges = raw.get("challenges")
    challenges: list[ChallengeData] = []
    if not isinstance(raw_challenges, list) or not raw_challenges:
        errors.add(where, "field 'challenges' must be a non-empty list")
    else:
        for index, item in enumerate(raw_challenges, start=1):
            challenge = _challenge(item, index, errors)
            if challenge is not None:
                challenges.append(challenge)
    _check_pools(challenges, errors)
    data = ChallengeSetData(
        title=field_text(raw, "title", where, errors, required=True),
        slug=slug,
        tagline=field_text(raw, "tagline", where, errors, required=False),
        badge=field_text(raw, "badge", where, errors, required=False),
        description=field_text(raw, "description", where, errors, required=False),
        navigation=field_choice(
            raw, "navigation", where, errors, Navigation, Navigation.SEQUENTIAL
        ),
        time_limit=field_int(raw, "time_limit", where, errors, default=None, bounds=(60, 6 * 3600))
        if raw.get("time_limit") is not None
        else None,
        feedback=field_choice(
            raw, "feedback", where, errors, FeedbackPolicy, FeedbackPolicy.AFTER_CLOSE
        ),
        challenges=challenges,
    )
    if errors.problems:
        raise ContentError(errors.problems)
    return data


class _LiteralDumper(yaml.SafeDumper):
    """Write multi-line strings as block scalars so files stay readable in review."""


def _str_representer(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=style)


# PyYAML looks up a value's exact type first, where SafeDumper's own str representer sits:
# plain str needs its own entry; the multi-representer covers str subclasses such as the
# models' TextChoices members.
_LiteralDumper.add_representer(str, _str_representer)
_LiteralDumper.add_multi_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    """Return readable YAML for plain data: keys in their order, multi-line text as blocks."""
    return yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=100)


def dump_challenge_set(data: dict[str, Any]) -> str:
    """Return YAML for a set given as plain data in the file's field order."""
    return dump_yaml(data)
