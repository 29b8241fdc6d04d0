"""safe_filename: hostile topics give safe, readable, unique names."""

from __future__ import annotations

import unicodedata

import pytest

from integrations.filenames import safe_filename, safe_id

HOSTILE = [
    "../../etc/passwd",
    'a/b\\c:d*e?f"g<h>i|j',
    "line\nbreak\ttab\x00nul\x1b[31mred",
    "..",
    ".hidden",
    "",
    "   ",
    "Лекция 5: Алгоритмы / часть 2",
    "数学讲座 第三讲",
    "محاضرة الرياضيات",
    "Cafe\u0301 déjà vu",
    "emoji 🎓 lecture",
    "x" * 1000,
    "Ж" * 500,
    "right-to-left \u202eexe.mp4",
]


@pytest.mark.parametrize("topic", HOSTILE)
def test_hostile_topics_give_safe_names(topic):
    name = safe_filename(17, topic)
    assert name.startswith("17-") and name.endswith(".mp4")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in name)
    assert len(name.encode("utf-8")) <= 200
    assert len((name + ".part").encode()) < 255


def test_readable_unicode_survives():
    assert safe_filename(5, "Лекция 5: Алгоритмы / часть 2") == "5-Лекция_5_Алгоритмы_часть_2.mp4"
    assert safe_filename(6, "数学讲座 第三讲") == "6-数学讲座_第三讲.mp4"
    assert safe_filename(7, "Cafe\u0301") == "7-Café.mp4"  # NFC
    assert safe_filename(8, "") == "8-recording.mp4"


def test_long_topics_are_capped_on_a_character_boundary():
    name = safe_filename(9, "Ж" * 500)
    topic = name.removeprefix("9-").removesuffix(".mp4")
    assert set(topic) == {"Ж"} and len(topic.encode()) <= 120


def test_names_are_unique_by_the_id_prefix():
    assert safe_filename(1, "Same topic") != safe_filename(2, "Same topic")
    assert safe_id("abc/def==") != safe_id("abc+def==")
    assert "/" not in safe_id("abc/def==")
    assert safe_filename(3, "t", ext=".vtt").endswith(".vtt")
