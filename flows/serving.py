"""`zoom-publisher serve`: the deployments of prefect.yaml, run by this one process.

prefect.yaml stays the one source of names, schedules and parameters: each deployment there
becomes `Flow.to_deployment(...)` and `prefect.serve` runs them all, no work pool needed.
"""

from __future__ import annotations

import importlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError

PROJECT_FILE = Path(__file__).resolve().parents[1] / "prefect.yaml"

# Deployment keys that serving applies; `work_pool` is not needed; others are refused by name.
APPLIED = frozenset(
    {
        "name",
        "description",
        "entrypoint",
        "tags",
        "parameters",
        "schedules",
        "concurrency_limit",
        "paused",
        "version",
        "enforce_parameter_schema",
        "work_pool",
    }
)


def read_deployments(path: Path) -> list[dict[str, Any]]:
    """The `deployments` of a prefect.yaml, each checked for what serving can apply."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"is not YAML: {exc}"]) from None
    deployments = spec.get("deployments") if isinstance(spec, dict) else None
    if not isinstance(deployments, list) or not deployments:
        raise ConfigError(str(path), ["deployments: none defined"])
    problems = []
    for index, entry in enumerate(deployments):
        where = f"deployments[{index}]"
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("entrypoint"):
            problems.append(f"{where}: needs a name and an entrypoint")
            continue
        for key in sorted(set(entry) - APPLIED):
            problems.append(f"{where} ({entry['name']}): `{key}` is not applied by serve")
    if problems:
        raise ConfigError(str(path), problems)
    return deployments


def load_flow(entrypoint: str) -> Any:
    """The flow of `flows/pipeline.py:full_pipeline_flow`, imported as the installed module
    (`flows.pipeline`), so that it is the same module every other import of it gets."""
    file_part, _, attribute = entrypoint.partition(":")
    module = file_part.removesuffix(".py").replace("/", ".")
    return getattr(importlib.import_module(module), attribute)


def schedule(item: dict[str, Any]) -> Any:
    """One prefect.yaml schedule (cron, interval or rrule, with its options)."""
    from prefect.schedules import Schedule

    options = dict(item)
    if isinstance(options.get("interval"), int | float):
        options["interval"] = timedelta(seconds=options["interval"])
    return Schedule(**options)


def deployment_env(entry: dict[str, Any]) -> dict[str, str]:
    """The environment prefect.yaml gives a deployment's runs (`work_pool.job_variables.env`)."""
    variables = (entry.get("work_pool") or {}).get("job_variables") or {}
    return {str(k): str(v) for k, v in (variables.get("env") or {}).items()}


def runner_deployments(path: Path) -> list[Any]:
    """Every deployment of `path` as a `RunnerDeployment` of the served flow."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.types.entrypoint import EntrypointType

    served = []
    for entry in read_deployments(path):
        limit = entry.get("concurrency_limit")
        if isinstance(limit, dict):
            limit = ConcurrencyLimitConfig.model_validate(limit)
        try:
            schedules = [schedule(item) for item in entry.get("schedules") or []]
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(path), [f"{entry['name']}: schedules: {exc}"]) from None
        served.append(
            load_flow(entry["entrypoint"]).to_deployment(
                name=entry["name"],
                description=entry.get("description"),
                tags=entry.get("tags"),
                parameters=entry.get("parameters"),
                schedules=schedules,
                concurrency_limit=limit,
                paused=entry.get("paused"),
                version=entry.get("version"),
                enforce_parameter_schema=entry.get("enforce_parameter_schema", True),
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return served


def serve_project(path: Path) -> None:
    """Serve every deployment of `path` until SIGTERM or Ctrl-C.

    Runs started from the UI, `prefect deployment run` or a schedule execute here, each in its
    own subprocess. On shutdown the runs in progress are cancelled (their recordings are given
    back at once) and the deployments paused, so nothing is scheduled for a process that is
    gone; serving again resumes them.
    """
    from prefect import serve

    for entry in read_deployments(path):
        for key, value in deployment_env(entry).items():
            os.environ.setdefault(key, value)
    serve(*runner_deployments(path))
