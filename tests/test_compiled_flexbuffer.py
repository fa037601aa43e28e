"""The bounds-checked FlexBuffer reader against the reference encoder, and on damaged bytes."""

import pytest
from flatbuffers import flexbuffers
from hypothesis import given, settings
from hypothesis import strategies as st

from tpulens.analyzer.flexbuffer import FlexBufferError, loads


def _plain(value):
    """memoryview → bytes so decoded values compare with what was encoded."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _edgetpu_like_options(package: bytes, chips=(18,)) -> bytes:
    """Options shaped like compiler 16's: version, package blob, preference, chips, extras."""
    fbb = flexbuffers.Builder()
    with fbb.Map():
        fbb.Key("1")
        fbb.Int(0)
        fbb.Key("4")
        fbb.Blob(package)
        fbb.Key("5")
        fbb.Int(-1)
        fbb.Key("6")
        fbb.TypedVectorFromElements(list(chips))
        fbb.Key("7")
        fbb.VectorFromElements([])
    return bytes(fbb.Finish())


def test_edge_tpu_option_map():
    package = b"\xc8\x0f\x00\x00DWN1" + bytes(range(200))
    assert _plain(loads(_edgetpu_like_options(package))) == {
        "1": 0, "4": package, "5": -1, "6": [18], "7": []}


def test_blob_is_a_view_not_a_copy():
    data = _edgetpu_like_options(b"x" * 100_000)
    assert isinstance(loads(memoryview(data))["4"], memoryview)


# None and floats beyond float32 range are left out: the reference encoder itself fails there.
json_values = st.recursive(
    st.booleans() | st.integers(-2**63, 2**63 - 1)
    | st.floats(-1e30, 1e30) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(alphabet="abcdefgh123", min_size=1, max_size=5), children,
                      max_size=5),
    max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_round_trip_against_the_reference_encoder(value):
    decoded = _plain(loads(flexbuffers.Dumps(value)))
    if isinstance(value, str):
        decoded = decoded.decode()
    assert _equal(decoded, value)


def _equal(decoded, value) -> bool:
    if isinstance(decoded, bytes) and isinstance(value, str):
        return decoded.decode() == value
    if isinstance(value, dict):
        return decoded.keys() == value.keys() and all(_equal(decoded[k], v)
                                                       for k, v in value.items())
    if isinstance(value, list):
        return len(decoded) == len(value) and all(map(_equal, decoded, value))
    return decoded == value


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x00\x00\x07", b"\xff\x24\x01"])
def test_short_or_nonsense_buffers_raise(data):
    with pytest.raises(FlexBufferError):
        loads(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_options_raise_flexbuffer_error_only(data):
    good = _edgetpu_like_options(bytes(range(64)))
    damaged = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(damaged) - 1))
        damaged[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(damaged)))
    try:
        loads(bytes(damaged[cut:]) if data.draw(st.booleans()) else bytes(damaged))
    except FlexBufferError:
        pass
