"""The challenge form's grading configuration: one set of fields per answer format.

Each answer format's grader (``grading/graders/``) validates its own keys; the fields here
write exactly those keys into ``grading_config``, and that JSON stays editable as an
advanced view. Errors the grader names (``grading.atol``) are shown beside the field that
wrote the key.
"""

from __future__ import annotations

from typing import Any

import yaml
from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from assessments.authoring.content import dump_yaml
from assessments.core.choices import CHOICE_FORMATS, FORMATS_BY_KIND, AnswerFormat, Kind
from grading.formats import ConfigError, validate_grading_config

# One line per answer format, in the words a candidate's page uses.
FORMAT_DESCRIPTIONS = {
    AnswerFormat.SINGLE_CHOICE: _("the candidate picks one option; mark exactly one correct."),
    AnswerFormat.MULTIPLE_CHOICE: _("the candidate ticks every correct option; mark at least one."),
    AnswerFormat.TENSOR_VALUE: _(
        "the candidate types the tensor the snippet prints, e.g. tensor([[1., 2.]]); "
        "compared within the tolerances."
    ),
    AnswerFormat.EXCEPTION: _(
        "the candidate names the exception the snippet raises, e.g. RuntimeError "
        "(and its message, if you ask for it)."
    ),
    AnswerFormat.TEXT: _(
        "the candidate types a short answer, compared with your accepted answers."
    ),
    AnswerFormat.CODE: _(
        "the candidate writes a function; it runs on your tests and is compared with your "
        "reference solution's results."
    ),
}

# The form fields each format uses, in the order they are shown.
FIELDS_BY_FORMAT: dict[str, tuple[str, ...]] = {
    AnswerFormat.SINGLE_CHOICE: ("shuffle",),
    AnswerFormat.MULTIPLE_CHOICE: ("shuffle", "partial_credit"),
    AnswerFormat.TENSOR_VALUE: ("atol", "rtol"),
    AnswerFormat.EXCEPTION: ("match_message",),
    AnswerFormat.TEXT: ("accepted", "case_sensitive"),
    AnswerFormat.CODE: ("entry_point", "reference", "tests", "seed", "atol", "rtol"),
}
# The admin's groups of those fields: (title, fields, CSS classes naming the formats).
FORMAT_GROUPS = (
    (
        _("Grading: single or multiple choice"),
        ("shuffle", "partial_credit"),
        ("for-single_choice", "for-multiple_choice"),
    ),
    (
        _("Grading: tolerances (tensor value, code)"),
        ("atol", "rtol"),
        ("for-tensor_value", "for-code"),
    ),
    (_("Grading: exception"), ("match_message",), ("for-exception",)),
    (_("Grading: text"), ("accepted", "case_sensitive"), ("for-text",)),
    (_("Grading: code"), ("entry_point", "reference", "tests", "seed"), ("for-code",)),
)
CONFIG_FIELDS = tuple(dict.fromkeys(f for fields in FIELDS_BY_FORMAT.values() for f in fields))

TESTS_EXAMPLE = """- name: small
  setup: args = (torch.randn(4, 3),)
- name: large values
  setup: args = (torch.randn(32, 5) * 10 + 3,)
  hidden: true"""


def answer_format_help() -> str:
    """Return the answer formats as a short list: a human name and one line each."""
    kinds_by_format: dict[str, list[str]] = {}
    for kind, formats in FORMATS_BY_KIND.items():
        for fmt in formats:
            kinds_by_format.setdefault(fmt, []).append(str(Kind(kind).label))
    rows = format_html_join(
        "",
        "<li><strong>{}</strong>: {} <small>({}: {})</small></li>",
        (
            (
                AnswerFormat(fmt).label,
                FORMAT_DESCRIPTIONS[fmt],
                _("for"),
                ", ".join(kinds_by_format.get(fmt, [])),
            )
            for fmt in AnswerFormat.values
        ),
    )
    return format_html('<ul class="answer-format-help">{}</ul>', rows)


_TOLERANCE = {"required": False, "min_value": 0, "max_value": 1}


class GradingConfigFields(forms.Form):
    """The fields of every format; a challenge's form shows those of its format."""

    shuffle = forms.BooleanField(
        label=_("Shuffle the options"),
        required=False,
        initial=True,
        help_text=_("Each candidate sees the options in their own order (recommended)."),
    )
    partial_credit = forms.BooleanField(
        label=_("Partial credit"),
        required=False,
        help_text=_(
            "Multiple choice only: score the share of options judged right, not all or nothing."
        ),
    )
    atol = forms.FloatField(
        label=_("Absolute tolerance"),
        **_TOLERANCE,
        help_text=_(
            "How far a number may be from the key. Blank: 0.0001 (tensor value), "
            "0.00001 (code). Example: 0.001 accepts 1.2341 for 1.2345."
        ),
    )
    rtol = forms.FloatField(
        label=_("Relative tolerance"),
        **_TOLERANCE,
        help_text=_("Allowed difference as a share of the key. Blank: 0.0001. Example: 0.01."),
    )
    match_message = forms.BooleanField(
        label=_("The message must match too"),
        required=False,
        help_text=_("Off: naming the class (RuntimeError) is enough."),
    )
    accepted = forms.CharField(
        label=_("Accepted answers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("One per line. Spaces, case and a final period are ignored. Example: 0.5"),
    )
    case_sensitive = forms.BooleanField(
        label=_("Case sensitive"), required=False, help_text=_("Off: “ReLU” equals “relu”.")
    )
    entry_point = forms.CharField(
        label=_("Entry point"),
        required=False,
        max_length=100,
        help_text=_("The name of the function the candidate writes. Example: batch_norm"),
    )
    reference = forms.CharField(
        label=_("Reference solution"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 8, "cols": 90, "class": "code-input", "spellcheck": "false"}
        ),
        help_text=_("Your solution; its results on the tests are the key."),
    )
    tests = forms.CharField(
        label=_("Tests"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 6, "cols": 90, "class": "code-input", "spellcheck": "false"}
        ),
        help_text=format_html(
            "{}<pre class='config-example'>{}</pre>",
            _(
                "YAML list. Each test has a unique name and setup code that defines "
                "args = (...), run after torch.manual_seed(seed); hidden tests show "
                "the candidate only a count. Example:"
            ),
            TESTS_EXAMPLE,
        ),
    )
    seed = forms.IntegerField(
        label=_("Seed"),
        required=False,
        help_text=_("torch.manual_seed before each test. Blank: 0."),
    )
    use_raw_json = forms.BooleanField(
        label=_("Use the JSON instead of the fields"),
        required=False,
        help_text=_(
            "Advanced: when ticked, the JSON below is saved as it is and the fields are "
            "ignored; otherwise the fields write the JSON."
        ),
    )


def initial_from_config(answer_format: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return the fields' initial values for a saved configuration."""
    config = config if isinstance(config, dict) else {}
    initial: dict[str, Any] = {}
    for name in FIELDS_BY_FORMAT.get(answer_format, ()):
        if name not in config:
            continue
        value = config[name]
        if name == "accepted" and isinstance(value, list):
            value = "\n".join(str(item) for item in value)
        elif name == "tests" and isinstance(value, list):
            value = dump_yaml(value).rstrip()
        initial[name] = value
    return initial


def config_from_fields(
    answer_format: str, cleaned: dict[str, Any], previous: dict[str, Any]
) -> dict[str, Any]:
    """Return the configuration the fields describe; raise ``ConfigError`` naming a field.

    Keys no field edits (a code question's ``limits``) are kept from ``previous``.
    """
    config: dict[str, Any] = {}
    for name in FIELDS_BY_FORMAT.get(answer_format, ()):
        value = cleaned.get(name)
        if name == "accepted":
            config[name] = [line.strip() for line in (value or "").splitlines() if line.strip()]
        elif name == "tests":
            config[name] = _tests_from_yaml(value or "")
        elif name in ("entry_point", "reference"):
            config[name] = value or ""
        elif value is not None:
            config[name] = value
    if answer_format == AnswerFormat.CODE and isinstance(previous, dict) and "limits" in previous:
        config["limits"] = previous["limits"]
    return config


def _tests_from_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError("grading.tests", f"is not valid YAML{where}") from exc


def field_of_error(error: ConfigError, *, raw: bool) -> str | None:
    """Return the form field that wrote the key an error names (``None``: the whole form)."""
    if error.field == "options":
        return None
    if raw:
        return "grading_config"
    key = error.field.removeprefix("grading.").split(".")[0].split("[")[0]
    return key if key in CONFIG_FIELDS else "grading_config"


def validate_without_options(answer_format: str, config: Any) -> dict[str, Any]:
    """Validate a format that takes no options (choice formats are checked with theirs)."""
    if answer_format in CHOICE_FORMATS:
        return config
    return validate_grading_config(answer_format, config, [])
