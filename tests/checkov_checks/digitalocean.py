"""checkov checks for the cluster stack's DigitalOcean resources."""

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _first(value):
    return value[0] if isinstance(value, list) and value else value


class InTheVpc(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Droplets and the database cluster are in the project's VPC",
            id="CKV_SPROCKET_4",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["digitalocean_droplet", "digitalocean_database_cluster"],
        )

    def scan_resource_conf(self, conf):
        network = _first(conf.get("vpc_uuid")) or _first(conf.get("private_network_uuid"))
        ok = str(network or "").startswith("${digitalocean_vpc.")
        return CheckResult.PASSED if ok else CheckResult.FAILED


class ProtectedFromDestroy(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure the database cluster, volume and DNS zone cannot be destroyed by a plan",
            id="CKV_SPROCKET_5",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=[
                "digitalocean_database_cluster",
                "digitalocean_volume",
                "digitalocean_domain",
            ],
        )

    def scan_resource_conf(self, conf):
        lifecycle = _first(conf.get("lifecycle")) or {}
        return (
            CheckResult.PASSED if _first(lifecycle.get("prevent_destroy")) else CheckResult.FAILED
        )


check_vpc = InTheVpc()
check_protected = ProtectedFromDestroy()
