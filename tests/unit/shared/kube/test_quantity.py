"""Quantities respelled the way a real API server stores them (observed on Kubernetes 1.25)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fleetsync.shared.kube.quantity import Rounding, stored_quantity

SERVER_ANSWERS: list[tuple[Any, str, str]] = [
    ("2000m", "2", "2"),
    ("1500m", "1500m", "1500m"),
    ("0.5", "500m", "500m"),
    ("1", "1", "1"),
    ("1000", "1k", "1k"),
    ("1e3", "1e3", "1e3"),
    ("1E3", "1E3", "1E3"),
    ("12e6", "12e6", "12e6"),
    ("1Gi", "1Gi", "1Gi"),
    ("1024Mi", "1Gi", "1Gi"),
    ("1.5Gi", "1536Mi", "1536Mi"),
    ("0.5Gi", "512Mi", "512Mi"),
    ("1000Ki", "1000Ki", "1000Ki"),
    ("1Ki", "1Ki", "1Ki"),
    ("512", "512", "512"),
    ("0.3Ki", "307200m", "307200m"),
    ("1.5Ki", "1536", "1536"),
    ("100m", "100m", "100m"),
    ("0.1", "100m", "100m"),
    ("0.0000000001", "1m", "1n"),
    ("1n", "1m", "1n"),
    ("1u", "1m", "1u"),
    ("1000000u", "1", "1"),
    ("1.000", "1", "1"),
    ("01", "01", "01"),
    ("0", "0", "0"),
    ("000", "0", "0"),
    ("-0", "0", "0"),
    ("+00", "0", "0"),
    ("0m", "0", "0"),
    ("0Gi", "0", "0"),
    ("2k", "2k", "2k"),
    ("2000k", "2M", "2M"),
    ("1.5k", "1500", "1500"),
    ("1536Mi", "1536Mi", "1536Mi"),
    ("129e6", "129e6", "129e6"),
    ("129M", "129M", "129M"),
    ("1e-5", "1e-3", "10e-6"),
    ("0.001", "1m", "1m"),
    ("10e2", "1e3", "1e3"),
    ("5E", "5E", "5E"),
    ("8Ei", "9223372036854775807", "9223372036854775807"),
    ("1e18", "1e18", "1e18"),
    ("1e19", "10e18", "10e18"),
    ("100Gi", "100Gi", "100Gi"),
    ("1025", "1025", "1025"),
    ("1024", "1024", "1024"),
    ("2048Ki", "2Mi", "2Mi"),
    ("3072Ki", "3Mi", "3Mi"),
    ("1048576Ki", "1Gi", "1Gi"),
    ("3145728Ki", "3Gi", "3Gi"),
    ("1.0001Ki", "1024103m", "1024102400u"),
    ("0.0Ki", "0", "0"),
    ("+1m", "+1m", "+1m"),
    ("+100m", "+100m", "+100m"),
    (" 2000m ", "2", "2"),
    (" 1Gi ", "1Gi", "1Gi"),
    ("1.000m", "1m", "1m"),
    ("0.0010", "1m", "1m"),
    ("+1.5", "1500m", "1500m"),
    # A leading "+" survives only where the text is kept: at the edges of the int64 path.
    ("+12345678901Ki", "+12345678901Ki", "+12345678901Ki"),
    ("+123456789012Ki", "123456789012Ki", "123456789012Ki"),
    ("+12345678Mi", "+12345678Mi", "+12345678Mi"),
    ("+123456789Mi", "123456789Mi", "123456789Mi"),
    ("+123456789012345678", "+123456789012345678", "+123456789012345678"),
    ("+1234567890123456789", "1234567890123456789", "1234567890123456789"),
    ("+1n", "1m", "+1n"),
    ("+1.5n", "1m", "2n"),
    ("+0.000000001", "1m", "1n"),
    ("+1Ki", "+1Ki", "+1Ki"),
    ("+8Ki", "8Ki", "8Ki"),
    ("+1000", "1k", "1k"),
    ("+1.5k", "1500", "1500"),
    ("+1e3", "+1e3", "+1e3"),
    ("+12e-10", "1e-3", "2e-9"),
    ("0.1n", "1m", "1n"),
    ("1.5Ei", "1536Pi", "1536Pi"),
    ("0.5Ei", "512Pi", "512Pi"),
    ("1024Ei", "9223372036854775807", "9223372036854775807"),
    ("1000T", "1P", "1P"),
    ("2T", "2T", "2T"),
    ("1.5T", "1500G", "1500G"),
    ("1000P", "1E", "1E"),
    ("1.5P", "1500T", "1500T"),
    ("1024Ti", "1Pi", "1Pi"),
    ("0.5Ti", "512Gi", "512Gi"),
    ("1.5Pi", "1536Ti", "1536Ti"),
    ("1.0Ki", "1Ki", "1Ki"),
    ("2.0Mi", "2Mi", "2Mi"),
    ("+16Ki", "16Ki", "16Ki"),
    ("+1024Ki", "1Mi", "1Mi"),
    (".5", "500m", "500m"),
    ("5.", "5.", "5."),
    ("+1", "+1", "+1"),
    ("1.5e3", "1500", "1500"),
    ("12.3456789012345", "12346m", "12345678902n"),
    ("123456789012345678", "123456789012345678", "123456789012345678"),
    ("1.0000000001", "1001m", "1000000001n"),
    ("0.25Ki", "256", "256"),
    ("1023", "1023", "1023"),
    ("1536", "1536", "1536"),
    ("2Ti", "2Ti", "2Ti"),
    ("0.5Mi", "512Ki", "512Ki"),
    ("+1.5Gi", "1536Mi", "1536Mi"),
    ("007", "007", "007"),
    ("1.50", "1500m", "1500m"),
    ("250m", "250m", "250m"),
    ("1.25", "1250m", "1250m"),
    ("64Mi", "64Mi", "64Mi"),
    ("2.5G", "2500M", "2500M"),
    ("1E", "1E", "1E"),
    ("3e+2", "300", "300"),
    ("4e-9", "1e-3", "4e-9"),
    ("100n", "1m", "100n"),
    ("1500u", "2m", "1500u"),
    (2, "2", "2"),
    (0.5, "500m", "500m"),
    (1000, "1k", "1k"),
    (1.5, "1500m", "1500m"),
    (1000.0, "1k", "1k"),
    (10, "10", "10"),
    (0.001, "1m", "1m"),
    (1000000.0, "1M", "1M"),
    (2.5, "2500m", "2500m"),
]
"""(manifest value, stored in a ResourceList such as a container's requests, stored in a plain
quantity field such as an emptyDir's sizeLimit): every row read back from a real
kube-apiserver."""


@pytest.mark.parametrize(("value", "in_resource_list", "elsewhere"), SERVER_ANSWERS)
def test_quantities_are_spelled_as_a_real_api_server_stores_them(
    value: Any, in_resource_list: str, elsewhere: str
) -> None:
    assert stored_quantity(value, rounding=Rounding.MILLI) == in_resource_list
    assert stored_quantity(value, rounding=Rounding.NONE) == elsewhere


def test_where_rounding_is_not_known_only_values_it_leaves_alone_are_respelled() -> None:
    assert stored_quantity("2000m", rounding=Rounding.UNKNOWN) == "2"
    assert stored_quantity("1u", rounding=Rounding.UNKNOWN) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "1.2.3",
        "1Qi",
        "--1",
        "1e",
        "1e+-3",
        "X1",
        "1.0000000000000000001e300",
        True,
        None,
        [1],
    ],
)
def test_what_is_not_a_quantity_is_left_as_written(value: Any) -> None:
    assert stored_quantity(value) is None


NEGATIVE_ANSWERS = [
    ("-1Ki", "-1Ki", "-1Ki"),
    ("-1048576Ki", "-1Gi", "-1Gi"),
    ("-3145728Ki", "-3Gi", "-3Gi"),
    ("-1.5Gi", "-1536Mi", "-1536Mi"),
    ("-0.5", "-500m", "-500m"),
    ("-2000m", "-2", "-2"),
    ("-1000", "-1k", "-1k"),
    ("-1e-5", "-1e-3", "-10e-6"),
    ("-1u", "-1m", "-1u"),
    ("-1.5n", "-1m", "-2n"),
    ("-0.1n", "-1m", "-1n"),
    ("-8Ei", "-9223372036854775807", "-9223372036854775807"),
]
"""(manifest value, in a ResourceList, elsewhere) for negative values: a real kube-apiserver
refuses a negative container request, and its refusal names the value as it stored it (the
ResourceList column); the other column is the same rule without the rounding to a milli."""


@pytest.mark.parametrize(("value", "in_resource_list", "elsewhere"), NEGATIVE_ANSWERS)
def test_a_negative_quantity_keeps_its_sign_in_every_format(
    value: str, in_resource_list: str, elsewhere: str
) -> None:
    assert stored_quantity(value, rounding=Rounding.MILLI) == in_resource_list
    assert stored_quantity(value, rounding=Rounding.NONE) == elsewhere


@pytest.mark.parametrize(
    ("value", "in_resource_list", "elsewhere"),
    [
        (1e-6, "1m", "1u"),
        (-1e-6, "-1m", "-1u"),
        (1e20, "100E", "100E"),
        (0.0, "0", "0"),
        (-0.5, "-500m", "-500m"),
    ],
)
def test_a_yaml_number_within_go_s_plain_notation_is_respelled(
    value: float, in_resource_list: str, elsewhere: str
) -> None:
    """Go's JSON encoder writes a float from 1e-6 up to (not including) 1e21 without an
    exponent: those are parsed as that text."""
    assert stored_quantity(value, rounding=Rounding.MILLI) == in_resource_list
    assert stored_quantity(value, rounding=Rounding.NONE) == elsewhere


@pytest.mark.parametrize(
    "value", [1e21, 1.5e21, -1.5e21, 9e-7, -9e-7, math.inf, -math.inf, math.nan]
)
def test_a_yaml_number_go_writes_with_an_exponent_or_not_at_all_is_not_certain(
    value: float,
) -> None:
    assert stored_quantity(value, rounding=Rounding.MILLI) is None
    assert stored_quantity(value, rounding=Rounding.NONE) is None
