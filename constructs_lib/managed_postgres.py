"""A database and its own login on the DigitalOcean managed PostgreSQL cluster.

Reads the cluster by name and creates one ``digitalocean_database_db`` and one
``digitalocean_database_user`` of the same name; DigitalOcean generates the password.
Nothing here uses the cluster's admin user.

    grafana_db = ManagedPostgresDatabase(self, "grafana_db", ManagedPostgresDatabaseProps(
        cluster_name="sprocketbot-postgres-d5033d2", name="grafana"))
    grafana_db.password  # Terraform expression
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_digitalocean.data_digitalocean_database_ca import (
    DataDigitaloceanDatabaseCa,
)
from cdktf_cdktf_provider_digitalocean.data_digitalocean_database_cluster import (
    DataDigitaloceanDatabaseCluster,
)
from cdktf_cdktf_provider_digitalocean.database_db import DatabaseDb
from cdktf_cdktf_provider_digitalocean.database_user import DatabaseUser
from constructs import Construct

from constructs_lib.errors import raise_if

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class ManagedPostgresDatabaseProps:
    cluster_name: str
    # Database and user name. Both are ForceNew (digitalocean v2.71.0
    # database/resource_database_db.go:27-38, resource_database_user.go:31-42), and the
    # database's prevent_destroy refuses the replacement: a change stops the plan.
    name: str

    def __post_init__(self) -> None:
        problems = []
        if not _IDENTIFIER.match(self.name):
            problems.append(
                f"name={self.name!r}: must be a PostgreSQL identifier (lower-case, digits, '_')"
            )
        if self.name in ("postgres", "doadmin", "defaultdb"):
            problems.append(f"name={self.name!r}: is the cluster's own; pick a service name")
        raise_if("ManagedPostgresDatabase", problems)


class ManagedPostgresDatabase(Construct):
    def __init__(self, scope: Construct, id: str, props: ManagedPostgresDatabaseProps) -> None:
        super().__init__(scope, id)
        cluster = DataDigitaloceanDatabaseCluster(self, "Cluster", name=props.cluster_name)
        self._cluster_id: str = cluster.id
        keep = TerraformResourceLifecycle(prevent_destroy=True)
        self.database = DatabaseDb(
            self, "Default", cluster_id=cluster.id, name=props.name, lifecycle=keep
        )
        self.user = DatabaseUser(self, "User", cluster_id=cluster.id, name=props.name)
        self.name = props.name
        self.password: str = self.user.password

    def ca_certificate(self) -> str:
        """The cluster's CA certificate (PEM, public), for clients that verify the server."""
        return DataDigitaloceanDatabaseCa(self, "Ca", cluster_id=self._cluster_id).certificate
