"""Title mapping: substring and regex rules, templates, dates, YouTube's limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from config.app_config import MappingRule, VideoTitleMapping
from config.titles import clean_title, render, to_strftime

WHEN = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)


def mapping(*rules: dict, **extra) -> VideoTitleMapping:
    return VideoTitleMapping.model_validate(
        {"mapping_rules": list(rules), "timezone": "UTC", **extra}
    )


def test_substring_rule_is_case_insensitive_and_first_match_wins() -> None:
    rules = mapping(
        {"pattern": "python", "youtube_title_template": "Py: {original_title}", "vk_album_id": "7"},
        {"pattern": "Python Advanced", "youtube_title_template": "never used"},
    )
    result = render(rules, "Python Advanced lecture", WHEN)
    assert result.youtube_title == "Py: Python Advanced lecture"
    assert result.vk_album_id == "7"
    assert result.rule_pattern == "python"


def test_regex_named_groups_reach_the_template() -> None:
    rules = mapping(
        {
            "pattern": r"Course (?P<course>\w+) #(?P<n>\d+)",
            "youtube_title_template": "{course}, part {n} [{date}]",
            "youtube_playlist_title": "Course {course}",
        }
    )
    result = render(rules, "Course Algebra #12", WHEN)
    assert result.youtube_title == "Algebra, part 12 [05.03.2026]"
    assert result.youtube_playlist_title == "Course Algebra"


def test_pattern_with_regex_characters_still_matches_as_plain_text() -> None:
    rules = mapping({"pattern": "C++ (basics)", "youtube_title_template": "cpp"})
    assert render(rules, "Intro: C++ (basics) week 1", WHEN).youtube_title == "cpp"


def test_default_rules_apply_when_nothing_matches() -> None:
    rules = mapping(
        {"pattern": "Math"},
        default_rules={"youtube_title_template": "{topic} / {date}", "thumbnail": "d.png"},
    )
    result = render(rules, "History seminar", WHEN)
    assert result.youtube_title == "History seminar / 05.03.2026"
    assert result.thumbnail is not None and result.thumbnail.name == "d.png"
    assert result.rule_pattern is None and result.vk_album_id is None


@pytest.mark.parametrize(
    ("seed_format", "expected"),
    [("DD.MM.YYYY", "05.03.2026"), ("YYYY-MM-DD", "2026-03-05"), ("%d/%m/%y", "05/03/26")],
)
def test_date_formats(seed_format: str, expected: str) -> None:
    assert WHEN.strftime(to_strftime(seed_format)) == expected


def test_date_uses_the_configured_time_zone() -> None:
    late = datetime(2026, 3, 5, 22, 30, tzinfo=UTC)
    rules = VideoTitleMapping.model_validate({"timezone": "Europe/Moscow"})
    assert render(rules, "Lecture", late).youtube_title == "Lecture (06.03.2026)"


def test_titles_are_made_valid_for_youtube() -> None:
    assert clean_title("a <b>bold</b>\ttitle") == "a b bold /b title"
    long = clean_title("word " * 40)
    assert len(long) <= 100 and long.endswith("…")
    assert clean_title("  <>  ", fallback="Lecture") == "Lecture"


def test_each_platform_cuts_the_title_to_its_own_limit() -> None:
    """YouTube takes 100 characters, VK 128 (dev.vk.com/method/video.save)."""
    topic = " ".join(f"word{n:02d}" for n in range(17))
    assert len(topic) == 118
    as_is = render(mapping(default_rules={"youtube_title_template": "{topic}"}), topic, WHEN)
    assert as_is.vk_title == topic
    assert len(as_is.youtube_title) <= 100 and as_is.youtube_title.endswith("…")

    dated = render(mapping(), topic, WHEN)  # "{original_title} ({date})": 131 characters
    assert dated.vk_title == topic + "…"  # cut at a word, within 128


def test_unknown_placeholder_is_refused_at_load_time() -> None:
    with pytest.raises(ValidationError, match=r"unknown placeholder \{speaker\}"):
        MappingRule(pattern="x", youtube_title_template="{speaker}")


def test_a_rule_chosen_by_hand_fills_missing_groups_with_nothing() -> None:
    rules = mapping({"pattern": r"Lab (?P<n>\d+)", "youtube_title_template": "Lab {n}: {topic}"})
    chosen = render(rules, "Unrelated talk", WHEN, pattern=r"Lab (?P<n>\d+)")
    assert chosen.youtube_title == "Lab : Unrelated talk"
