"""Reading metric names out of PromQL, the basis of the "no unknown metric" check."""

from __future__ import annotations

from dashboards.check import concrete, exposed_families, family, metric_names


def test_metric_names_skip_functions_labels_strings_and_durations():
    expr = (
        "histogram_quantile(0.95, sum by (service, le) (rate(http_client_request_duration_"
        'seconds_bucket{service="orders", error_type!=""}[$__rate_interval])))\n'
        '/ on (service) group_left sum(up{job="x"}) or vector(0) > 14.4 * 0.01'
    )
    assert metric_names(expr) == {"http_client_request_duration_seconds_bucket", "up"}
    assert metric_names('journey:sli_error:ratio_rate1h{journey="b"} > (6.0 * 0.01)') == {
        "journey:sli_error:ratio_rate1h"
    }


def test_a_misspelt_metric_is_reported():
    assert metric_names("sum(rate(http_server_request_duraton_seconds_count[5s]))") == {
        "http_server_request_duraton_seconds_count"
    }


def test_families_come_from_type_lines_even_before_a_sample():
    page = '# HELP x_total c\n# TYPE x_total counter\n# TYPE h histogram\nh_bucket{le="1"} 1\n'
    assert exposed_families(page) == {"x", "h"}
    assert family("h_bucket") == "h" and family("resilience_retries_total") == "resilience_retries"


def test_grafana_variables_are_filled_for_prometheus():
    assert (
        concrete('rate(x{service=~"$service"}[$__rate_interval])') == 'rate(x{service=~".+"}[5s])'
    )
