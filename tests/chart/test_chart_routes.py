"""What routes outside traffic to the Service: the optional Ingress and Gateway API HTTPRoute,
and the Service's own annotations (an internal load balancer). Strict schema validation of
each ci/ values file is test_chart_render.py's; here, what the objects say and the refusals."""

from __future__ import annotations

from typing import Any

import chart_tools as ct
import helm_python
import pytest

BACKEND = {"service": {"name": ct.RELEASE, "port": {"name": "http"}}}


def values(name: str) -> dict[str, Any]:
    return ct.values_file(ct.CHART_DIR / "ci" / f"{name}-values.yaml")


def test_nothing_routes_from_outside_by_default(default: list[dict[str, Any]]) -> None:
    assert not ct.kinds(default, "Ingress") and not ct.kinds(default, "HTTPRoute")
    service = ct.one(default, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert "annotations" not in service["metadata"]


def test_ingress_routes_every_host_and_path_to_the_http_port() -> None:
    ingress = ct.one(ct.render(values("ingress")), "Ingress")

    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["metadata"]["namespace"] == ct.NAMESPACE
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/proxy-body-size": "4m"
    }
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "models-tls", "hosts": ["models.example.com"]}]
    assert ingress["spec"]["rules"] == [
        {
            "host": "models.example.com",
            "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]},
        },
        {
            "host": "infer.internal.example.com",
            "http": {
                "paths": [
                    {"path": "/v2", "pathType": "Prefix", "backend": BACKEND},
                    {"path": "/v1/predict", "pathType": "Exact", "backend": BACKEND},
                ]
            },
        },
    ]


def test_ingress_port_name_is_the_services() -> None:
    docs = ct.render(values("ingress"))
    ports = [p["name"] for p in ct.one(docs, "Service")["spec"]["ports"]]

    assert BACKEND["service"]["port"]["name"] in ports


def test_ingress_defaults_route_any_host_through_the_default_class() -> None:
    ingress = ct.one(ct.render({"ingress": {"enabled": True}}), "Ingress")

    assert "ingressClassName" not in ingress["spec"] and "tls" not in ingress["spec"]
    assert "annotations" not in ingress["metadata"]
    assert ingress["spec"]["rules"] == [
        {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]}}
    ]


def test_httproute_attaches_to_its_gateway_and_sends_to_the_service_port() -> None:
    route = ct.one(ct.render(values("httproute")), "HTTPRoute")

    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["namespace"] == ct.NAMESPACE
    assert route["metadata"]["annotations"] == {"example.com/owner": "ml-platform"}
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {"name": "public", "namespace": "gateway-system", "sectionName": "https"}
    ]
    assert spec["hostnames"] == ["models.example.com"]
    ((rule),) = spec["rules"]
    assert rule["backendRefs"] == [{"name": ct.RELEASE, "port": 80}]
    assert rule["matches"] == [
        {"path": {"type": "PathPrefix", "value": "/v2"}},
        {
            "path": {"type": "Exact", "value": "/v1/predict"},
            "method": "POST",
            "headers": [{"name": "x-tenant", "value": "ml"}],
        },
    ]


def test_httproute_defaults_send_every_path_to_the_service_port() -> None:
    docs = ct.render(
        {"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]}, "service": {"port": 8080}}
    )
    spec = ct.one(docs, "HTTPRoute")["spec"]

    assert "hostnames" not in spec
    assert spec["rules"] == [
        {
            "backendRefs": [{"name": ct.RELEASE, "port": 8080}],
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        }
    ]
    # No matches at all is the Gateway API's own default, the same PathPrefix /.
    bare = ct.render(
        {"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}], "matches": []}}
    )
    assert "matches" not in ct.one(bare, "HTTPRoute")["spec"]["rules"][0]


def test_service_annotations_make_an_internal_load_balancer() -> None:
    service = ct.one(ct.render(values("internal-lb")), "Service")

    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"
    }


def test_values_comment_names_the_eks_and_gke_annotations() -> None:
    text = (ct.CHART_DIR / "values.yaml").read_text()
    comment = text.split("# service.annotations -- ", 1)[1].split("annotations: {}", 1)[0]

    assert "service.beta.kubernetes.io/aws-load-balancer-scheme: internal" in comment
    assert "networking.gke.io/load-balancer-type: Internal" in comment.replace("\n  # ", " ")


def test_the_policy_admits_the_ingress_controller_listed_in_ingress_from() -> None:
    """The NetworkPolicy cannot know the controller's pods: ingressFrom names them (its
    namespace here), and the route's traffic then arrives from a listed peer."""
    docs = ct.render(values("networkpolicy"))
    (policy,) = [p for p in ct.kinds(docs, "NetworkPolicy") if p["metadata"]["name"] == ct.RELEASE]

    assert ct.kinds(docs, "Ingress")
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}
    } in policy["spec"]["ingress"][0]["from"]


REFUSED = [
    (
        {"httpRoute": {"enabled": True}},
        "httpRoute.parentRefs is required when httpRoute.enabled: name the Gateway",
    ),
    (
        {"ingress": {"enabled": True, "hosts": []}},
        "ingress.hosts: at least one rule when ingress.enabled",
    ),
    (
        {
            "ingress": {
                "enabled": True,
                "hosts": [
                    {"host": "a.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}
                ],
                "tls": [{"secretName": "t", "hosts": ["a.example.com", "b.example.com"]}],
            }
        },
        'ingress.tls[0].hosts: "b.example.com" is not one of ingress.hosts (a.example.com)',
    ),
    (
        {"ingress": {"hosts": [{"host": "a", "paths": [{"path": "/", "pathType": "prefix"}]}]}},
        "/ingress/hosts/0/paths/0/pathType",
    ),
    (
        {"ingress": {"hosts": [{"host": "a", "paths": [{"path": "v2", "pathType": "Prefix"}]}]}},
        "/ingress/hosts/0/paths/0/path",
    ),
    (
        {"ingress": {"hosts": [{"host": "A.example.com:443", "paths": []}]}},
        "/ingress/hosts/0",
    ),
    ({"ingress": {"hosts": [{"paths": [{"path": "/"}]}]}}, "missing property 'pathType'"),
    ({"ingress": {"tls": [{"secretName": "t"}]}}, "missing property 'hosts'"),
    ({"ingress": {"tlsSecret": "t"}}, "additional properties 'tlsSecret' not allowed"),
    ({"httpRoute": {"parentRefs": [{"namespace": "gw"}]}}, "missing property 'name'"),
    ({"httpRoute": {"parentRefs": [{"name": "gw", "port": 0}]}}, "/httpRoute/parentRefs/0/port"),
    ({"httpRoute": {"hostnames": ["https://a.example.com"]}}, "/httpRoute/hostnames/0"),
    ({"httpRoute": {"matches": [{"path": {"type": "Prefix", "value": "/"}}]}}, "/type"),
    ({"httpRoute": {"matches": [{"paths": []}]}}, "additional properties 'paths' not allowed"),
    ({"httpRoute": {"rules": []}}, "additional properties 'rules' not allowed"),
    ({"service": {"annotations": {"a": 1}}}, "/service/annotations/a"),
]


@pytest.mark.parametrize(("values", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_bad_route_values_are_refused_naming_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render(values)

    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("tls_host", "rule_host"),
    [("*.example.com", "a.example.com"), ("a.example.com", "*.example.com"), ("a.example.com", "")],
)
def test_tls_hosts_may_be_covered_by_a_wildcard_or_an_any_host_rule(
    tls_host: str, rule_host: str
) -> None:
    rule = {"host": rule_host, "paths": [{"path": "/", "pathType": "Prefix"}]}
    docs = ct.render(
        {"ingress": {"enabled": True, "hosts": [rule], "tls": [{"hosts": [tls_host]}]}}
    )

    assert ct.one(docs, "Ingress")["spec"]["tls"] == [{"hosts": [tls_host]}]


def test_a_wildcard_covers_one_label_only() -> None:
    rule = {"host": "a.b.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}
    with pytest.raises(helm_python.HelmError, match=r"is not one of ingress\.hosts"):
        ct.render(
            {"ingress": {"enabled": True, "hosts": [rule], "tls": [{"hosts": ["*.example.com"]}]}}
        )
