"""`app_config.json`: the seed's format (title mapping, platforms, upload settings), validated.

A wrong file raises `ConfigError` with one line per problem, each naming the field, e.g.
`video_title_mapping.mapping_rules[2].pattern: missing`.

The files of the tool this project replaces load unchanged: IDs may be JSON numbers or strings,
VK privacy may be given as VK's numeric codes ("0"), and keys this project does not know are
ignored (listed by `config check`) unless they look like a misspelt known key, which is an
error because the setting it was meant to change would silently keep its default.
"""

from __future__ import annotations

import difflib
import json
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError
from config.processing import ProcessingProfiles

TEMPLATE_FIELDS = frozenset({"original_title", "date", "topic"})
TEMPLATED = ("youtube_title_template", "vk_title_template", "description_template")
Privacy = Literal["public", "unlisted", "private"]


def _id_as_text(value: object) -> object:
    """IDs are written both as JSON numbers (`123456`) and as strings: keep them as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ConfiguredId = Annotated[str, BeforeValidator(_id_as_text)]

# Every upload goes to a community (`group_id`), and a community's video takes community
# privacy, by name or by number; the seed's codes ("0", "1", "3") are these numbers, so "3" is
# "by link". Source: dev.vk.com/reference/objects/privacy, "Types of Community Privacy".
VK_PRIVACY_VIEW = {"0": "all", "1": "members", "2": "editors", "3": "by_link", "5": "donut"}
VK_PRIVACY_COMMENT = {"0": "all", "1": "members", "2": "editors", "4": "nobody"}
# `all` is only for open communities (same page): `config check --online` points that out.
# The same page's values for a user's own videos, which it does not list for a community's.
VK_USER_PRIVACY = ("friends", "friends_of_friends", "friends_of_friends_only", "nobody", "only_me")


def _community_privacy(codes: dict[str, str]) -> Callable[[object], object]:
    """A validator taking a community privacy code or name and giving the name VK takes."""
    listed = ", ".join(f"{name} ({code})" for code, name in codes.items())

    def validate(value: object) -> object:
        text = _id_as_text(value)
        if not isinstance(text, str):
            return text
        name = codes.get(text.strip(), text.strip())
        if name in codes.values():
            return name
        kind = "a user's privacy, not a community's" if name in VK_USER_PRIVACY else "unknown"
        raise ValueError(
            f"{text!r} is {kind}: VK uploads go to a community (group_id), and a community's "
            f"videos take {listed}"
        )

    return validate


VkPrivacyView = Annotated[str, BeforeValidator(_community_privacy(VK_PRIVACY_VIEW))]
VkPrivacyComment = Annotated[str, BeforeValidator(_community_privacy(VK_PRIVACY_COMMENT))]


class ConfiguredIdError(ValueError):
    """A configured ID that the platform needs as a number is not one."""


def vk_id_problem(value: str | None, field: str) -> str | None:
    """Why a configured VK ID is not one (a placeholder such as "your_group_id"); None if fine."""
    if not value or re.fullmatch(r"-?\d+", value):
        return None
    return f"{field} is {value!r}, not a VK ID (a number such as 123456)"


def vk_number(value: str | None, field: str) -> int | None:
    """A configured VK ID as the number the API takes (a leading minus is an owner id)."""
    problem = vk_id_problem(value, field)
    if problem:
        raise ConfiguredIdError(
            f"{problem}: put the real ID there, then run `zoom-publisher reset` for the failed "
            "recordings"
        )
    return abs(int(value)) if value else None


def vk_publishing_group(configured: str | None, from_credentials: str | None) -> int | None:
    """The community VK uploads go to: `platforms.vk.group_id` when set, else the credentials'."""
    if configured:
        return vk_number(configured, "platforms.vk.group_id")
    return vk_number(from_credentials, "group_id of the VK credentials (vk_creds.json)")


class _Strict(BaseModel):
    """A section of the file: unknown keys are kept aside, misspelt known keys are errors."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_misspelt_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = list(cls.model_fields)
        typos = []
        for key in data:
            if key not in cls.model_fields and isinstance(key, str):
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
                if close:
                    typos.append(f"unknown field {key!r}: did you mean {close[0]!r}?")
        if typos:
            raise ValueError("; ".join(typos))
        return data


def template_placeholders(template: str) -> set[str]:
    """The `{names}` a title template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class TitleTemplate(_Strict):
    youtube_title_template: str = "{original_title} ({date})"
    vk_title_template: str | None = None
    description_template: str = "{original_title}, {date}"
    thumbnail: str | None = None
    tags: list[str] = Field(default_factory=list)
    captions: bool = True  # publish Zoom's transcript as captions when there is one


class MappingRule(TitleTemplate):
    """A topic pattern and what a matching recording is published as."""

    pattern: str
    regex: bool | None = None  # None: a regex only when the pattern is one (see config.titles)
    youtube_playlist_id: ConfiguredId | None = None
    youtube_playlist_title: str | None = None
    vk_album_id: ConfiguredId | None = None
    vk_album_title: str | None = None

    @field_validator("pattern")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _templates_use_known_names(self) -> MappingRule:
        groups: set[str] = set()
        if self.regex is not False:
            try:
                groups = set(re.compile(self.pattern).groupindex)
            except re.error as exc:
                if self.regex:
                    raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        allowed = TEMPLATE_FIELDS | groups
        for name in (*TEMPLATED, "youtube_playlist_title", "vk_album_title"):
            template = getattr(self, name)
            unknown = template_placeholders(template or "") - allowed
            if unknown:
                names = ", ".join(f"{{{u}}}" for u in sorted(unknown))
                raise ValueError(
                    f"{name} uses unknown placeholder {names}; use {{original_title}}, {{date}}, "
                    "{topic} or a named group of the pattern"
                )
        return self


class DefaultRules(TitleTemplate):
    @model_validator(mode="after")
    def _templates_use_known_names(self) -> DefaultRules:
        for name in TEMPLATED:
            unknown = template_placeholders(getattr(self, name) or "") - TEMPLATE_FIELDS
            if unknown:
                raise ValueError(f"{name} uses unknown placeholder {{{sorted(unknown)[0]}}}")
        return self


class VideoTitleMapping(_Strict):
    mapping_rules: list[MappingRule] = Field(default_factory=list)
    default_rules: DefaultRules = Field(default_factory=DefaultRules)
    date_format: str = "DD.MM.YYYY"
    timezone: str | None = None  # IANA name for {date}; the machine's zone when not set
    thumbnail_directory: Path = Path("thumbnails")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Moscow") from None
        return value


class YouTubeSettings(_Strict):
    enabled: bool = True
    default_privacy: Privacy = "unlisted"
    default_language: str = "ru"
    category_id: ConfiguredId = "27"  # Education
    credentials_file: str | None = None
    chunk_size_mb: float = Field(default=16, gt=0, description="a multiple of 0.25 (256 KiB)")
    daily_quota_units: int = Field(default=10_000, ge=1)

    @field_validator("chunk_size_mb")
    @classmethod
    def _whole_quarters(cls, value: float) -> float:
        if (value * 4) != int(value * 4):
            raise ValueError("must be a multiple of 0.25 (YouTube takes chunks of 256 KiB)")
        return value


class VkSettings(_Strict):
    enabled: bool = False
    group_id: ConfiguredId | None = None
    default_privacy: VkPrivacyView = "all"
    privacy_comment: VkPrivacyComment = "all"
    no_comments: bool = False
    repeat: bool = False
    credentials_file: str | None = None


class Platforms(_Strict):
    youtube: YouTubeSettings = Field(default_factory=YouTubeSettings)
    vk: VkSettings = Field(default_factory=VkSettings)


class UploadSettings(_Strict):
    max_file_size_mb: int = Field(default=128_000, ge=1)
    supported_formats: list[str] = Field(default_factory=lambda: ["mp4"])
    retry_attempts: int = Field(default=3, ge=0)
    retry_delay: float = Field(default=5, ge=0)
    # Free Zoom cloud storage once every enabled platform has the video, verified.
    delete_from_zoom: Literal["off", "trash", "delete"] = "off"


class AppConfig(_Strict):
    video_title_mapping: VideoTitleMapping = Field(default_factory=VideoTitleMapping)
    platforms: Platforms = Field(default_factory=Platforms)
    upload_settings: UploadSettings = Field(default_factory=UploadSettings)
    processing: ProcessingProfiles = Field(default_factory=ProcessingProfiles)

    def notes(self) -> list[str]:
        """What `config check` points out without refusing the file: ignored keys, odd IDs."""
        notes = [f"{where}: not a setting zoom-publisher knows; ignored" for where in ignored(self)]
        vk_ids = [("platforms.vk.group_id", self.platforms.vk.group_id)]
        vk_ids += [
            (f"video_title_mapping.mapping_rules[{n}].vk_album_id", rule.vk_album_id)
            for n, rule in enumerate(self.video_title_mapping.mapping_rules)
        ]
        for field, value in vk_ids:
            if problem := vk_id_problem(value, field):
                notes.append(f"{problem}; VK uploads that need it will fail")
        return notes


def ignored(model: BaseModel, where: str = "") -> list[str]:
    """Paths of the keys in the file that no setting took (kept as the model's extras)."""
    found = [f"{where}.{key}" if where else key for key in model.model_extra or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{where}.{name}" if where else name
        if isinstance(value, BaseModel):
            found += ignored(value, path)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found += ignored(item, f"{path}[{index}]")
    return found


def format_location(location: tuple[str | int, ...]) -> str:
    """('a', 'b', 2, 'c') -> 'a.b[2].c'."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe_errors(error: ValidationError) -> list[str]:
    """One `field.path: problem` line per pydantic error."""
    problems = []
    for item in error.errors(include_url=False):
        location = tuple(p for p in item["loc"] if p not in ("function-after",))
        message = {
            "missing": "missing",
            "extra_forbidden": "unknown field (check the spelling)",
        }.get(item["type"], item["msg"].removeprefix("Value error, "))
        problems.append(f"{format_location(location) or '(top level)'}: {message}")
    return problems


def read_json(path: Path, what: str, hint: str) -> object:
    """Parse a JSON file, turning a missing file or a syntax error into a `ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [f"{what} not found; {hint}"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read {what}: {exc.strerror}"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"line {exc.lineno} column {exc.colno}: {exc.msg} (not valid JSON)"
        raise ConfigError(str(path), [problem]) from None


def load_app_config(path: Path, *, missing_ok: bool = False) -> AppConfig:
    """Read and validate `app_config.json`; defaults when it is absent and `missing_ok`."""
    if missing_ok and not path.exists():
        return AppConfig()
    data = read_json(path, "app config", "copy config/app_config.example.json there and edit it")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), describe_errors(exc)) from None
