"""Title mapping: which rule a Zoom topic falls under, and the titles it is published with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from config.app_config import DefaultRules, MappingRule, VideoTitleMapping

YOUTUBE_TITLE_LIMIT = 100
# video.save `name`: "The maximum number of characters is 128" (dev.vk.com/method/video.save).
VK_TITLE_LIMIT = 128
TITLE_LIMITS = {"youtube": YOUTUBE_TITLE_LIMIT, "vk": VK_TITLE_LIMIT}
_REGEX_CHARS = re.compile(r"[\\^$.|?*+()\[\]{}]")
_DATE_TOKENS = (("YYYY", "%Y"), ("YY", "%y"), ("DD", "%d"), ("MM", "%m"), ("HH", "%H"))
_FORBIDDEN = re.compile(r"[<>\x00-\x1f\x7f]")
_FORBIDDEN_IN_DESCRIPTION = re.compile(r"[<>]")


@dataclass(frozen=True)
class Publication:
    """What one recording is published as, on every platform."""

    youtube_title: str
    vk_title: str
    description: str
    thumbnail: Path | None
    tags: list[str] = field(default_factory=list)
    captions: bool = True
    youtube_playlist_id: str | None = None
    youtube_playlist_title: str | None = None
    vk_album_id: str | None = None
    vk_album_title: str | None = None
    rule_pattern: str | None = None  # None: the default rules


def to_strftime(date_format: str) -> str:
    """The seed's `DD.MM.YYYY` style (or a strftime format with `%`) as a strftime format."""
    if "%" in date_format:
        return date_format
    result = date_format
    for token, directive in _DATE_TOKENS:
        result = result.replace(token, directive)
    return result


def clean_title(
    title: str, fallback: str = "Zoom recording", limit: int = YOUTUBE_TITLE_LIMIT
) -> str:
    """A title the platform accepts: no `<`, `>` or control characters, at most `limit`
    characters (YouTube's 100 by default, `VK_TITLE_LIMIT` for VK), cut at a word with "…"."""
    title = " ".join(_FORBIDDEN.sub(" ", title).split())
    if not title:
        title = fallback
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "…"


def match_rule(rule: MappingRule, topic: str) -> dict[str, str] | None:
    """The named groups when `rule` matches `topic` (empty for a substring hit), else None.

    A plain pattern matches as a case-insensitive substring. A pattern that looks like a regular
    expression (or has `"regex": true`) is searched as one, so its named groups reach templates.
    """
    if rule.regex is not True and rule.pattern.casefold() in topic.casefold():
        return {}
    if rule.regex is False or (rule.regex is None and not _REGEX_CHARS.search(rule.pattern)):
        return None
    try:
        found = re.search(rule.pattern, topic, re.IGNORECASE)
    except re.error:
        return None
    if found is None:
        return None
    return {k: v for k, v in found.groupdict().items() if v is not None}


def matches_a_rule(mapping: VideoTitleMapping, topic: str) -> bool:
    return any(match_rule(rule, topic) is not None for rule in mapping.mapping_rules)


def find_rule(
    mapping: VideoTitleMapping, topic: str, pattern: str | None = None
) -> tuple[MappingRule | DefaultRules, dict[str, str]]:
    """The first rule that matches (or the one named by `pattern`), else the default rules."""
    for rule in mapping.mapping_rules:
        if pattern is not None and rule.pattern != pattern:
            continue
        groups = match_rule(rule, topic)
        if groups is not None or pattern is not None:
            return rule, groups or {}
    return mapping.default_rules, {}


class _Blank(dict):
    """Template values where a named group that did not take part in the match is empty."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str | None, values: dict[str, str]) -> str | None:
    return clean_title(template.format_map(_Blank(values))) if template else None


def resolve_thumbnail(directory: Path, name: str | None) -> Path | None:
    """Where a rule's `thumbnail` is: as written when that exists (relative to the working
    folder) or is absolute, else inside `directory` without naming a folder twice: the seed
    writes `"thumbnail": "thumbnails/course.png"` beside `"thumbnail_directory": "thumbnails/"`.
    """
    if not name:
        return None
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    # The longest run of leading folders of `path` that `directory` already ends with.
    for size in range(min(len(directory.parts), len(path.parts) - 1), 0, -1):
        if directory.parts[-size:] == path.parts[:size]:
            return directory.joinpath(*path.parts[size:])
    return directory / path


def render(
    mapping: VideoTitleMapping, topic: str, start_time: datetime, pattern: str | None = None
) -> Publication:
    """Titles, description, thumbnail and playlist/album for one recording."""
    rule, groups = find_rule(mapping, topic, pattern)
    zone = ZoneInfo(mapping.timezone) if mapping.timezone else None
    values = {
        **groups,
        "original_title": topic,
        "topic": topic,
        "date": start_time.astimezone(zone).strftime(to_strftime(mapping.date_format)),
    }
    youtube_title = clean_title(rule.youtube_title_template.format_map(_Blank(values)), topic)
    vk_template = rule.vk_title_template or rule.youtube_title_template
    thumbnail = resolve_thumbnail(mapping.thumbnail_directory, rule.thumbnail)
    matched = rule if isinstance(rule, MappingRule) else None  # None: the defaults applied
    return Publication(
        youtube_title=youtube_title,
        vk_title=clean_title(vk_template.format_map(_Blank(values)), topic, VK_TITLE_LIMIT),
        description=_FORBIDDEN_IN_DESCRIPTION.sub(
            "", rule.description_template.format_map(_Blank(values))
        ),
        thumbnail=thumbnail,
        tags=list(rule.tags),
        captions=rule.captions,
        youtube_playlist_id=matched.youtube_playlist_id if matched else None,
        youtube_playlist_title=_fill(matched.youtube_playlist_title, values) if matched else None,
        vk_album_id=matched.vk_album_id if matched else None,
        vk_album_title=_fill(matched.vk_album_title, values) if matched else None,
        rule_pattern=matched.pattern if matched else None,
    )
