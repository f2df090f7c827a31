"""The vendor's OpenAPI document ships with the core package, unchanged."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from pathlib import Path

import pytest

from dumgum_async.testing._schema import load_spec

# SHA-256 of the vendor's openapi.yaml the models mirror; a new spec is a deliberate change.
_SPEC_SHA256 = "7126dd67fcff600ef004221a2a4f605f87ce505863312216036c53b15a5ee619"
# The vendor's copy, where the development machine keeps it.
_VENDOR_SPEC = Path(os.environ.get("DUMGUM_VENDOR_SPEC", "/work/shared/spec/openapi.yaml"))


def _shipped() -> bytes:
    return importlib.resources.files("dumgum_async").joinpath("openapi.yaml").read_bytes()


def test_the_shipped_spec_is_the_pinned_vendor_document() -> None:
    assert hashlib.sha256(_shipped()).hexdigest() == _SPEC_SHA256


@pytest.mark.skipif(not _VENDOR_SPEC.is_file(), reason="the vendor's copy is not on this machine")
def test_the_shipped_spec_is_byte_identical_to_the_vendors_copy() -> None:
    assert _shipped() == _VENDOR_SPEC.read_bytes()


def test_load_spec_reads_the_spec_shipped_with_the_core() -> None:
    assert "/cs/v1/content_creation/suggestion" in load_spec()["paths"]


def test_the_spec_has_a_single_copy_in_the_package() -> None:
    package = importlib.resources.files("dumgum_async")
    assert not package.joinpath("testing", "openapi.yaml").is_file()
