"""A command whose optional dependencies are missing says what to install, in one line."""

from __future__ import annotations

import importlib.metadata

import pytest

from tpulens import extras
from tpulens.errors import InputError


def test_the_runners_need_tf_keras_installed_beside_the_extra(monkeypatch):
    real = importlib.metadata.version

    def version(name):
        if name == "tf_keras":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    extras.require("runners")  # the development install has everything
    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(InputError, match=r"^needs tf_keras beside the \[runners\] extra: "
                                         r"pip install --no-deps tf_keras==2\.21\.0$"):
        extras.require("runners")
    extras.require("report")  # other extras do not need it
