"""Traefik v3 configuration, rendered by pure functions from typed settings.

``render_static_config`` is Traefik's install-time configuration (entrypoints, the
Let's Encrypt resolver, the Swarm provider, the dashboard API); ``render_dynamic_config``
is the file-provider part that labels cannot express: TLS options and shared middlewares.
Both return YAML text with sorted keys, so the same settings always give the same bytes
(and the same content-hashed Swarm config name).

    static_yaml = render_static_config(TraefikSettings(acme_email="ops@example.com"))
    dynamic_yaml = render_dynamic_config(TraefikSettings())
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

# Middleware names the dynamic config defines, for routes to reference as "<name>@file".
HSTS_MIDDLEWARE = "hsts"
DASHBOARD_AUTH_MIDDLEWARE = "dashboard-auth"
# Admin UIs answer only the admin networks (ipAllowList on the client address: Traefik binds
# its ports in host mode, so the address is the client's own); 403 to every other address.
ADMIN_ALLOWLIST_MIDDLEWARE = "admin-allowlist"
# The allowlist when no admin network is configured: Traefik's own loopback, no client.
NOBODY = ("127.0.0.1/32",)
# Every public route: requests per client address limited, responses gzip-compressed.
RATE_LIMIT_MIDDLEWARE = "rate-limit"
COMPRESS_MIDDLEWARE = "compress"

# TLS 1.2 suites with forward secrecy and AEAD only (Mozilla "intermediate").
# TLS 1.3 suites are not configurable in Go and are all strong.
TLS12_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
)


# Backends that turn header names into variables (PHP, WSGI, CGI, ...) read X.Auth.User and
# X_Auth_User as X-Auth-User: drop such aliases so no client can spoof a header Traefik sets
# (GHSA-rf44-j88r-hh8c; the option defaults to keeping them).
HEADER_HYGIENE = {"aliasHeadersStrategy": "delete"}


@dataclass(frozen=True, kw_only=True)
class TraefikSettings:
    # Ports inside the container; the service publishes them as 80 and 443.
    web_port: int = 80
    websecure_port: int = 443
    # Port of the ping endpoint the healthcheck uses; not published.
    ping_port: int = 8082
    # Default: the Let's Encrypt account has no contact address.
    acme_email: str | None = None
    # Default: Let's Encrypt production. Point at the staging CA while experimenting.
    acme_ca_server: str | None = None
    cert_resolver: str = "letsencrypt"
    acme_storage: str = "/data/acme.json"
    # Docker API that Traefik's Swarm provider reads: the socket proxy, never the socket.
    swarm_endpoint: str = "tcp://socket-proxy:2375"
    # Network Traefik reaches services through, by Docker name.
    ingress_network: str = "traefik-ingress"
    dynamic_config_path: str = "/etc/traefik/dynamic.yml"
    # File holding htpasswd lines (bcrypt) for the dashboard; a Swarm secret.
    dashboard_users_file: str = "/run/secrets/traefik-dashboard-users"
    hsts_max_age_s: int = 31_536_000
    log_level: str = "INFO"
    # Networks (CIDR) the admin UIs answer. Default: none (NOBODY).
    admin_networks: tuple[str, ...] = ()
    # Requests per second each client address may make on average, and in a burst; beyond
    # them Traefik answers 429 (its rateLimit middleware, per source IP by default).
    rate_limit_average: int = 100
    rate_limit_burst: int = 200
    # Responses smaller than this are not compressed (Traefik's default is 1024 bytes).
    compress_min_bytes: int = 1024
    # Port of the Prometheus metrics endpoint; not published, read over the Swarm networks.
    metrics_port: int = 8083


def _dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def static_config(settings: TraefikSettings) -> dict:
    acme: dict = {
        "storage": settings.acme_storage,
        "httpChallenge": {"entryPoint": "web"},
    }
    if settings.acme_email:
        acme["email"] = settings.acme_email
    if settings.acme_ca_server:
        acme["caServer"] = settings.acme_ca_server
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": settings.log_level, "format": "json"},
        # Request headers are dropped from access logs: they may carry credentials.
        "accessLog": {"format": "json", "fields": {"headers": {"defaultMode": "drop"}}},
        # The dashboard is served only through an authenticated router, never api.insecure.
        "api": {"dashboard": True, "insecure": False},
        "ping": {"entryPoint": "ping"},
        "entryPoints": {
            "web": {
                "address": f":{settings.web_port}",
                "http": {
                    "redirections": {
                        "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}
                    },
                    **HEADER_HYGIENE,
                },
            },
            "websecure": {
                "address": f":{settings.websecure_port}",
                "http": {
                    "tls": {"certResolver": settings.cert_resolver},
                    # Rate limiting before compression: a refused request costs no gzip.
                    "middlewares": [
                        f"{HSTS_MIDDLEWARE}@file",
                        f"{RATE_LIMIT_MIDDLEWARE}@file",
                        f"{COMPRESS_MIDDLEWARE}@file",
                    ],
                    **HEADER_HYGIENE,
                },
            },
            "ping": {"address": f":{settings.ping_port}", "http": dict(HEADER_HYGIENE)},
            "metrics": {"address": f":{settings.metrics_port}", "http": dict(HEADER_HYGIENE)},
        },
        "metrics": {
            "prometheus": {
                "entryPoint": "metrics",
                "addEntryPointsLabels": True,
                "addRoutersLabels": True,
                "addServicesLabels": True,
            }
        },
        "certificatesResolvers": {settings.cert_resolver: {"acme": acme}},
        "providers": {
            "swarm": {
                "endpoint": settings.swarm_endpoint,
                "exposedByDefault": False,
                "network": settings.ingress_network,
                "watch": True,
            },
            "file": {"filename": settings.dynamic_config_path, "watch": False},
        },
    }


def dynamic_config(settings: TraefikSettings) -> dict:
    return {
        "tls": {
            "options": {
                # "default" applies to every TLS router that names no other options.
                "default": {
                    "minVersion": "VersionTLS12",
                    "cipherSuites": list(TLS12_CIPHER_SUITES),
                }
            }
        },
        "http": {
            "middlewares": {
                HSTS_MIDDLEWARE: {
                    "headers": {
                        "stsSeconds": settings.hsts_max_age_s,
                        "stsIncludeSubdomains": True,
                        "forceSTSHeader": True,
                        "contentTypeNosniff": True,
                    }
                },
                DASHBOARD_AUTH_MIDDLEWARE: {
                    "basicAuth": {"usersFile": settings.dashboard_users_file, "removeHeader": True}
                },
                ADMIN_ALLOWLIST_MIDDLEWARE: {
                    "ipAllowList": {"sourceRange": list(settings.admin_networks or NOBODY)}
                },
                RATE_LIMIT_MIDDLEWARE: {
                    "rateLimit": {
                        "average": settings.rate_limit_average,
                        "burst": settings.rate_limit_burst,
                        "period": "1s",
                    }
                },
                COMPRESS_MIDDLEWARE: {
                    "compress": {"minResponseBodyBytes": settings.compress_min_bytes}
                },
            }
        },
    }


def render_static_config(settings: TraefikSettings) -> str:
    return _dump(static_config(settings))


def render_dynamic_config(settings: TraefikSettings) -> str:
    return _dump(dynamic_config(settings))
