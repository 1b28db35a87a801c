"""Dutch message templates: built-in defaults, or the school's own text inline or from a file.

Templates use `${name}` placeholders (string.Template). Each kind of message knows which
placeholders it fills; any other name is a typo and is reported by check-config.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template

from connector.cycle.settings.files import TEMPLATE_LIMIT, read_small_file, utf8_problem
from connector.cycle.settings.models import TemplateRef

PLACEHOLDERS = {
    "invitation": {
        "ronde",
        "groep",
        "doel",
        "duur",
        "vorm",
        "aanwezig",
        "periode",
        "verplicht",
        "sluiting",
        "kiezen",
        "school",
    },
    "reminder": {"ronde", "kinderen", "gesprekken", "gekozen", "vraag", "nog", "sluiting", "school"},
    "teacher_notice": {"ronde", "groep", "periode", "gezinnen", "aantal", "school"},
    # Built-in only (edit the files in connector/templates/): per school, not per round.
    "verslag_reminder": {"stand", "leerlingen", "categorie", "school"},
    "overview": {"datum", "rondes", "achterstand", "niet_gezien", "school"},
    # The parts of a reminder's ${gesprekken}: the round's conversation, the OPP extra conversation.
    "reminder_round": {"ronde", "kinderen"},
    "reminder_extra": {"ronde", "kinderen"},
    # To the teachers: the group's planner (or its OPP extra planner) was cancelled in the planner.
    "cancelled_notice": {"ronde", "groep", "periode", "gezinnen", "aantal", "school"},
    "cancelled_notice_extra": {"ronde", "groep", "periode", "gezinnen", "aantal", "school"},
}


def default_text(kind: str) -> str:
    return resources.files("connector").joinpath("templates", f"{kind}.txt").read_text(encoding="utf-8")


def template_text(kind: str, template: str | TemplateRef | None, base: Path) -> str:
    """The template's text; raises OSError when its file cannot be read."""
    if template is None:
        return default_text(kind)
    if isinstance(template, TemplateRef):
        path = Path(template.file).expanduser()
        return read_small_file(path if path.is_absolute() else base / path, TEMPLATE_LIMIT).decode("utf-8")
    return template


def check_template(kind: str, template: str | TemplateRef | None, base: Path) -> list[str]:
    """Problems with a template, in plain words; empty when it can be used."""
    try:
        text = template_text(kind, template, base)
    except UnicodeDecodeError as exc:
        line, message = utf8_problem(exc.object, exc)
        return [f"template file {getattr(template, 'file', '?')}, line {line}: {message}"]
    except OSError as exc:
        return [
            f"template file {getattr(template, 'file', '?')} cannot be read ({exc.strerror or exc.__class__.__name__})"
        ]
    if not text.strip():
        return ["the template is empty"]
    parsed = Template(text)
    if not parsed.is_valid():
        return ["a $ is not followed by a placeholder name; write $$ for a dollar sign"]
    unknown = sorted(set(parsed.get_identifiers()) - PLACEHOLDERS[kind])
    if unknown:
        allowed = ", ".join(f"${{{name}}}" for name in sorted(PLACEHOLDERS[kind]))
        return [f"unknown placeholder {', '.join('${' + u + '}' for u in unknown)}; this message knows {allowed}"]
    return []


def render(kind: str, template: str | TemplateRef | None, base: Path, values: dict[str, str]) -> str:
    """The message text with every placeholder filled."""
    return Template(template_text(kind, template, base)).substitute({k: values[k] for k in PLACEHOLDERS[kind]})
