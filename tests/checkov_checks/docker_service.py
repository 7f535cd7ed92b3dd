"""checkov checks for docker_service and docker_secret resources (kreuzwerker/docker)."""

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _first(value):
    return value[0] if isinstance(value, list) and value else value


class ServiceHasLimits(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every Swarm service has memory and CPU limits",
            id="CKV_SPROCKET_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["docker_service"],
        )

    def scan_resource_conf(self, conf):
        task = _first(conf.get("task_spec")) or {}
        resources = _first(task.get("resources")) or {}
        limits = _first(resources.get("limits")) or {}
        if _first(limits.get("memory_bytes")) and _first(limits.get("nano_cpus")):
            return CheckResult.PASSED
        return CheckResult.FAILED


class ServiceRollsBack(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure a failed Swarm service update rolls back",
            id="CKV_SPROCKET_2",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["docker_service"],
        )

    def scan_resource_conf(self, conf):
        update = _first(conf.get("update_config")) or {}
        if _first(update.get("failure_action")) == "rollback" and conf.get("rollback_config"):
            return CheckResult.PASSED
        return CheckResult.FAILED


class SecretIsAnExpression(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Swarm secret data is a Terraform expression, never a literal",
            id="CKV_SPROCKET_3",
            categories=[CheckCategories.SECRETS],
            supported_resources=["docker_secret"],
        )

    def scan_resource_conf(self, conf):
        data = str(_first(conf.get("data")) or "")
        return CheckResult.PASSED if data.startswith("${") else CheckResult.FAILED


check_limits = ServiceHasLimits()
check_rollback = ServiceRollsBack()
check_secret = SecretIsAnExpression()
