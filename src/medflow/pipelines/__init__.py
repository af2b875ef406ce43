"""Pipelines: analyzers composed with the platform, each declared as a list of named steps."""

from __future__ import annotations

from medflow.platform.config import Settings
from medflow.platform.runner import Pipeline


def default_pipelines(settings: Settings) -> list[Pipeline]:
    """Every pipeline this installation can run, built for ``settings``.

    Heavy analyzers are imported lazily by their steps, so building the list is cheap.
    """
    from medflow.pipelines.dictation import build_pipeline as dictation
    from medflow.pipelines.dictation import settings_transcriber
    from medflow.pipelines.documents import build_pipeline as documents
    from medflow.pipelines.labs import build_pipeline as labs
    from medflow.pipelines.records import records_pipeline

    return [
        labs(),
        records_pipeline(),
        *imaging_from_settings(settings),
        documents(),
        dictation(settings_transcriber(settings)),
    ]


def imaging_from_settings(settings: Settings) -> tuple[Pipeline, Pipeline]:
    """The ``imaging`` (per instance) and ``imaging_study`` pipelines configured by settings."""
    from medflow.domain.imaging import DeidOptions
    from medflow.pipelines.imaging import ImagingConfig, deid_secret_from, imaging_pipelines
    from medflow.platform.config import signing_secret

    group = settings.imaging
    secret = (
        group.deid_secret.get_secret_value().encode()
        if group.deid_secret is not None
        else deid_secret_from(signing_secret(settings))
    )
    options = DeidOptions(
        shift_dates=group.shift_dates,
        retain_device_identity=group.retain_device_identity,
        retain_patient_characteristics=group.retain_patient_characteristics,
        burned_in_text=group.burned_in_text,
    )
    config = ImagingConfig(
        deid_secret=secret,
        provider_email=group.provider_email or "",
        quiet_s=group.quiet_s,
        deid_options=options,
        models_dir=group.models_dir,
    )
    return imaging_pipelines(config)
