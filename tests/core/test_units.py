"""Units and size parsing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wanka.errors import ConfigError
from wanka.units import MB, GiB, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8GiB", 8 * GiB),
        ("512MB", 512 * MB),
        ("1024", 1024),
        (4096, 4096),
        ("1.5e9", 1_500_000_000),
        ("2 kib", 2048),
    ],
)
def test_parse_size(text, expected):
    """Sizes accept plain bytes and SI/binary units."""
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["0", "-5", "8XB", "", "GiB", 0, -1])
def test_parse_size_rejects_bad_input(bad):
    """Zero, negative and unknown units are ConfigErrors."""
    with pytest.raises(ConfigError):
        parse_size(bad)


@given(st.integers(min_value=1, max_value=2**50))
def test_parse_size_round_trips_integers(n):
    """A plain integer byte count comes back unchanged."""
    assert parse_size(str(n)) == n
